package provider

import (
	"bytes"
	"context"
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
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// Stuck releases (issue 14): helm is killed (SIGKILL) in the install pod, a real process of
// the stack's node agent, while its operation is pending, so helm's own record stays
// pending-install or pending-upgrade and every later helm call is refused with "another
// operation (install/upgrade/rollback) is in progress". The next apply recovers it, says so
// in a warning, and runs the planned operation. Each test runs with the default Helm 4
// installer image and with the Helm 3 one.

// stuckHelmImages are the installer images the stuck-release tests run with.
var stuckHelmImages = []struct{ name, image string }{{"helm4", kube.DefaultInstallerImage}, {"helm3", testenv.Helm3Image}}

// procArgs is /proc/<pid>/<file> split at NULs (cmdline, environ).
func procArgs(pid int, file string) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// procPids lists the pids in /proc.
func procPids() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// helmPids are the helm processes running `helm <verb>` for release name in the node
// agent's install pods: their command line is helm's and their environment has the pod's
// RELEASE_NAME.
func helmPids(name, verb string) []int {
	var out []int
	for _, pid := range procPids() {
		args := procArgs(pid, "cmdline")
		if len(args) < 2 || filepath.Base(args[0]) != "helm" || args[1] != verb {
			continue
		}
		if slices.Contains(procArgs(pid, "environ"), "RELEASE_NAME="+name) {
			out = append(out, pid)
		}
	}
	return out
}

// pluginPids are the provider plugin processes the CLI process parent started.
func pluginPids(parent int) []int {
	var out []int
	for _, pid := range procPids() {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || filepath.Base(exe) != "terraform-provider-clusterkit" {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err == nil && strings.Contains(string(status), fmt.Sprintf("\nPPid:\t%d\n", parent)) {
			out = append(out, pid)
		}
	}
	return out
}

// waitRecord waits until helm's records of the release include want ("v2:pending-upgrade").
func waitRecord(cs kubernetes.Interface, ns, name, want string) ([]string, error) {
	var st []string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) { // test bookkeeping: helm's records, read directly
		st, _ = releaseStatuses(cs, ns, name)
		if slices.Contains(st, want) {
			return st, nil
		}
	}
	return st, fmt.Errorf("helm's records of %s/%s never had %s (last seen %v)", ns, name, want, st)
}

// killHelmWhen waits for helm's record want, then kills (SIGKILL) the helm process running
// verb for the release, as a node that dies would.
func killHelmWhen(t *testing.T, cs kubernetes.Interface, ns, name, want, verb string) {
	t.Helper()
	if st, err := waitRecord(cs, ns, name, want); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("helm's records before the kill: %v", st)
	}
	var pids []int
	for deadline := time.Now().Add(30 * time.Second); len(pids) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pids = helmPids(name, verb)
	}
	if len(pids) != 1 {
		t.Fatalf("helm %s processes of release %s: %v, want one", verb, name, pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatalf("kill helm (pid %d): %v", pids[0], err)
	}
	t.Logf("killed helm %s of %s (pid %d)", verb, name, pids[0])
}

// flat is the CLI's output without colours and box drawing, on one line.
func flat(out []byte) string {
	return strings.Join(strings.Fields(ansi.ReplaceAllString(string(out), "")), " ")
}

func stuckWorkdir(t *testing.T, s testStack, name, image string) *tofuWorkdir {
	t.Helper()
	cfg, err := os.ReadFile("testdata/TestAccManagedApp_StuckRelease/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	w := newTofuWorkdir(t, string(cfg), "TF_VAR_host="+s.Host, "TF_VAR_ca="+s.CAPEM, "TF_VAR_token="+s.Token, "TF_VAR_name="+name,
		"TF_VAR_installer_image="+image, "TF_VAR_chart_mirrors="+os.Getenv("CLUSTERKIT_TEST_CHART_MIRRORS"),
		"TF_VAR_chart_repo="+os.Getenv("CLUSTERKIT_TEST_CHART_REPO_URL"))
	t.Cleanup(func() {
		if _, err := w.run(context.Background(), "destroy", "-auto-approve"); err != nil {
			t.Errorf("destroy: %v", err)
		}
		if err := expectChartGone(s.adminClientset(t), name, name); err != nil {
			t.Error(err)
		}
	})
	return w
}

// withVars runs the CLI with more variables (the last value of a variable wins).
func (w *tofuWorkdir) withVars(vars ...string) *tofuWorkdir {
	c := *w
	c.env = append(slices.Clip(w.env), vars...)
	return &c
}

