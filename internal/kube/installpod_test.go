package kube

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func testSpec() InstallSpec {
	return InstallSpec{
		Name:             "ingress-nginx",
		ReleaseNamespace: "ingress",
		Repository:       "https://kubernetes.github.io/ingress-nginx",
		Chart:            "ingress-nginx",
		Version:          "4.13.3",
		Values:           "controller:\n  replicaCount: 2\n",
		Timeout:          5 * time.Minute,
		Owner:            "clusterkit_managed_app.ingress",
		ClusterAdmin:     true,
		PodLabels:        map[string]string{"team": "platform"},
		PodAnnotations:   map[string]string{"example.com/note": "hello"},
	}
}

var nastyStrings = []string{
	"", "plain", "a b", "it's", `"double"`, `$(touch /tmp/pwned)`, "`id`", "${HOME}", "a\nb", `back\slash`,
	"*", "~", "-rf", "a;b|c&d>e<f", "'", "''", `'"'"'`, "tab\there", "ünïcødé ✓", "$'\\x41'", "!history",
}

func TestShellQuote_RoundTripsThroughSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh is required (POSIX shell on every supported machine): %v", err)
	}
	var script strings.Builder
	for _, s := range nastyStrings {
		script.WriteString("printf '%s\\0' " + ShellQuote(s) + "\n")
	}
	out, err := exec.Command(sh, "-ec", script.String()).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != len(nastyStrings) {
		t.Fatalf("got %d words, want %d: %q", len(got), len(nastyStrings), got)
	}
	for i, want := range nastyStrings {
		if got[i] != want {
			t.Errorf("ShellQuote(%q) came back as %q", want, got[i])
		}
	}
	if ShellQuote("simple-name_1.2/x:y") != "simple-name_1.2/x:y" {
		t.Error("safe words need no quotes")
	}
	if ShellQuote("it's") != `'it'"'"'s'` {
		t.Errorf("ShellQuote(it's) = %s", ShellQuote("it's"))
	}
}

