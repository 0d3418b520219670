package kube

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
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
	if c.Image != DefaultInstallerImage || DefaultInstallerImage != "alpine/helm:4.3.2" {
		t.Errorf("image %q", c.Image)
	}
	if len(c.Command) != 3 || c.Command[0] != "/bin/sh" || c.Command[1] != "-c" || c.Command[2] != installScript {
		t.Fatalf("the pod must run the embedded script unchanged, got command %q", c.Command[:min(2, len(c.Command))])
	}
	if strings.Contains(c.Command[2], "ingress-nginx") || strings.Contains(c.Command[2], "hunter2") {
		t.Fatal("no input may be written into the script")
	}
	if ps.TerminationGracePeriodSeconds == nil || *ps.TerminationGracePeriodSeconds != 120 {
		t.Errorf("terminationGracePeriodSeconds = %v, want 120 (helm's time to roll back)", ps.TerminationGracePeriodSeconds)
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
	wantEnv := map[string]string{
		"CLUSTERKIT_ACTION": "install", "CONFIG_DIR": "/data/helm/ingress-nginx/config", "RELEASE_NAME": "ingress-nginx",
		"RELEASE_NAMESPACE": "ingress", "CHART_REPOSITORY": "https://kubernetes.github.io/ingress-nginx", "CHART_NAME": "ingress-nginx",
		"CHART_VERSION": "4.13.3", "HELM_TIMEOUT": "300s", "CREATE_NAMESPACE": "true", "HOME": "/tmp",
	}
	for k, v := range wantEnv {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	for _, e := range c.Env {
		if strings.Contains(e.Value, "hunter2") {
			t.Fatalf("sensitive values must never be in the pod spec (env %s)", e.Name)
		}
	}

	// Without sensitive values: no Secret source; without cluster-admin: no
	// --create-namespace (the installer may not create namespaces).
	spec = testSpec()
	spec.ClusterAdmin = false
	pod = InstallPod(spec, ActionInstall)
	if len(pod.Spec.Volumes[0].Projected.Sources) != 1 {
		t.Error("no secret without sensitive values")
	}
	for _, e := range pod.Spec.Containers[0].Env {
		if e.Name == "CREATE_NAMESPACE" && e.Value != "false" {
			t.Error("--create-namespace needs cluster rights")
		}
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
	env := map[string]string{}
	for _, e := range pod.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["CLUSTERKIT_ACTION"] != "uninstall" || env["CHART_REPOSITORY"] != "" || env["RELEASE_NAME"] != "ingress-nginx" {
		t.Errorf("uninstall inputs %v", env)
	}
	src := pod.Spec.Volumes[0].Projected.Sources
	if len(src) != 1 || src[0].ConfigMap.Optional == nil || !*src[0].ConfigMap.Optional {
		t.Error("an uninstall must not need the values")
	}
}

// scriptRun is one run of the embedded install script with a recording "helm" on PATH.
type scriptRun struct {
	calls [][]string // helm's arguments, one slice per call (helm version excluded)
	// versions is how many times the script ran helm version.
	versions int
	stdin    string // what helm repo add / registry login read on standard input
	out      string
	code     int
}

// runInstallScript runs installpod.sh as the pod would, with the inputs the pod spec
// gives it, against a stand-in helm that records its arguments, reports helmVersion and
// exits with failCode (and failOutput on stderr) for the subcommand failOn (helmVersion
// "none": no helm at all, every call fails as sh fails a missing command). Real helm
// runs in the acceptance tests; this checks what the script passes to it.
func runInstallScript(t *testing.T, spec InstallSpec, action Action, helmVersion, failOn, failOutput string, failCode int, env ...string) scriptRun {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh is required (POSIX shell on every supported machine): %v", err)
	}
	dir := t.TempDir()
	record := filepath.Join(dir, "calls")
	recorder := `#!/bin/sh
if [ "$HELM_VERSION" = none ]; then echo "sh: helm: not found" >&2; exit 127; fi
if [ "$1" = version ]; then echo x >> "$RECORD.versions"; echo "$HELM_VERSION"; exit 0; fi
case "$1" in repo|registry) cat >> "$RECORD.stdin" ;; esac
for a in "$@"; do printf '%s\n' "$a" >> "$RECORD"; done
printf '\n' >> "$RECORD"
if [ "$1" = "$FAIL_ON" ]; then printf '%s\n' "$FAIL_OUTPUT" >&2; exit "$FAIL_CODE"; fi
if [ "$1" = get ] && [ -n "${GET_OUTPUT:-}" ]; then printf '%s\n' "$GET_OUTPUT"; fi
if [ "$1" = history ] && [ -n "${HISTORY_OUTPUT:-}" ]; then printf '%s\n' "$HISTORY_OUTPUT"; fi
if [ "$1" = pull ] && [ -n "${PULL_CHART:-}" ]; then mkdir -p "$PULL_CHART" && : >"$PULL_CHART/Chart.yaml"; fi
echo "helm $1 ok"
`
	if err := os.WriteFile(filepath.Join(dir, "helm"), []byte(recorder), 0o755); err != nil {
		t.Fatal(err)
	}
	spec = spec.WithDefaults()
	cfg := filepath.Join(dir, "config")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	files := configFiles(spec)
	for k, v := range secretData(spec) {
		files[k] = string(v)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(cfg, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(sh, "-c", installScript)
	cmd.Env = []string{"PATH=" + dir + ":" + os.Getenv("PATH"), "RECORD=" + record, "HELM_VERSION=" + helmVersion,
		"FAIL_ON=" + failOn, "FAIL_OUTPUT=" + failOutput, "FAIL_CODE=" + strconv.Itoa(failCode)}
	cmd.Env = append(cmd.Env, env...)
	for _, e := range installInputs(spec, action) {
		if e.Name == "CONFIG_DIR" {
			e.Value = cfg
		}
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	b, err := cmd.CombinedOutput()
	var r scriptRun
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	r.out = string(b)
	stdin, _ := os.ReadFile(record + ".stdin")
	r.stdin = string(stdin)
	versions, _ := os.ReadFile(record + ".versions")
	r.versions = strings.Count(string(versions), "x")
	raw, _ := os.ReadFile(record)
	for _, call := range strings.Split(strings.TrimSuffix(string(raw), "\n\n"), "\n\n") {
		if call != "" {
			r.calls = append(r.calls, strings.Split(call, "\n"))
		}
	}
	return r
}

func TestInstallScript_PassesInputsVerbatimForEachHelmMajor(t *testing.T) {
	spec := testSpec()
	spec.Repository = "https://charts.example.com/it's/$(id)/`x`"
	spec.Version = "1.2.3-rc.1+build.5"
	spec.SensitiveValues = "password: x\n"
	for _, tc := range []struct{ helm, rollback string }{{"v4.3.2", "--rollback-on-failure"}, {"v3.22.0", "--atomic"}} {
		r := runInstallScript(t, spec, ActionInstall, tc.helm, "", "", 0)
		if r.code != 0 {
			t.Fatalf("helm %s: exit %d:\n%s", tc.helm, r.code, r.out)
		}
		if len(r.calls) != 1 || len(r.calls[0]) < 4 {
			t.Fatalf("helm %s: calls %q", tc.helm, r.calls)
		}
		cfg := r.calls[0][len(r.calls[0])-4] // the first -f file
		want := []string{"upgrade", "--install", "ingress-nginx", "ingress-nginx", "--repo", spec.Repository,
			"--namespace", "ingress", "--version", spec.Version, tc.rollback, "--cleanup-on-fail", "--wait", "--timeout", "300s",
			"--history-max", "10", "-f", cfg, "-f", strings.TrimSuffix(cfg, ValuesFile) + SecretValuesFile, "--create-namespace"}
		if len(r.calls) != 1 || strings.Join(r.calls[0], "\x00") != strings.Join(want, "\x00") {
			t.Errorf("helm %s: calls\n%q\nwant\n%q", tc.helm, r.calls, want)
		}
		if !strings.HasSuffix(cfg, "/config/"+ValuesFile) || !strings.Contains(r.out, "clusterkit: helm "+tc.helm) {
			t.Errorf("helm %s: values file %q, output:\n%s", tc.helm, cfg, r.out)
		}
	}
	// OCI charts go by reference, without --repo.
	spec.Repository = "oci://registry.example.com/charts/"
	r := runInstallScript(t, spec, ActionInstall, "v4.3.2", "", "", 0)
	if len(r.calls) != 1 || r.calls[0][3] != "oci://registry.example.com/charts/ingress-nginx" || slices.Contains(r.calls[0], "--repo") {
		t.Errorf("oci calls %q", r.calls)
	}
	// An unknown helm major is refused before helm acts.
	r = runInstallScript(t, spec, ActionInstall, "v5.0.0", "", "", 0)
	if r.code != 2 || len(r.calls) != 0 || !strings.Contains(r.out, "helm v5.0.0 is not supported") {
		t.Errorf("helm v5: exit %d, calls %q:\n%s", r.code, r.calls, r.out)
	}
}

func TestInstallScript_RepositoryPasswordGoesToHelmsStandardInputOnly(t *testing.T) {
	spec := testSpec()
	spec.Repository = "https://charts.example.com/private"
	spec.RepositoryUsername, spec.RepositoryPassword = "ci-reader", "pa55-W0rd"
	pod := InstallPod(spec, ActionInstall)
	for _, e := range pod.Spec.Containers[0].Env {
		if strings.Contains(e.Value, spec.RepositoryPassword) {
			t.Fatalf("the password is in env %s", e.Name)
		}
	}
	if items := pod.Spec.Volumes[0].Projected.Sources[1].Secret.Items; len(items) != 1 || items[0].Key != RepositoryPasswordFile || *items[0].Mode != 0o440 {
		t.Fatalf("secret items %+v", items)
	}
	r := runInstallScript(t, spec, ActionInstall, "v4.3.2", "", "", 0)
	if r.code != 0 || len(r.calls) != 2 || r.stdin != spec.RepositoryPassword {
		t.Fatalf("exit %d, calls %q, stdin %q:\n%s", r.code, r.calls, r.stdin, r.out)
	}
	if got := strings.Join(r.calls[0], " "); got != "repo add clusterkit https://charts.example.com/private --username ci-reader --password-stdin" {
		t.Errorf("repo add: %s", got)
	}
	if r.calls[1][3] != "clusterkit/ingress-nginx" || slices.Contains(r.calls[1], "--repo") {
		t.Errorf("upgrade: %q", r.calls[1])
	}
	for _, call := range r.calls {
		if slices.Contains(call, spec.RepositoryPassword) {
			t.Fatalf("the password is on a command line: %q", call)
		}
	}
	// An OCI registry: helm registry login to its host, then the chart by reference.
	spec.Repository = "oci://registry.example.com:5000/charts"
	r = runInstallScript(t, spec, ActionInstall, "v3.22.0", "", "", 0)
	if r.code != 0 || len(r.calls) != 2 || r.stdin != spec.RepositoryPassword ||
		strings.Join(r.calls[0], " ") != "registry login registry.example.com:5000 --username ci-reader --password-stdin" ||
		r.calls[1][3] != "oci://registry.example.com:5000/charts/ingress-nginx" {
		t.Fatalf("oci: exit %d, calls %q, stdin %q", r.code, r.calls, r.stdin)
	}
	// A refused login fails the pod with helm's exit code and message.
	r = runInstallScript(t, spec, ActionInstall, "v4.3.2", "registry", "Error: login failed: 401 Unauthorized", 1)
	if r.code != 1 || !strings.Contains(r.out, "401 Unauthorized") || len(r.calls) != 1 {
		t.Errorf("refused login: exit %d, calls %q:\n%s", r.code, r.calls, r.out)
	}
	spec.RepositoryUsername = ""
	if err := spec.WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), "a repository password needs a repository username") {
		t.Errorf("a password without a username: %v", err)
	}
}

func TestInstallScript_StepsRunInOrderAndFailuresKeepHelmsExitCode(t *testing.T) {
	spec := testSpec()
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace")
	spec.PreInstall = []string{`echo "pre $RELEASE_NAME" >> ` + trace}
	spec.PostInstall = []string{"echo post1 >> " + trace + "\nexit 0\necho never >> " + trace, "echo post2 >> " + trace}
	r := runInstallScript(t, spec, ActionInstall, "v4.3.2", "", "", 0)
	got, _ := os.ReadFile(trace)
	if r.code != 0 || string(got) != "pre ingress-nginx\npost1\npost2\n" {
		t.Fatalf("exit %d, steps ran:\n%s\noutput:\n%s", r.code, got, r.out)
	}
	if !strings.Contains(r.out, "install of ingress-nginx finished") {
		t.Errorf("output:\n%s", r.out)
	}
	r = runInstallScript(t, spec, ActionInstall, "v4.3.2", "upgrade", "Error: UPGRADE FAILED: boom", 3)
	if r.code != 3 || !strings.Contains(r.out, "Error: UPGRADE FAILED: boom") {
		t.Errorf("a failing helm fails the pod with helm's exit code: %d\n%s", r.code, r.out)
	}
	spec.PostInstall = []string{"false"}
	r = runInstallScript(t, spec, ActionInstall, "v4.3.2", "", "", 0)
	if r.code != 1 || !strings.Contains(r.out, "post-install step step-post-install-01.sh failed") {
		t.Errorf("a failing step fails the pod: %d\n%s", r.code, r.out)
	}
}

// A deleted pod's shell gets SIGTERM; helm must get it too (and have time to roll back)
// rather than being killed with the shell.
func TestInstallScript_PassesSIGTERMOnToHelm(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh is required: %v", err)
	}
	dir := t.TempDir()
	helm := `#!/bin/sh
if [ "$1" = version ]; then echo v4.3.2; exit 0; fi
trap 'kill "$s"; echo "helm: rolling back"; echo rolled-back > "$MARK"; exit 1' TERM
echo "helm: started"
sleep 30 &
s=$!
: > "$MARK.started"
wait "$s"
`
	if err := os.WriteFile(filepath.Join(dir, "helm"), []byte(helm), 0o755); err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(dir, "mark")
	cmd := exec.Command(sh, "-c", installScript)
	cmd.Env = []string{"PATH=" + dir + ":" + os.Getenv("PATH"), "MARK=" + mark}
	for _, e := range installInputs(testSpec().WithDefaults(), ActionInstall) {
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	var out bytes.Buffer // written by exec's copying goroutine; read after Wait
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The stand-in helm says when it runs (and has its trap set) by creating a file.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(mark + ".started"); err == nil {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	got, _ := os.ReadFile(mark)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || string(got) != "rolled-back\n" {
		t.Fatalf("exit %v, helm's mark %q, output:\n%s", err, got, out.String())
	}
	if !strings.Contains(out.String(), "signal received: passing it on") || !strings.Contains(out.String(), "helm upgrade --install failed") {
		t.Errorf("output:\n%s", out.String())
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

// A release never goes into the install namespace: an installer's rights there would reach
// every app's values Secret and installer service account.
func TestInstallSpec_ReleaseNamespaceIsNeverTheInstallNamespace(t *testing.T) {
	for _, spec := range []InstallSpec{
		{Name: "web", ReleaseNamespace: DefaultInstallNamespace},
		{Name: "web", Namespace: "team-installs", ReleaseNamespace: "team-installs"},
	} {
		spec.Repository, spec.Chart, spec.Version = "https://charts.example.com", "demo", "1.0.0"
		err := spec.WithDefaults().Validate()
		if err == nil || !strings.Contains(err.Error(), "is the install namespace, which holds every app's values, credentials and installers") {
			t.Errorf("%s/%s: %v", spec.Namespace, spec.ReleaseNamespace, err)
		}
	}
	if err := CheckReleaseNamespace("web"); err != nil {
		t.Error(err)
	}
}

func TestInstallSpec_Defaults(t *testing.T) {
	s := InstallSpec{Name: "x"}.WithDefaults()
	if s.Namespace != "clusterkit-managed-apps" || s.ReleaseNamespace != "x" || s.Image != DefaultInstallerImage ||
		s.ServiceAccount != "installer-x" || s.Timeout != DefaultInstallTimeout || s.Owner == "" {
		t.Fatalf("defaults %+v", s)
	}
}

// Placement and policy: unset, the pod is what it always was; set, each lands in its pod
// field, on install and uninstall pods alike, and the security context stays the same.
func TestInstallPod_PlacementDefaultsUnchanged(t *testing.T) {
	ps := InstallPod(testSpec(), ActionInstall).Spec
	if ps.NodeSelector != nil || ps.Tolerations != nil || ps.Affinity != nil || ps.PriorityClassName != "" || ps.ImagePullSecrets != nil {
		t.Errorf("unset placement must leave the pod alone: selector %v, tolerations %v, affinity %v, priority class %q, pull secrets %v",
			ps.NodeSelector, ps.Tolerations, ps.Affinity, ps.PriorityClassName, ps.ImagePullSecrets)
	}
	res := ps.Containers[0].Resources
	if got := fmt.Sprint(res.Requests.Cpu(), res.Requests.Memory(), res.Limits.Memory(), len(res.Requests), len(res.Limits)); got != "100m 128Mi 1Gi 2 1" {
		t.Errorf("default resources: %s", got)
	}
}

func TestInstallPod_Placement(t *testing.T) {
	spec := testSpec()
	secs := int64(30)
	spec.NodeSelector = map[string]string{"node-role.example.com/installers": "true"}
	spec.Tolerations = []Toleration{
		{Key: "dedicated", Value: "installers", Effect: "NoSchedule"},
		{Key: "node.kubernetes.io/unreachable", Operator: TolerationExists, Effect: "NoExecute", Seconds: &secs},
	}
	spec.Affinity = "nodeAffinity:\n  requiredDuringSchedulingIgnoredDuringExecution:\n    nodeSelectorTerms:\n" +
		"    - matchExpressions:\n      - {key: kubernetes.io/arch, operator: In, values: [amd64, arm64]}\n"
	spec.PriorityClassName = "platform-critical"
	spec.Resources = Resources{Requests: map[string]string{"cpu": "250m"}, Limits: map[string]string{"cpu": "1", "memory": "512Mi"}}
	spec.ImagePullSecrets = []string{"mirror-pull", "backup-pull"}
	if err := spec.WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, action := range []Action{ActionInstall, ActionUninstall} {
		ps := InstallPod(spec, action).Spec
		if ps.NodeSelector["node-role.example.com/installers"] != "true" || len(ps.NodeSelector) != 1 {
			t.Errorf("%s: node selector %v", action, ps.NodeSelector)
		}
		want := []corev1.Toleration{
			{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "installers", Effect: corev1.TaintEffectNoSchedule},
			{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs},
		}
		if len(ps.Tolerations) != 2 || ps.Tolerations[0] != want[0] || ps.Tolerations[1].Key != want[1].Key || ps.Tolerations[1].Operator != want[1].Operator ||
			ps.Tolerations[1].TolerationSeconds == nil || *ps.Tolerations[1].TolerationSeconds != 30 || ps.Tolerations[1].TolerationSeconds == &secs {
			t.Errorf("%s: tolerations %+v", action, ps.Tolerations)
		}
		na := ps.Affinity
		if na == nil || na.NodeAffinity == nil || na.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil ||
			na.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values[1] != "arm64" {
			t.Errorf("%s: affinity %+v", action, na)
		}
		if ps.PriorityClassName != "platform-critical" {
			t.Errorf("%s: priority class %q", action, ps.PriorityClassName)
		}
		if len(ps.ImagePullSecrets) != 2 || ps.ImagePullSecrets[0].Name != "mirror-pull" || ps.ImagePullSecrets[1].Name != "backup-pull" {
			t.Errorf("%s: pull secrets %v", action, ps.ImagePullSecrets)
		}
		// The user's names replace the defaults of those names only.
		res := ps.Containers[0].Resources
		if got := fmt.Sprint(res.Requests.Cpu(), res.Requests.Memory(), res.Limits.Cpu(), res.Limits.Memory()); got != "250m 128Mi 1 512Mi" {
			t.Errorf("%s: resources %s", action, got)
		}
		// Pod Security "restricted" holds whatever is set.
		sc, csc := ps.SecurityContext, ps.Containers[0].SecurityContext
		if ps.HostNetwork || ps.HostPID || ps.HostIPC || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
			*csc.AllowPrivilegeEscalation || len(csc.Capabilities.Drop) != 1 || csc.Capabilities.Drop[0] != "ALL" || csc.Privileged != nil {
			t.Errorf("%s: the security context changed: %+v %+v", action, sc, csc)
		}
	}
}

func TestInstallSpec_PlacementValidation(t *testing.T) {
	neg, secs := int64(-1), int64(5)
	for _, tc := range []struct {
		name   string
		mutate func(*InstallSpec)
		want   string
	}{
		{"node selector key", func(s *InstallSpec) { s.NodeSelector = map[string]string{"a b": "x"} }, `node label key "a b" is invalid`},
		{"node selector value", func(s *InstallSpec) { s.NodeSelector = map[string]string{"pool": "a b"} }, `node label "pool" has an invalid value "a b"`},
		{"toleration operator", func(s *InstallSpec) { s.Tolerations = []Toleration{{Key: "a", Operator: "equal"}} }, `entry 0: operator "equal" must be "Equal" or "Exists"`},
		{"toleration empty key", func(s *InstallSpec) { s.Tolerations = []Toleration{{Key: "a"}, {Value: "x"}} }, `entry 1: an empty key (every taint) needs operator "Exists"`},
		{"toleration exists value", func(s *InstallSpec) { s.Tolerations = []Toleration{{Key: "a", Operator: "Exists", Value: "x"}} }, `leave value unset`},
		{"toleration effect", func(s *InstallSpec) { s.Tolerations = []Toleration{{Key: "a", Effect: "NoExec"}} }, `effect "NoExec" must be one of NoSchedule, PreferNoSchedule, NoExecute`},
		{"toleration seconds effect", func(s *InstallSpec) { s.Tolerations = []Toleration{{Key: "a", Effect: "NoSchedule", Seconds: &secs}} }, `toleration_seconds needs effect "NoExecute"`},
		{"toleration seconds negative", func(s *InstallSpec) { s.Tolerations = []Toleration{{Key: "a", Effect: "NoExecute", Seconds: &neg}} }, `must not be negative`},
		{"toleration key", func(s *InstallSpec) { s.Tolerations = []Toleration{{Key: "-a", Operator: "Exists"}} }, `key "-a" is not a taint key`},
		{"affinity syntax", func(s *InstallSpec) { s.Affinity = "nodeAffinity: [" }, `not valid YAML or JSON`},
		{"affinity list", func(s *InstallSpec) { s.Affinity = "- a" }, `not a mapping with nodeAffinity, podAffinity or podAntiAffinity`},
		{"affinity unknown field", func(s *InstallSpec) { s.Affinity = "nodeAfinity: {}" }, `unknown field "nodeAfinity"`},
		{"affinity nested unknown field", func(s *InstallSpec) {
			s.Affinity = `{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerm":[]}}}`
		}, `unknown field "nodeSelectorTerm"`},
		{"affinity wrong type", func(s *InstallSpec) {
			s.Affinity = "nodeAffinity:\n  requiredDuringSchedulingIgnoredDuringExecution:\n    nodeSelectorTerms: x\n"
		}, `field nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms must be a list, not a string`},
		{"affinity empty", func(s *InstallSpec) { s.Affinity = "{}" }, `sets none of nodeAffinity, podAffinity and podAntiAffinity`},
		{"affinity no terms", func(s *InstallSpec) {
			s.Affinity = "nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}}"
		}, `nodeSelectorTerms must have at least one term`},
		{"affinity operator", func(s *InstallSpec) {
			s.Affinity = "nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: in, values: [b]}]}]}}"
		}, `nodeSelectorTerms[0].matchExpressions[0].operator "in" must be one of In, NotIn, Exists, DoesNotExist, Gt, Lt`},
		{"affinity In without values", func(s *InstallSpec) {
			s.Affinity = "nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: In}]}]}}"
		}, `operator In needs values`},
		{"affinity weight", func(s *InstallSpec) {
			s.Affinity = "nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 0, preference: {}}]}"
		}, `preferredDuringSchedulingIgnoredDuringExecution[0].weight must be between 1 and 100`},
		{"pod anti-affinity topology", func(s *InstallSpec) {
			s.Affinity = "podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {matchLabels: {app: x}}}]}"
		}, `podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey "" is not a node label key`},
		{"priority class", func(s *InstallSpec) { s.PriorityClassName = "High_Priority" }, `"High_Priority" is not a PriorityClass name`},
		{"resource name", func(s *InstallSpec) { s.Resources = Resources{Limits: map[string]string{"gpu": "1"}} }, `limits: "gpu" is not one of cpu, memory, ephemeral-storage`},
		{"resource quantity", func(s *InstallSpec) { s.Resources = Resources{Requests: map[string]string{"memory": "lots"}} }, `requests.memory "lots" is not a quantity such as "256Mi" or "1Gi"`},
		{"resource zero", func(s *InstallSpec) { s.Resources = Resources{Limits: map[string]string{"cpu": "0"}} }, `limits.cpu "0" must be more than zero`},
		{"limit below the default request", func(s *InstallSpec) { s.Resources = Resources{Limits: map[string]string{"memory": "64Mi"}} },
			`the default requests.memory 128Mi is more than limits.memory 64Mi: set requests.memory too`},
		{"request above the default limit", func(s *InstallSpec) { s.Resources = Resources{Requests: map[string]string{"memory": "2Gi"}} },
			`requests.memory 2Gi is more than the default limits.memory 1Gi: set limits.memory too`},
		{"request above its limit", func(s *InstallSpec) {
			s.Resources = Resources{Requests: map[string]string{"cpu": "2"}, Limits: map[string]string{"cpu": "1"}}
		}, `requests.cpu 2 is more than limits.cpu 1`},
		{"pull secret name", func(s *InstallSpec) { s.ImagePullSecrets = []string{"ok", "Not OK"} }, `entry 1: "Not OK" is not a Secret name`},
		{"pull secret twice", func(s *InstallSpec) { s.ImagePullSecrets = []string{"a", "a"} }, `entry 1: "a" is listed twice`},
	} {
		s := testSpec()
		tc.mutate(&s)
		err := s.WithDefaults().Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
			continue
		}
		for _, w := range []string{"Go ", "struct", "unmarshal", "v1.", "[]"} {
			if w == "[]" && strings.Contains(tc.want, "[") {
				continue
			}
			if strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q holds %q", tc.name, err, w)
			}
		}
	}
	// The valid forms, including JSON and every operator the rules accept.
	for _, aff := range []string{
		`{"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":100,"podAffinityTerm":{"topologyKey":"kubernetes.io/hostname","labelSelector":{"matchExpressions":[{"key":"app","operator":"Exists"}]}}}]}}`,
		"nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: [node-1]}]}, {matchExpressions: [{key: cores, operator: Gt, values: ['4']}]}]}}",
	} {
		if err := CheckAffinity(aff); err != nil {
			t.Errorf("%s: %v", aff, err)
		}
	}
	if err := CheckTolerations([]Toleration{{Operator: "Exists"}, {Key: "a", Operator: "Equal"}, {Key: "b", Effect: "NoExecute", Seconds: &secs}}); err != nil {
		t.Error(err)
	}
	var entry *EntryError
	if err := CheckTolerations([]Toleration{{Key: "a"}, {Key: "b", Effect: "x"}}); !errors.As(err, &entry) || entry.Index != 1 {
		t.Errorf("the entry's index must be reported: %v", err)
	}
}
