package kube

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// helm's switches and several values documents: what the pod's environment says and what
// the script then passes to helm, for Helm 4 and Helm 3.

func envOf(spec InstallSpec, action Action) map[string]string {
	env := map[string]string{}
	for _, e := range InstallPod(spec, action).Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	return env
}

func TestInstallPod_HelmOptionsDefaultsInTheEnvironment(t *testing.T) {
	env := envOf(testSpec(), ActionInstall)
	want := map[string]string{"WAIT": "true", "WAIT_FOR_JOBS": "false", "ROLLBACK_ON_FAILURE": "true", "CLEANUP_ON_FAIL": "true",
		"SKIP_CRDS": "false", "HISTORY_MAX": "10", "TAKE_OWNERSHIP": "false", "DEPENDENCY_UPDATE": "false", "FORCE_CONFLICTS": "false", "VALUES_FILES": "0"}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("env %s = %q (set: %v), want %q", k, got, ok, v)
		}
	}
	// helm reads HELM_* variables of its own (HELM_MAX_HISTORY among them): none is ours.
	for k := range env {
		if strings.HasPrefix(k, "HELM_") && !slices.Contains([]string{"HELM_TIMEOUT", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"}, k) {
			t.Errorf("env %s would be read by helm itself", k)
		}
	}
	// An uninstall takes none of them: it always waits (the uninstall order relies on it).
	for k := range want {
		if _, ok := envOf(testSpec(), ActionUninstall)[k]; ok {
			t.Errorf("uninstall pod has %s", k)
		}
	}
}

func TestInstallScript_HelmOptionsForEachHelmMajor(t *testing.T) {
	no, zero, three := false, 0, 3
	spec := testSpec()
	spec.Helm = HelmOptions{Wait: nil, WaitForJobs: true, RollbackOnFailure: &no, CleanupOnFail: &no, SkipCRDs: true,
		HistoryMax: &three, TakeOwnership: true, DependencyUpdate: true}
	for _, tc := range []struct{ helm, failOn string }{{"v4.3.2", "get"}, {"v3.22.0", ""}} {
		// Helm 4 first asks how the release was applied; "get" fails: there is none yet.
		// dependency_update: helm updates only a chart directory, so the chart is pulled and
		// unpacked under $TMPDIR first (the fake helm's pull makes the directory).
		tmp := t.TempDir()
		chartDir := filepath.Join(tmp, "clusterkit-chart")
		r := runInstallScript(t, spec, ActionInstall, tc.helm, tc.failOn, "Error: release: not found", 1,
			"TMPDIR="+tmp, "PULL_CHART="+filepath.Join(chartDir, "ingress-nginx"))
		upgrade := r.calls[len(r.calls)-1]
		cfg := upgrade[len(upgrade)-2]
		ownership := []string{"--take-ownership"}
		pull := "pull ingress-nginx --repo " + spec.Repository + " --version " + spec.Version + " --untar --untardir " + chartDir
		if len(r.calls) < 2 || strings.Join(r.calls[0], " ") != pull {
			t.Errorf("helm %s: calls %q, want first %q", tc.helm, r.calls, pull)
		}
		if tc.helm == "v4.3.2" {
			ownership = []string{"--force-conflicts", "--take-ownership"}
			if len(r.calls) != 3 || strings.Join(r.calls[1], " ") != "get metadata ingress-nginx --namespace ingress -o json" {
				t.Errorf("helm 4: calls %q", r.calls)
			}
		} else if len(r.calls) != 2 {
			t.Errorf("helm 3: calls %q", r.calls)
		}
		want := slices.Concat([]string{"upgrade", "--install", "ingress-nginx", filepath.Join(chartDir, "ingress-nginx"),
			"--namespace", "ingress", "--version", spec.Version, "--wait", "--wait-for-jobs", "--timeout", "300s",
			"--history-max", "3", "--skip-crds"}, ownership, []string{"--dependency-update", "-f", cfg, "--create-namespace"})
		if r.code != 0 || strings.Join(upgrade, "\x00") != strings.Join(want, "\x00") || !strings.HasSuffix(cfg, "/config/"+ValuesFile) {
			t.Errorf("helm %s: exit %d, call\n%q\nwant\n%q\n%s", tc.helm, r.code, upgrade, want, r.out)
		}
	}
	// No wait, no rollback, unlimited history: none of the flags, and --history-max 0.
	spec.Helm = HelmOptions{Wait: &no, RollbackOnFailure: &no, CleanupOnFail: &no, HistoryMax: &zero}
	if err := spec.WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, helm := range []string{"v4.3.2", "v3.22.0"} {
		r := runInstallScript(t, spec, ActionInstall, helm, "", "", 0)
		call := strings.Join(r.calls[0], " ")
		if r.code != 0 || !strings.Contains(call, " --version 4.13.3 --timeout 300s --history-max 0 -f ") {
			t.Errorf("helm %s: exit %d, call %s", helm, r.code, call)
		}
		for _, flag := range []string{"--wait", "--atomic", "--rollback-on-failure", "--cleanup-on-fail", "--wait-for-jobs", "--skip-crds", "--take-ownership"} {
			if slices.Contains(r.calls[0], flag) {
				t.Errorf("helm %s: %s passed although off", helm, flag)
			}
		}
	}
}