// TestAccManagedApp_StuckRelease_PendingInstall: the first install's helm and the run that
// started it are lost together (helm, the CLI and the provider killed with SIGKILL, as when
// the runner shares the node that died), so no state records the app and helm's record
// stays pending-install. The next apply creates the app: its install pod is refused by
// helm, uninstalls the pending first install, installs again, and the apply warns what
// was done. The release ends deployed at revision 1 with its objects.
func TestAccManagedApp_StuckRelease_PendingInstall(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	for _, h := range stuckHelmImages {
		t.Run(h.name, func(t *testing.T) {
			ctx := context.Background()
			name := "ck-stuck-install-" + h.name
			deleteNamespaceAtEnd(t, cs, name)
			w := stuckWorkdir(t, s, name, h.image)
			pod := kube.InstallPodName(name, kube.ActionInstall)

			cmd, out, err := w.withVars("TF_VAR_never_ready=true").start("apply", "-auto-approve")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := waitRecord(cs, name, name, "v1:pending-install"); err != nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("%v\n%s", err, out)
			}
			// The run goes first, so nothing is left to record the failure or stop the pod.
			for _, pid := range pluginPids(cmd.Process.Pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			killHelmWhen(t, cs, name, name, "v1:pending-install", "upgrade")
			if phase, err := waitPodFinished(cs, pod); err != nil || phase != corev1.PodFailed {
				t.Fatalf("install pod after the kill: %s %v", phase, err)
			}
			if st, err := releaseStatuses(cs, name, name); err != nil || !slices.Equal(st, []string{"v1:pending-install"}) {
				t.Fatalf("helm's records after the kill: %v (%v), want v1:pending-install", st, err)
			}
			if res, ok := w.state(ctx, t)[managedAppAddr]; ok {
				t.Fatalf("the killed run recorded the app: %v", res)
			}

			start := time.Now()
			got, err := w.run(ctx, "apply", "-auto-approve")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("recovering apply took %s", time.Since(start).Round(100*time.Millisecond))
			msg := flat(got)
			for _, want := range []string{"Warning: Recovered a stuck helm release", "Release " + name + "/" + name + ": helm's release was left pending-install at revision 1 " +
				"(a first install stopped midway); it was uninstalled, then installed again."} {
				if !strings.Contains(msg, want) {
					t.Errorf("the apply must warn what it did (%q):\n%s", want, msg)
				}
			}
			res := w.state(ctx, t)[managedAppAddr].(map[string]any)
			if res["status"] != "deployed" || fmt.Sprint(res["revision"]) != "1" {
				t.Errorf("state: status %v, revision %v; want deployed, 1", res["status"], res["revision"])
			}
			if st, err := releaseStatuses(cs, name, name); err != nil || !slices.Equal(st, []string{"v1:deployed"}) {
				t.Errorf("helm's records %v (%v), want exactly v1:deployed", st, err)
			}
			if err := expectRelease(cs, name, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
				t.Error(err)
			}
			if err := expectDeployment(cs, name, name+"-demo", 1, nil); err != nil {
				t.Error(err)
			}
			if _, err := w.run(ctx, "plan", "-detailed-exitcode"); err != nil {
				t.Errorf("the plan after the recovery must be empty: %v", err)
			}
		})
	}
}