func TestInstallPod_Spec(t *testing.T) {
	spec := testSpec()
	spec.SensitiveValues = "password: hunter2\n"
	pod := InstallPod(spec, ActionInstall)
	if pod.Name != "install-ingress-nginx" || pod.Namespace != DefaultInstallNamespace {
		t.Fatalf("pod %s/%s", pod.Namespace, pod.Name)
	}
	wantLabels := map[string]string{LabelManagedBy: "clusterkit", LabelApp: "ingress-nginx", LabelAction: "install", "team": "platform"}
	for k, v := range wantLabels {
		if pod.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, pod.Labels[k], v)
		}
	}
	if pod.Annotations[AnnotationOwner] != spec.Owner || pod.Annotations["example.com/note"] != "hello" {
		t.Errorf("annotations %v", pod.Annotations)
	}
	ps := pod.Spec
	if ps.RestartPolicy != corev1.RestartPolicyNever {
		t.Error("restartPolicy must be Never")
	}
	if ps.ActiveDeadlineSeconds == nil || *ps.ActiveDeadlineSeconds != int64((5*time.Minute+InstallDeadlineMargin).Seconds()) {
		t.Errorf("activeDeadlineSeconds = %v", ps.ActiveDeadlineSeconds)
	}
	if ps.ServiceAccountName != InstallerServiceAccountName(spec.Name) || ps.AutomountServiceAccountToken == nil || !*ps.AutomountServiceAccountToken {
		t.Error("the pod must run as the installer service account with its token mounted")
	}
	sc := ps.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Error("the pod must run as non-root")
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers", len(ps.Containers))
	}
	c := ps.Containers[0]
	if c.Image != DefaultInstallerImage || DefaultInstallerImage != "alpine/helm:3.19.0" {
		t.Errorf("image %q", c.Image)
	}
	if len(c.Command) != 3 || c.Command[0] != "/bin/sh" || c.Command[1] != "-ec" {
		t.Fatalf("command %q", c.Command)
	}
	script := c.Command[2]
	for _, want := range []string{
		"helm repo add --force-update clusterkit-ingress-nginx https://kubernetes.github.io/ingress-nginx\n",
		"helm repo update clusterkit-ingress-nginx\n",
		"helm upgrade --install ingress-nginx clusterkit-ingress-nginx/ingress-nginx --namespace ingress --create-namespace " +
			"--atomic --cleanup-on-fail --wait --timeout 300s --version 4.13.3 " +
			"-f /data/helm/ingress-nginx/config/values.yaml -f /data/helm/ingress-nginx/config/secret-values.yaml\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, "hunter2") {
		t.Fatal("sensitive values must never be in the pod spec")
	}
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem ||
		c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Error("container security context")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("resource requests are required")
	}
	var cfgMount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == "configuration-volume" {
			cfgMount = &c.VolumeMounts[i]
		}
	}
	if cfgMount == nil || cfgMount.MountPath != "/data/helm/ingress-nginx/config" || !cfgMount.ReadOnly {
		t.Fatalf("config mount %+v", cfgMount)
	}
	var proj *corev1.ProjectedVolumeSource
	for _, v := range ps.Volumes {
		if v.Name == "configuration-volume" {
			proj = v.Projected
		}
	}
	if proj == nil || len(proj.Sources) != 2 ||
		proj.Sources[0].ConfigMap == nil || proj.Sources[0].ConfigMap.Name != "values-content-configuration-ingress-nginx" ||
		proj.Sources[1].Secret == nil || proj.Sources[1].Secret.Name != "values-content-secret-ingress-nginx" {
		t.Fatalf("projected volume %+v", proj)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["CONFIG_DIR"] != "/data/helm/ingress-nginx/config" || env["RELEASE_NAMESPACE"] != "ingress" || env["HOME"] != "/tmp" {
		t.Errorf("env %v", env)
	}

	// Without sensitive values: one -f, no Secret source; without cluster-admin: no
	// --create-namespace (the installer may not create namespaces).
	spec = testSpec()
	spec.ClusterAdmin = false
	pod = InstallPod(spec, ActionInstall)
	script = pod.Spec.Containers[0].Command[2]
	if strings.Contains(script, "secret-values.yaml") || len(pod.Spec.Volumes[0].Projected.Sources) != 1 {
		t.Error("no secret without sensitive values")
	}
	if strings.Contains(script, "--create-namespace") {
		t.Error("--create-namespace needs cluster rights")
	}
	// User labels cannot replace clusterkit's.
	spec.PodLabels = map[string]string{LabelApp: "other"}
	if err := spec.WithDefaults().Validate(); err == nil {
		t.Error("a user label may not override clusterkit.dev/app")
	}
	if InstallPod(spec, ActionInstall).Labels[LabelApp] != "ingress-nginx" {
		t.Error("clusterkit's labels win")
	}
}

func TestInstallPod_Uninstall(t *testing.T) {
	spec := testSpec()
	spec.SensitiveValues = "a: b\n"
	pod := InstallPod(spec, ActionUninstall)
	if pod.Name != "uninstall-ingress-nginx" || pod.Labels[LabelAction] != "uninstall" {
		t.Fatalf("pod %s labels %v", pod.Name, pod.Labels)
	}
	script := pod.Spec.Containers[0].Command[2]
	if !strings.Contains(script, "helm uninstall ingress-nginx --namespace ingress --wait --timeout 300s") ||
		strings.Contains(script, "helm upgrade") || strings.Contains(script, "repo add") {
		t.Fatalf("uninstall script:\n%s", script)
	}
	src := pod.Spec.Volumes[0].Projected.Sources
	if len(src) != 1 || src[0].ConfigMap.Optional == nil || !*src[0].ConfigMap.Optional {
		t.Error("an uninstall must not need the values")
	}
}