// --take-ownership came with Helm 3.17: an older Helm 3 fails before helm acts, saying why.
func TestInstallScript_TakeOwnershipNeedsHelm317(t *testing.T) {
	spec := testSpec()
	spec.Helm.TakeOwnership = true
	r := runInstallScript(t, spec, ActionInstall, "v3.16.4", "", "", 0)
	if r.code != 2 || len(r.calls) != 0 || !strings.Contains(r.out, "take_ownership needs helm 3.17 or later (or Helm 4); this image has helm v3.16.4") {
		t.Errorf("exit %d, calls %q:\n%s", r.code, r.calls, r.out)
	}
	for _, helm := range []string{"v3.17.0", "v4.0.0"} {
		if r := runInstallScript(t, spec, ActionInstall, helm, "", "", 0); r.code != 0 || !slices.Contains(r.calls[len(r.calls)-1], "--take-ownership") {
			t.Errorf("helm %s: exit %d, calls %q", helm, r.code, r.calls)
		}
	}
}

// Helm 4 applies server-side: adopting needs --force-conflicts (fields kubectl set are
// another field manager's), except for a release applied client-side (installed by Helm
// 3), which refuses the flag.
func TestInstallScript_TakeOwnershipForcesConflictsOnServerSideReleases(t *testing.T) {
	spec := testSpec()
	spec.Helm.TakeOwnership = true
	for method, force := range map[string]bool{"ssa": true, "csa": false} {
		meta := `{"name":"ingress-nginx","chart":"ingress-nginx","version":"4.13.3","revision":2,"status":"deployed","applyMethod":"` + method + `"}`
		r := runInstallScript(t, spec, ActionInstall, "v4.3.2", "", "", 0, "GET_OUTPUT="+meta)
		upgrade := r.calls[len(r.calls)-1]
		if r.code != 0 || upgrade[0] != "upgrade" || slices.Contains(upgrade, "--force-conflicts") != force || !slices.Contains(upgrade, "--take-ownership") {
			t.Errorf("release applied with %s: exit %d, upgrade %q", method, r.code, upgrade)
		}
	}
	// A release of Helm 3 has no apply method in its metadata: client-side.
	r := runInstallScript(t, spec, ActionInstall, "v4.3.2", "", "", 0, `GET_OUTPUT={"name":"ingress-nginx","revision":1,"status":"deployed"}`)
	if slices.Contains(r.calls[len(r.calls)-1], "--force-conflicts") {
		t.Errorf("a Helm 3 release got --force-conflicts: %q", r.calls)
	}
	// Without take_ownership nothing is asked.
	spec.Helm.TakeOwnership = false
	if r := runInstallScript(t, spec, ActionInstall, "v4.3.2", "", "", 0); len(r.calls) != 1 || slices.Contains(r.calls[0], "--force-conflicts") {
		t.Errorf("without take_ownership: calls %q", r.calls)
	}
}