// TestAccManagedApp_StuckRelease_PendingUpgrade: helm is killed during an upgrade of the
// values, leaving revision 2 pending-upgrade (the apply fails, state keeps what runs). A
// plan with the configuration that is deployed is not a silent no-op: the refresh warns
// that the release is stuck and the plan shows an update. The next apply, an upgrade to
// the next chart version, rolls the release back to revision 1, the last deployed one,
// upgrades it, and warns what it did: helm's records end v1 superseded, v2 pending-upgrade (helm leaves
// it so), v3 the rollback (superseded), v4 the upgrade (deployed).
func TestAccManagedApp_StuckRelease_PendingUpgrade(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	for _, h := range stuckHelmImages {
		t.Run(h.name, func(t *testing.T) {
			ctx := context.Background()
			name := "ck-stuck-upgrade-" + h.name
			deleteNamespaceAtEnd(t, cs, name)
			w := stuckWorkdir(t, s, name, h.image)
			pod := kube.InstallPodName(name, kube.ActionInstall)
			if _, err := w.run(ctx, "apply", "-auto-approve"); err != nil {
				t.Fatal(err)
			}
			if err := expectRelease(cs, name, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
				t.Fatal(err)
			}

			// A values-only upgrade (same chart version), so that nothing but the stuck
			// release tells the next plan from the deployed configuration.
			cmd, out, err := w.withVars("TF_VAR_never_ready=true").start("apply", "-auto-approve")
			if err != nil {
				t.Fatal(err)
			}
			killHelmWhen(t, cs, name, name, "v2:pending-upgrade", "upgrade")
			err = cmd.Wait()
			msg := flat(out.Bytes())
			if err == nil || !strings.Contains(msg, "exit code 137") {
				t.Fatalf("the apply whose helm was killed: %v\n%s", err, msg)
			}
			if phase, err := waitPodFinished(cs, pod); err != nil || phase != corev1.PodFailed {
				t.Fatalf("upgrade pod after the kill: %s %v", phase, err)
			}
			if st, err := releaseStatuses(cs, name, name); err != nil || !slices.Equal(st, []string{"v1:deployed", "v2:pending-upgrade"}) {
				t.Fatalf("helm's records after the kill: %v (%v), want v1:deployed v2:pending-upgrade", st, err)
			}

			// The configuration that is deployed: the stuck release alone makes the plan an update.
			plan, err := w.run(ctx, "plan", "-detailed-exitcode", "-no-color")
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Errorf("plan of the deployed configuration over a stuck release: %v (want exit 2, changes)\n%s", err, plan)
			}
			pmsg := flat(plan)
			for _, want := range []string{
				"Warning: Stuck helm release",
				"helm's release " + name + "/" + name + " is pending-upgrade at revision 2, and no install or uninstall pod of this app is at work on it",
				"will be updated in-place", `~ status = "pending-upgrade" -> "deployed"`, "Plan: 0 to add, 1 to change, 0 to destroy.",
			} {
				if !strings.Contains(pmsg, want) {
					t.Errorf("the plan lacks %q:\n%s", want, plan)
				}
			}
			if bytes.Contains(plan, []byte("must be replaced")) {
				t.Errorf("a stuck release needs no replacement:\n%s", plan)
			}

			start := time.Now()
			got, err := w.withVars("TF_VAR_chart_version="+chartsrc.DemoUpgradeVersion).run(ctx, "apply", "-auto-approve")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("recovering apply took %s", time.Since(start).Round(100*time.Millisecond))
			for _, want := range []string{"Warning: Recovered a stuck helm release", "Release " + name + "/" + name + ": helm's release was left pending-upgrade at revision 2 " +
				"(an operation stopped midway); it was rolled back to revision 1, the last deployed one, then the planned operation ran."} {
				if msg := flat(got); !strings.Contains(msg, want) {
					t.Errorf("the apply must warn what it did (%q):\n%s", want, msg)
				}
			}
			if st, err := releaseStatuses(cs, name, name); err != nil ||
				!slices.Equal(st, []string{"v1:superseded", "v2:pending-upgrade", "v3:superseded", "v4:deployed"}) {
				t.Errorf("helm's records %v (%v), want v1:superseded v2:pending-upgrade v3:superseded (the rollback) v4:deployed (the upgrade)", st, err)
			}
			if err := expectRelease(cs, name, name, 4, kube.ReleaseDeployed, chartsrc.DemoUpgradeVersion); err != nil {
				t.Error(err)
			}
			res := w.state(ctx, t)[managedAppAddr].(map[string]any)
			if res["status"] != "deployed" || fmt.Sprint(res["revision"]) != "4" || res["chart_version"] != chartsrc.DemoUpgradeVersion {
				t.Errorf("state: status %v, revision %v, chart %v; want deployed, 4, %s", res["status"], res["revision"], res["chart_version"], chartsrc.DemoUpgradeVersion)
			}
			if err := expectDeployment(cs, name, name+"-demo", 1, nil); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestAccManagedApp_StuckRelease_PendingInstallTainted: only helm is killed in the first
// install, so the provider sees its pod fail: the create fails and the app is tainted.
// The next plan warns that the release is stuck and replaces the app (the taint); its
// destroy uninstalls the pending release, says so, and the new install deploys revision 1.
func TestAccManagedApp_StuckRelease_PendingInstallTainted(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	for _, h := range stuckHelmImages {
		t.Run(h.name, func(t *testing.T) {
			ctx := context.Background()
			name := "ck-stuck-taint-" + h.name
			deleteNamespaceAtEnd(t, cs, name)
			w := stuckWorkdir(t, s, name, h.image)
			cmd, out, err := w.withVars("TF_VAR_never_ready=true").start("apply", "-auto-approve")
			if err != nil {
				t.Fatal(err)
			}
			killHelmWhen(t, cs, name, name, "v1:pending-install", "upgrade")
			if err := cmd.Wait(); err == nil || !strings.Contains(flat(out.Bytes()), "exit code 137") {
				t.Fatalf("the apply whose helm was killed: %v\n%s", err, flat(out.Bytes()))
			}
			if st, err := releaseStatuses(cs, name, name); err != nil || !slices.Equal(st, []string{"v1:pending-install"}) {
				t.Fatalf("helm's records after the kill: %v (%v), want v1:pending-install", st, err)
			}
			if res := w.state(ctx, t)[managedAppAddr].(map[string]any); res["status"] != statusFailed {
				t.Fatalf("state after the kill: %v, want status failed", res)
			}

			got, err := w.run(ctx, "apply", "-auto-approve")
			if err != nil {
				t.Fatal(err)
			}
			msg := flat(got)
			for _, want := range []string{
				"must be replaced", "Warning: Stuck helm release", "Warning: Uninstalled a stuck helm release",
				"helm's release " + name + "/" + name + " was left pending-install at revision 1 (an operation stopped midway, e.g. its install pod killed or its node lost); the uninstall removed it all the same.",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("the apply lacks %q:\n%s", want, msg)
				}
			}
			if st, err := releaseStatuses(cs, name, name); err != nil || !slices.Equal(st, []string{"v1:deployed"}) {
				t.Errorf("helm's records %v (%v), want exactly v1:deployed", st, err)
			}
			if err := expectDeployment(cs, name, name+"-demo", 1, nil); err != nil {
				t.Error(err)
			}
		})
	}
}