// fakeHelm puts a "helm" on PATH that records its arguments (one per line, a blank line
// after each call) and fails with the given output and exit code for a given subcommand.
func runScriptWithFakeHelm(t *testing.T, script, failOn, failOutput string, failCode int) (calls [][]string, out string, code int) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh is required (POSIX shell on every supported machine): %v", err)
	}
	dir := t.TempDir()
	record := filepath.Join(dir, "calls")
	fake := `#!/bin/sh
for a in "$@"; do printf '%s\n' "$a" >> "$RECORD"; done
printf '\n' >> "$RECORD"
if [ "$1" = "$FAIL_ON" ]; then printf '%s\n' "$FAIL_OUTPUT" >&2; exit "$FAIL_CODE"; fi
echo "fake helm $1 ok"
`
	if err := os.WriteFile(filepath.Join(dir, "helm"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh, "-ec", script)
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "RECORD="+record,
		"FAIL_ON="+failOn, "FAIL_OUTPUT="+failOutput, "FAIL_CODE="+strconv.Itoa(failCode),
		"CONFIG_DIR=/cfg", "RELEASE_NAME=rel", "RELEASE_NAMESPACE=relns")
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(record)
	for _, call := range strings.Split(strings.TrimSuffix(string(raw), "\n\n"), "\n\n") {
		if call != "" {
			calls = append(calls, strings.Split(call, "\n"))
		}
	}
	return calls, string(b), code
}

func TestInstallScript_PassesNastyValuesVerbatim(t *testing.T) {
	spec := testSpec()
	spec.Repository = "https://charts.example.com/it's/$(id)/`x`"
	spec.Version = "1.2.3-rc.1+build.5"
	spec.PreInstall = []string{`echo "pre $RELEASE_NAME" > /dev/null`}
	spec.PostInstall = []string{"exit 0", `test "$CONFIG_DIR" = /cfg`}
	calls, out, code := runScriptWithFakeHelm(t, InstallScript(spec, ActionInstall), "", "", 0)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	want := [][]string{
		{"repo", "add", "--force-update", "clusterkit-ingress-nginx", spec.Repository},
		{"repo", "update", "clusterkit-ingress-nginx"},
		{"upgrade", "--install", "ingress-nginx", "clusterkit-ingress-nginx/ingress-nginx", "--namespace", "ingress",
			"--create-namespace", "--atomic", "--cleanup-on-fail", "--wait", "--timeout", "300s", "--version", spec.Version,
			"-f", "/data/helm/ingress-nginx/config/values.yaml"},
	}
	if len(calls) != len(want) {
		t.Fatalf("helm calls %q", calls)
	}
	for i := range want {
		if strings.Join(calls[i], "\x00") != strings.Join(want[i], "\x00") {
			t.Errorf("call %d = %q, want %q", i, calls[i], want[i])
		}
	}
	// "exit 0" in a step ends that step only, and later steps still run.
	if !strings.Contains(out, "post-install step 2/2") || !strings.Contains(out, "install of ingress-nginx finished") {
		t.Errorf("steps did not all run:\n%s", out)
	}

	// A failing helm fails the script with helm's exit code.
	_, _, code = runScriptWithFakeHelm(t, InstallScript(spec, ActionInstall), "upgrade", "Error: boom", 3)
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	// OCI charts skip the repository.
	spec.Repository = "oci://registry.example.com/charts"
	calls, _, _ = runScriptWithFakeHelm(t, InstallScript(spec, ActionInstall), "", "", 0)
	if len(calls) != 1 || calls[0][2] != "ingress-nginx" || calls[0][3] != "oci://registry.example.com/charts/ingress-nginx" {
		t.Errorf("oci calls %q", calls)
	}
}

