package provider

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// releaseStatuses lists helm's release records of a release as "v<revision>:<status>",
// from the records' labels, oldest first.
func releaseStatuses(cs kubernetes.Interface, ns, name string) ([]string, error) {
	list, err := cs.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=" + name})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range list.Items {
		out = append(out, "v"+s.Labels["version"]+":"+s.Labels["status"])
	}
	slices.Sort(out)
	return out, nil
}

// TestAccManagedApp_FaultInterruptedInstall: Ctrl-C (SIGINT to the OpenTofu CLI) while
// helm's first install of the release is pending. OpenTofu asks the provider to stop;
// the provider deletes the install pod, helm gets SIGTERM and rolls back, and the app is
// recorded failed (tainted). The first apply's pods never become ready (the stack's
// never-ready annotation), so helm is still waiting when the interrupt comes. The next
// apply, with ready pods, installs it: one release, revision 1 deployed, nothing pending,
// no pod left. It drives the real CLI with the provider as a
// plugin binary, as a user's terminal would.
func TestAccManagedApp_FaultInterruptedInstall(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	const name = "ck-fault-sigint"
	deleteNamespaceAtEnd(t, cs, name)
	pod := kube.InstallPodName(name, kube.ActionInstall)
	cfg, err := os.ReadFile("testdata/TestAccManagedApp_FaultInterruptedInstall/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	w := newTofuWorkdir(t, string(cfg), "TF_VAR_host="+s.Host, "TF_VAR_ca="+s.CAPEM, "TF_VAR_token="+s.Token, "TF_VAR_name="+name,
		"TF_VAR_chart_mirrors="+os.Getenv("CLUSTERKIT_TEST_CHART_MIRRORS"), "TF_VAR_chart_repo="+os.Getenv("CLUSTERKIT_TEST_CHART_REPO_URL"))
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			if _, err := w.run(context.Background(), "destroy", "-auto-approve"); err != nil {
				t.Errorf("destroy: %v", err)
			}
		}
	})

	start := time.Now()
	cmd, out, err := w.start("apply", "-auto-approve")
	if err != nil {
		t.Fatal(err)
	}
	// Interrupt once helm has written its pending-install record: the worst moment.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, _ := releaseStatuses(cs, name, name)
		if slices.Contains(st, "v1:pending-install") {
			break
		}
		if len(st) > 0 || time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("never saw the install pending (release records %v):\n%s", st, out)
		}
		time.Sleep(20 * time.Millisecond) // test bookkeeping: helm's records, read directly
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	interrupted := time.Now()
	err = cmd.Wait()
	stopped := time.Since(interrupted)
	t.Logf("OpenTofu exited %v %s after the interrupt:\n%s", err, stopped.Round(100*time.Millisecond), out)
	if err == nil {
		t.Fatal("the interrupted apply succeeded")
	}
	msg := strings.Join(strings.Fields(ansi.ReplaceAllString(out.String(), "")), " ")
	if !strings.Contains(msg, "was cancelled after") {
		t.Errorf("the error must say the install was cancelled (not that it timed out or failed): %s", msg)
	}
	res, ok := w.state(ctx, t)[managedAppAddr].(map[string]any)
	if !ok || res["status"] != statusFailed {
		t.Fatalf("state after the interrupt: %v, want the app recorded with status failed", res)
	}
	// The provider deleted the pod; helm, told to stop, rolled its first install back.
	if err := waitPodGone(cs, installNS, pod); err != nil {
		t.Fatalf("install pod %s still there after the interrupt: %v", pod, err)
	}
	after, err := releaseStatuses(cs, name, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("release records once the interrupted pod was gone: %v", after)

	if _, err := w.run(ctx, "apply", "-auto-approve", "-var", "never_ready=false"); err != nil {
		t.Logf("fault table | SIGINT during helm's pending install | install, then apply again | FAIL: %v | %s", err, time.Since(start).Round(100*time.Millisecond))
		t.Fatal(err)
	}
	res = w.state(ctx, t)[managedAppAddr].(map[string]any)
	var errs []string
	if res["status"] != "deployed" || fmt.Sprint(res["revision"]) != "1" {
		errs = append(errs, fmt.Sprintf("state after the second apply: status %v, revision %v; want deployed, 1", res["status"], res["revision"]))
	}
	if st, err := releaseStatuses(cs, name, name); err != nil || !slices.Equal(st, []string{"v1:deployed"}) {
		errs = append(errs, fmt.Sprintf("release records %v (%v), want exactly v1:deployed", st, err))
	}
	if err := expectRelease(cs, name, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
		errs = append(errs, err.Error())
	}
	if err := expectDeployment(cs, name, name+"-demo", 1, nil); err != nil {
		errs = append(errs, err.Error())
	}
	if _, err := cs.CoreV1().Pods(installNS).Get(ctx, pod, metav1.GetOptions{}); expectAbsent("install pod", err) != nil {
		errs = append(errs, "install pod left after the second apply")
	}
	outcome := "pass"
	if len(errs) > 0 {
		outcome = "FAIL: " + strings.Join(errs, "; ")
	}
	t.Logf("fault table | SIGINT during helm's pending install | install, then apply again | %s (stopped %s after SIGINT; records in between %v) | %s",
		outcome, stopped.Round(100*time.Millisecond), after, time.Since(start).Round(100*time.Millisecond))
	for _, e := range errs {
		t.Error(e)
	}

	if _, err := w.run(ctx, "destroy", "-auto-approve", "-var", "never_ready=false"); err != nil {
		t.Fatal(err)
	}
	destroyed = true
	if err := expectChartGone(cs, name, name); err != nil {
		t.Error(err)
	}
	if err := expectNoInstallObjects(cs, "managed_app/"+name+"/"+name, name); err != nil {
		t.Error(err)
	}
	_, err = cs.CoreV1().Pods(installNS).Get(ctx, kube.InstallPodName(name, kube.ActionUninstall), metav1.GetOptions{})
	if expectAbsent("uninstall pod", err) != nil {
		t.Error("uninstall pod left after destroy")
	}
}