// The upgrade that sets back fields changed out of band: Helm 4 forces server-side apply
// conflicts (its release applied server-side, or none yet), without --take-ownership;
// Helm 3, and Helm 4 on a release applied client-side, get neither flag: their
// three-way merge sets the fields back, and Helm 4 would refuse --force-conflicts there.
func TestInstallScript_ForceConflictsForEachHelmMajor(t *testing.T) {
	spec := testSpec()
	spec.Helm.ForceConflicts = true
	if env := envOf(spec, ActionInstall); env["FORCE_CONFLICTS"] != "true" || env["TAKE_OWNERSHIP"] != "false" {
		t.Errorf("env FORCE_CONFLICTS %q, TAKE_OWNERSHIP %q", env["FORCE_CONFLICTS"], env["TAKE_OWNERSHIP"])
	}
	for _, tc := range []struct {
		name, helm, meta string
		force            bool
	}{
		{"Helm 4, applied server-side", "v4.3.2", `{"name":"ingress-nginx","revision":2,"status":"deployed","applyMethod":"ssa"}`, true},
		{"Helm 4, applied client-side", "v4.3.2", `{"name":"ingress-nginx","revision":2,"status":"deployed","applyMethod":"csa"}`, false},
		{"Helm 4, a Helm 3 release", "v4.3.2", `{"name":"ingress-nginx","revision":1,"status":"deployed"}`, false},
		{"Helm 3", "v3.22.0", "", false},
	} {
		r := runInstallScript(t, spec, ActionInstall, tc.helm, "", "", 0, "GET_OUTPUT="+tc.meta)
		upgrade := r.calls[len(r.calls)-1]
		asked := len(r.calls) == 2 && strings.Join(r.calls[0], " ") == "get metadata ingress-nginx --namespace ingress -o json"
		if r.code != 0 || upgrade[0] != "upgrade" || slices.Contains(upgrade, "--force-conflicts") != tc.force ||
			slices.Contains(upgrade, "--take-ownership") || asked != (tc.helm == "v4.3.2") {
			t.Errorf("%s: exit %d, calls %q\n%s", tc.name, r.code, r.calls, r.out)
		}
		if tc.force && !strings.Contains(r.out, "clusterkit: forcing server-side apply conflicts") {
			t.Errorf("%s: the log does not say it forces:\n%s", tc.name, r.out)
		}
	}
	// A first install (no release: helm get fails) forces too: nothing to conflict with
	// but objects adopted or left over.
	r := runInstallScript(t, spec, ActionInstall, "v4.3.2", "get", "Error: release: not found", 1)
	if upgrade := r.calls[len(r.calls)-1]; r.code != 0 || !slices.Contains(upgrade, "--force-conflicts") {
		t.Errorf("no release yet: exit %d, calls %q", r.code, r.calls)
	}
}