func TestUninstallScript_ToleratesMissingRelease(t *testing.T) {
	spec := testSpec()
	script := InstallScript(spec, ActionUninstall)
	calls, out, code := runScriptWithFakeHelm(t, script, "uninstall", "Error: uninstall: Release not loaded: ingress-nginx: release: not found", 1)
	if code != 0 {
		t.Fatalf("a missing release is not an error, got exit %d:\n%s", code, out)
	}
	if len(calls) != 1 || strings.Join(calls[0], " ") != "uninstall ingress-nginx --namespace ingress --wait --timeout 300s" {
		t.Errorf("calls %q", calls)
	}
	_, out, code = runScriptWithFakeHelm(t, script, "uninstall", "Error: cluster unreachable", 7)
	if code != 7 || !strings.Contains(out, "cluster unreachable") {
		t.Errorf("other failures keep helm's exit code and output: %d\n%s", code, out)
	}
	_, _, code = runScriptWithFakeHelm(t, script, "", "", 0)
	if code != 0 {
		t.Error("uninstall should succeed")
	}
}

func TestInstallSpec_Validate(t *testing.T) {
	if err := testSpec().WithDefaults().Validate(); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	for name, mutate := range map[string]func(*InstallSpec){
		"upper name":        func(s *InstallSpec) { s.Name = "Ingress" },
		"long name":         func(s *InstallSpec) { s.Name = strings.Repeat("a", 54) },
		"name with quote":   func(s *InstallSpec) { s.Name = "a'b" },
		"bad namespace":     func(s *InstallSpec) { s.ReleaseNamespace = "a_b" },
		"http repo":         func(s *InstallSpec) { s.Repository = "http://charts.example.com" },
		"repo credentials":  func(s *InstallSpec) { s.Repository = "https://user:pw@charts.example.com" },
		"repo not url":      func(s *InstallSpec) { s.Repository = "charts.example.com" },
		"chart path":        func(s *InstallSpec) { s.Chart = "../x" },
		"chart injection":   func(s *InstallSpec) { s.Chart = "x; rm -rf /" },
		"unpinned":          func(s *InstallSpec) { s.Version = "" },
		"version range":     func(s *InstallSpec) { s.Version = ">=1.0" },
		"values not yaml":   func(s *InstallSpec) { s.Values = "a: [" },
		"values a list":     func(s *InstallSpec) { s.Values = "- a\n- b\n" },
		"secret not yaml":   func(s *InstallSpec) { s.SensitiveValues = "password: [hunter2" },
		"bad label":         func(s *InstallSpec) { s.PodLabels = map[string]string{"a b": "c"} },
		"bad label value":   func(s *InstallSpec) { s.PodLabels = map[string]string{"a": "c d"} },
		"owner annotation":  func(s *InstallSpec) { s.PodAnnotations = map[string]string{AnnotationOwner: "x"} },
		"extra values file": func(s *InstallSpec) { s.ExtraFiles = map[string]string{"values.yaml": "x"} },
		"extra file path":   func(s *InstallSpec) { s.ExtraFiles = map[string]string{"../x": "x"} },
		"huge timeout":      func(s *InstallSpec) { s.Timeout = 48 * time.Hour },
		"nul in step":       func(s *InstallSpec) { s.PostInstall = []string{"a\x00b"} },
	} {
		s := testSpec()
		mutate(&s)
		err := s.WithDefaults().Validate()
		if err == nil {
			t.Errorf("%s: expected a validation error", name)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error leaks sensitive values: %v", name, err)
		}
	}
	s := testSpec()
	s.Repository = "http://127.0.0.1:8879"
	s.AllowHTTPRepository = true
	if err := s.WithDefaults().Validate(); err != nil {
		t.Errorf("http allowed explicitly: %v", err)
	}
}

func TestInstallSpec_Defaults(t *testing.T) {
	s := InstallSpec{Name: "x"}.WithDefaults()
	if s.Namespace != "clusterkit-managed-apps" || s.ReleaseNamespace != s.Namespace || s.Image != DefaultInstallerImage ||
		s.ServiceAccount != "installer-x" || s.Timeout != DefaultInstallTimeout || s.Owner == "" {
		t.Fatalf("defaults %+v", s)
	}
}