// A stuck release's rollback (the recovery before the upgrade runs again) forces
// conflicts exactly when the upgrade does, judged by how its target was applied (helm's
// rollback applies it that way): otherwise a field changed out of band stops it.
func TestInstallScript_RecoveryRollbackForcesConflictsAsTheUpgradeDoes(t *testing.T) {
	const history = `[{"revision":1,"updated":"2026-12-01T14:44:14.187155856Z","status":"deployed","chart":"ingress-nginx-4.13.3","description":"Install complete"},` +
		`{"revision":2,"status":"pending-upgrade","chart":"ingress-nginx-4.13.3","description":"Preparing upgrade"}]`
	const ssa, csa = `{"name":"ingress-nginx","revision":1,"status":"deployed","applyMethod":"ssa"}`, `{"name":"ingress-nginx","revision":1,"status":"deployed","applyMethod":"csa"}`
	for _, tc := range []struct {
		name, helm, meta string
		asked, force     bool
	}{
		{"Helm 4, applied server-side", "v4.3.2", ssa, true, true},
		{"Helm 4, applied client-side", "v4.3.2", csa, true, false},
		{"Helm 4, not asked", "v4.3.2", ssa, false, false},
		{"Helm 3", "v3.22.0", "", true, false},
	} {
		spec := testSpec()
		spec.Helm.ForceConflicts = tc.asked
		// Every upgrade is refused as helm refuses a pending release: the recovery runs,
		// then the upgrade fails again.
		r := runInstallScript(t, spec, ActionInstall, tc.helm, "upgrade", "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress", 1,
			"GET_OUTPUT="+tc.meta, "HISTORY_OUTPUT="+history)
		var verbs, gets []string
		var rollback []string
		for _, c := range r.calls {
			verbs = append(verbs, c[0])
			switch c[0] {
			case "get":
				gets = append(gets, strings.Join(c, " "))
			case "rollback":
				rollback = c
			}
		}
		wantRollback := []string{"rollback", "ingress-nginx", "1", "--namespace", "ingress", "--timeout", "300s"}
		var wantGets []string
		if tc.helm == "v4.3.2" && tc.asked {
			wantGets = []string{"get metadata ingress-nginx --namespace ingress -o json", "get metadata ingress-nginx --namespace ingress --revision 1 -o json"}
		}
		if tc.force {
			wantRollback = append(wantRollback, "--force-conflicts")
		}
		upgrades := 0
		for _, c := range r.calls {
			if c[0] == "upgrade" {
				upgrades++
				if slices.Contains(c, "--force-conflicts") != tc.force {
					t.Errorf("%s: upgrade %q", tc.name, c)
				}
			}
		}
		if r.code != 1 || upgrades != 2 || !slices.Equal(rollback, wantRollback) || !slices.Equal(gets, wantGets) ||
			!strings.Contains(r.out, "clusterkit: recovered: rolled back pending-upgrade revision 2 to revision 1") {
			t.Errorf("%s: exit %d, calls %q\nrollback %q, want %q\nget %q, want %q\n%s", tc.name, r.code, verbs, rollback, wantRollback, gets, wantGets, r.out)
		}
		if tc.force != strings.Contains(r.out, "clusterkit: forcing server-side apply conflicts in the rollback, as in the upgrade") {
			t.Errorf("%s: the log says whether the rollback forces:\n%s", tc.name, r.out)
		}
	}
}

// An uninstall runs helm uninstall alone, with the same flags for Helm 3 and 4: no helm
// version (a process of its own in every destroy) unless the uninstall fails.
func TestUninstallScript_IgnoresAMissingReleaseThroughHelm(t *testing.T) {
	spec := testSpec()
	for _, helm := range []string{"v3.22.0", "v4.3.2"} {
		r := runInstallScript(t, spec, ActionUninstall, helm, "", "", 0)
		if r.code != 0 || len(r.calls) != 1 || r.versions != 0 ||
			strings.Join(r.calls[0], " ") != "uninstall ingress-nginx --namespace ingress --ignore-not-found --wait --timeout 300s" {
			t.Errorf("helm %s: exit %d, calls %q, helm version run %d times", helm, r.code, r.calls, r.versions)
		}
	}
	// An install still asks, once.
	if r := runInstallScript(t, spec, ActionInstall, "v4.3.2", "", "", 0); r.code != 0 || r.versions != 1 {
		t.Errorf("install: exit %d, helm version run %d times", r.code, r.versions)
	}
	r := runInstallScript(t, spec, ActionUninstall, "v4.3.2", "uninstall", "Error: cluster unreachable", 7)
	if r.code != 7 || r.versions != 1 || !strings.Contains(r.out, "Error: cluster unreachable\nclusterkit: helm uninstall failed\n") {
		t.Errorf("failures keep helm's exit code and output: %d, helm version run %d times\n%s", r.code, r.versions, r.out)
	}
}

// An image without Helm 3 or 4 still fails its uninstall clearly: the failed uninstall
// asks helm which it is.
func TestUninstallScript_RefusesAnImageWithoutHelm3Or4(t *testing.T) {
	spec := testSpec()
	// Helm 2 has no uninstall command (it had delete, and Tiller).
	r := runInstallScript(t, spec, ActionUninstall, "v2.17.0", "uninstall", `Error: unknown command "uninstall" for "helm"`, 1)
	if r.code != 2 || !strings.Contains(r.out, "clusterkit: helm v2.17.0 is not supported: the install image needs Helm 3 or 4\n") {
		t.Errorf("helm 2: exit %d:\n%s", r.code, r.out)
	}
	r = runInstallScript(t, spec, ActionUninstall, "none", "", "", 0)
	if r.code != 127 || !strings.Contains(r.out, "clusterkit: helm does not run in this image\n") {
		t.Errorf("no helm: exit %d:\n%s", r.code, r.out)
	}
}

// Several values documents: values.yaml first, then values-1.yaml ... in order, then the
// sensitive values; helm merges them (the acceptance tests check the result).
func TestInstallScript_ValuesDocumentsInOrder(t *testing.T) {
	spec := testSpec()
	spec.Values = "a: 1\n"
	spec.MoreValues = []string{"b: 2\n", "a: 3\n"}
	spec.SensitiveValues = "password: hunter2\n"
	files := configFiles(spec.WithDefaults())
	if files[ValuesFile] != "a: 1\n" || files["values-1.yaml"] != "b: 2\n" || files["values-2.yaml"] != "a: 3\n" {
		t.Fatalf("config files %v", files)
	}
	if env := envOf(spec, ActionInstall); env["VALUES_FILES"] != "2" {
		t.Errorf("VALUES_FILES = %q", env["VALUES_FILES"])
	}
	r := runInstallScript(t, spec, ActionInstall, "v4.3.2", "", "", 0)
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.out)
	}
	var got []string
	for i, a := range r.calls[0] {
		if a == "-f" {
			f := r.calls[0][i+1]
			got = append(got, f[strings.LastIndex(f, "/")+1:])
		}
	}
	if want := []string{ValuesFile, "values-1.yaml", "values-2.yaml", SecretValuesFile}; !slices.Equal(got, want) {
		t.Errorf("-f files %v, want %v", got, want)
	}
}

func TestInstallSpec_HelmOptionsAndValuesValidation(t *testing.T) {
	no, minus := false, -1
	for name, tc := range map[string]struct {
		mutate func(*InstallSpec)
		want   string
	}{
		"no wait with rollback": {func(s *InstallSpec) { s.Helm.Wait = &no }, "wait = false needs atomic = false"},
		"jobs without wait": {func(s *InstallSpec) { s.Helm.Wait, s.Helm.RollbackOnFailure, s.Helm.WaitForJobs = &no, &no, true },
			"wait_for_jobs = true needs wait = true"},
		"negative history":      {func(s *InstallSpec) { s.Helm.HistoryMax = &minus }, "max_history -1 must be 0 (no limit) or more"},
		"second document":       {func(s *InstallSpec) { s.MoreValues = []string{"a: 1\n", "- x\n"} }, "values[2]: not a YAML mapping"},
		"extra file takes name": {func(s *InstallSpec) { s.ExtraFiles = map[string]string{"values-1.yaml": "x"} }, `extra file name "values-1.yaml"`},
	} {
		s := testSpec()
		tc.mutate(&s)
		if err := s.WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	d := HelmOptions{}.WithDefaults()
	if !*d.Wait || !*d.RollbackOnFailure || !*d.CleanupOnFail || *d.HistoryMax != DefaultHistoryMax || d.SkipCRDs || d.TakeOwnership || d.WaitForJobs || d.DependencyUpdate {
		t.Errorf("defaults %+v", d)
	}
}

func TestInstallFailedError_FieldConflict(t *testing.T) {
	for line, want := range map[string]bool{
		`Error: UPGRADE FAILED: failed to update Deployment "app-demo": Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas`:                      true,
		`Error: UPGRADE FAILED: an error occurred while rolling back the release. original upgrade error: Apply failed with 2 conflicts: conflicts with "kubectl-edit" using apps/v1:`: true,
		`Error: UPGRADE FAILED: Operation cannot be fulfilled on deployments.apps "app-demo": the object has been modified`:                                                            false,
		`Error: UPGRADE FAILED: context deadline exceeded`: false,
		``: false,
	} {
		if got := (&InstallFailedError{HelmError: line}).FieldConflict(); got != want {
			t.Errorf("%q: %v, want %v", line, got, want)
		}
	}
}
