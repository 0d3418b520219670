package kube

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// finishOnCreate makes created install pods end the way kwok's stages do: phase set at
// creation, so even the informer's first list sees it (no race with the fake watch).
func finishOnCreate(cs *fake.Clientset, phase corev1.PodPhase, exitCode int32, reason string) {
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.UID = types.UID("uid-" + p.Name + "-" + time.Now().Format("150405.000000000"))
		p.Status.Phase = phase
		if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "helm", State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Reason: reason, Message: "Error: secret helm output"},
			}}}
		}
		return false, nil, nil
	})
}

func podExists(t *testing.T, cs *fake.Clientset, ns, name string) bool {
	t.Helper()
	_, err := cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	return err == nil
}

func TestRunInstallPod_Succeeds(t *testing.T) {
	cs := fake.NewClientset()
	finishOnCreate(cs, corev1.PodSucceeded, 0, "Completed")
	c := NewClientForInterface(cs)
	res, err := c.RunInstallPod(context.Background(), testSpec(), ActionInstall, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pod != "install-ingress-nginx" || res.Namespace != DefaultInstallNamespace || res.Action != ActionInstall {
		t.Fatalf("result %+v", res)
	}
	// The create's answer says the pod finished (the fake sets the phase there): no read,
	// no list, no watch before the delete.
	if got := podVerbs(cs); got != "create,delete" {
		t.Errorf("pod calls %s", got)
	}
	if podExists(t, cs, res.Namespace, res.Pod) {
		t.Fatal("a succeeded pod is deleted")
	}
}

func podVerbs(cs *fake.Clientset) string {
	var verbs []string
	for _, a := range cs.Actions() {
		if a.GetResource().Resource == "pods" && a.GetSubresource() == "" {
			verbs = append(verbs, a.GetVerb())
		}
	}
	return strings.Join(verbs, ",")
}

// The pod finishes while watched; the first watch ends with 410 Gone (resourceVersion too
// old), so the wait lists again and then watches until the pod succeeds.
func TestRunInstallPod_WatchesAndRelistsAfterGone(t *testing.T) {
	cs := fake.NewClientset()
	finishOnCreate(cs, corev1.PodPending, 0, "")
	watches := 0
	var rvs []string
	cs.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		watches++
		rvs = append(rvs, a.(k8stesting.WatchActionImpl).WatchRestrictions.ResourceVersion)
		w := watch.NewFakeWithChanSize(4, false)
		pod, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), DefaultInstallNamespace, "install-ingress-nginx")
		if err != nil {
			t.Error(err)
			return true, w, nil
		}
		p := pod.(*corev1.Pod).DeepCopy()
		switch watches {
		case 1:
			p.Status.Phase = corev1.PodRunning
			w.Modify(p)
			w.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired})
		default:
			p.Status.Phase = corev1.PodSucceeded
			w.Modify(p)
		}
		return true, w, nil
	})
	c := NewClientForInterface(cs)
	if _, err := c.RunInstallPod(context.Background(), testSpec(), ActionInstall, nil); err != nil {
		t.Fatal(err)
	}
	// The fake's created pod has no resourceVersion, so the wait lists first.
	if got := podVerbs(cs); got != "create,list,watch,list,watch,delete" {
		t.Errorf("pod calls %s", got)
	}
	if len(rvs) != 2 {
		t.Fatalf("watches %d", watches)
	}
}

// A created pod with a resourceVersion (as a real API server answers) is watched from
// it at once: no list before the watch.
func TestRunInstallPod_WatchesFromTheCreatedVersion(t *testing.T) {
	cs := fake.NewClientset()
	finishOnCreate(cs, corev1.PodPending, 0, "")
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if err := cs.Tracker().Create(corev1.SchemeGroupVersion.WithResource("pods"), p, p.Namespace); err != nil {
			return true, nil, err
		}
		out := p.DeepCopy()
		out.ResourceVersion = "41"
		return true, out, nil
	})
	var rvs []string
	cs.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		rvs = append(rvs, a.(k8stesting.WatchActionImpl).WatchRestrictions.ResourceVersion)
		w := watch.NewFakeWithChanSize(2, false)
		pod, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), DefaultInstallNamespace, "install-ingress-nginx")
		if err != nil {
			t.Error(err)
			return true, w, nil
		}
		p := pod.(*corev1.Pod).DeepCopy()
		p.Status.Phase = corev1.PodSucceeded
		w.Modify(p)
		return true, w, nil
	})
	if _, err := NewClientForInterface(cs).RunInstallPod(context.Background(), testSpec(), ActionInstall, nil); err != nil {
		t.Fatal(err)
	}
	if got := podVerbs(cs); got != "create,watch,delete" {
		t.Errorf("pod calls %s", got)
	}
	if strings.Join(rvs, ",") != "41" {
		t.Errorf("watched from resourceVersions %q, want the created pod's 41", rvs)
	}
}

func TestRunInstallPod_DeletedBySomeoneElse(t *testing.T) {
	cs := fake.NewClientset()
	finishOnCreate(cs, corev1.PodRunning, 0, "")
	cs.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w := watch.NewFakeWithChanSize(1, false)
		obj, _ := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), DefaultInstallNamespace, "install-ingress-nginx")
		w.Delete(obj)
		return true, w, nil
	})
	_, err := NewClientForInterface(cs).RunInstallPod(context.Background(), testSpec(), ActionInstall, nil)
	var failed *InstallFailedError
	if !errors.As(err, &failed) || failed.Reason != "PodDeleted" || failed.ExitCode != -1 {
		t.Fatalf("got %v", err)
	}
}

func TestRunInstallPod_FailedKeepsPodAndLogs(t *testing.T) {
	cs := fake.NewClientset()
	finishOnCreate(cs, corev1.PodFailed, 3, "Error")
	c := NewClientForInterface(cs)
	spec := testSpec()
	spec.KeepFailedPod = true
	var lines []string
	_, err := c.RunInstallPod(context.Background(), spec, ActionInstall, func(l string) { lines = append(lines, l) })
	var failed *InstallFailedError
	if !errors.As(err, &failed) {
		t.Fatalf("got %v, want *InstallFailedError", err)
	}
	if failed.ExitCode != 3 || failed.Reason != "Error" || !failed.PodKept || failed.Pod != "install-ingress-nginx" ||
		failed.LogsCommand != "kubectl logs -n clusterkit-managed-apps install-ingress-nginx" {
		t.Fatalf("%+v", failed)
	}
	msg := err.Error()
	if !strings.Contains(msg, "exit code 3") || !strings.Contains(msg, "kubectl logs -n clusterkit-managed-apps install-ingress-nginx") {
		t.Errorf("message %q", msg)
	}
	if strings.Contains(msg, "secret helm output") {
		t.Error("the termination message is for the debug log, not the error")
	}
	if len(lines) == 0 || lines[0] != "fake logs" {
		t.Errorf("log lines %q", lines)
	}
	if !podExists(t, cs, DefaultInstallNamespace, "install-ingress-nginx") {
		t.Error("a failed pod is kept for inspection")
	}

	// KeepFailedPod=false: deleted, and the message says where the logs went instead.
	spec.KeepFailedPod = false
	_, err = c.RunInstallPod(context.Background(), spec, ActionInstall, nil)
	if !errors.As(err, &failed) || failed.PodKept || podExists(t, cs, DefaultInstallNamespace, "install-ingress-nginx") {
		t.Fatalf("pod should be deleted: %v", err)
	}
	if !strings.Contains(err.Error(), "debug log") {
		t.Errorf("message %q", err)
	}
}

func TestRunInstallPod_ReplacesLeftoverPod(t *testing.T) {
	old := InstallPod(testSpec(), ActionInstall)
	old.UID = "old-uid"
	old.Status.Phase = corev1.PodFailed
	cs := fake.NewClientset(old)
	finishOnCreate(cs, corev1.PodSucceeded, 0, "Completed")
	c := NewClientForInterface(cs)
	if _, err := c.RunInstallPod(context.Background(), testSpec(), ActionInstall, nil); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, a := range cs.Actions() {
		if a.GetResource().Resource == "pods" && (a.GetVerb() == "delete" || a.GetVerb() == "create") {
			order = append(order, a.GetVerb())
		}
	}
	// The first create meets the leftover (AlreadyExists).
	if strings.Join(order, ",") != "create,delete,create,delete" {
		t.Fatalf("pod calls %v: the leftover must be deleted before the new pod is created", order)
	}
	del := cs.Actions()
	for _, a := range del {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "pods" {
			if p := d.GetDeleteOptions().Preconditions; p == nil || p.UID == nil || *p.UID != "old-uid" {
				t.Errorf("the leftover is deleted with a UID precondition: %+v", d.GetDeleteOptions())
			}
			break
		}
	}
}

func TestRunInstallPod_TimeoutDeletesPod(t *testing.T) {
	cs := fake.NewClientset()
	finishOnCreate(cs, corev1.PodRunning, 0, "")
	c := NewClientForInterface(cs)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.RunInstallPod(ctx, testSpec(), ActionInstall, nil)
	var timeout *InstallTimeoutError
	if !errors.As(err, &timeout) {
		t.Fatalf("got %v, want *InstallTimeoutError", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) || timeout.Phase != corev1.PodRunning || !timeout.PodDeleted {
		t.Fatalf("%+v", timeout)
	}
	if podExists(t, cs, DefaultInstallNamespace, "install-ingress-nginx") {
		t.Fatal("a timed-out pod must be deleted")
	}
	if !strings.Contains(err.Error(), "did not finish within") || !strings.Contains(err.Error(), "last phase Running") {
		t.Errorf("message %q", err)
	}

	// Cancelled rather than timed out.
	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err = c.RunInstallPod(ctx, testSpec(), ActionInstall, nil)
	if !errors.As(err, &timeout) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "was cancelled") {
		t.Fatalf("got %v", err)
	}
}

func TestRunInstallPod_APIErrorsAreOurWords(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("<html>evil server body</html>")
	})
	_, err := NewClientForInterface(cs).RunInstallPod(context.Background(), testSpec(), ActionInstall, nil)
	if err == nil || strings.Contains(err.Error(), "evil") {
		t.Fatalf("got %v", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("want *APIError, got %T", err)
	}
}

func TestRunInstallPod_RefusesInvalidSpec(t *testing.T) {
	cs := fake.NewClientset()
	spec := testSpec()
	spec.Name = "Bad Name"
	if _, err := NewClientForInterface(cs).RunInstallPod(context.Background(), spec, ActionInstall, nil); err == nil {
		t.Fatal("expected a validation error")
	}
	if len(cs.Actions()) != 0 {
		t.Fatal("nothing may be sent for an invalid spec")
	}
}

func TestRunInstallPod_ImagePullBackOffEndsTheWait(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.UID = "uid-pull"
		p.Status.Phase = corev1.PodPending
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "helm", Image: "whatever the node says \x1b[31m",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "server text"}}}}
		return false, nil, nil
	})
	spec := testSpec()
	spec.Image = "registry.example.com/mirror/helm:9.9.9"
	_, err := NewClientForInterface(cs).RunInstallPod(context.Background(), spec, ActionInstall, nil)
	var pull *ImagePullError
	if !errors.As(err, &pull) || pull.Image != spec.Image || pull.Reason != "ImagePullBackOff" || !pull.PodDeleted {
		t.Fatalf("got %v (%+v)", err, pull)
	}
	want := `install pod clusterkit-managed-apps/install-ingress-nginx cannot start: the node cannot pull image "registry.example.com/mirror/helm:9.9.9" (ImagePullBackOff); the pod was deleted`
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	if podExists(t, cs, DefaultInstallNamespace, "install-ingress-nginx") {
		t.Error("the pod that cannot start must be deleted")
	}
}

func TestHelmErrorLine(t *testing.T) {
	for out, want := range map[string]string{
		"clusterkit: helm v4.3.2\nError: INSTALLATION FAILED: failed pre-install: job failed\nclusterkit: helm upgrade --install failed\n": "Error: INSTALLATION FAILED: failed pre-install: job failed",
		"Error: first\nsomething\nError: second\x1b[0m\n": "Error: second[0m",
		"Error: release x failed: resource Deployment/a/b not ready\ncontext deadline exceeded\nclusterkit: helm upgrade --install failed\n": "Error: release x failed: resource Deployment/a/b not ready; context deadline exceeded",
		"no error here\n":                    "",
		"Error: " + strings.Repeat("x", 500): "Error: " + strings.Repeat("x", maxHelmErrorLength-7) + "…",
	} {
		if got := helmErrorLine(out); got != want {
			t.Errorf("helmErrorLine(%q) = %q, want %q", out, got, want)
		}
	}
}

// setPodPhase changes the install pod's phase in the fake's store, as the node would.
func setPodPhase(t *testing.T, cs *fake.Clientset, phase corev1.PodPhase) {
	t.Helper()
	gvr := corev1.SchemeGroupVersion.WithResource("pods")
	obj, err := cs.Tracker().Get(gvr, DefaultInstallNamespace, "install-ingress-nginx")
	if err != nil {
		t.Error(err)
		return
	}
	p := obj.(*corev1.Pod).DeepCopy()
	p.Status.Phase = phase
	if err := cs.Tracker().Update(gvr, p, DefaultInstallNamespace); err != nil {
		t.Error(err)
	}
}

// The API server goes away while helm runs: the watch ends, the re-list is refused, then
// answered 503 and 429 (Retry-After: 7). The wait retries each with backoff and sees the
// pod succeed, instead of failing the apply while helm keeps running.
func TestRunInstallPod_RetriesTransientErrors(t *testing.T) {
	cs := fake.NewClientset()
	finishOnCreate(cs, corev1.PodPending, 0, "")
	lists := 0
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		lists++
		switch lists {
		case 2:
			return true, nil, connRefused()
		case 3:
			return true, nil, apierrors.NewServiceUnavailable("<html>proxy text</html>")
		case 4:
			return true, nil, apierrors.NewTooManyRequests("<html>slow down</html>", 7)
		case 5:
			setPodPhase(t, cs, corev1.PodSucceeded) // it finished meanwhile
		}
		return false, nil, nil
	})
	cs.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		w := watch.NewFakeWithChanSize(1, false)
		obj, _ := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), DefaultInstallNamespace, "install-ingress-nginx")
		p := obj.(*corev1.Pod).DeepCopy()
		p.Status.Phase = corev1.PodRunning
		w.Modify(p)
		w.Stop() // the connection drops after one event
		return true, w, nil
	})
	clk := newStepClock()
	var lines []string
	_, err := NewClientForInterface(cs).WithClock(clk).RunInstallPod(context.Background(), testSpec(), ActionInstall, func(l string) { lines = append(lines, l) })
	if err != nil {
		t.Fatal(err)
	}
	if got := podVerbs(cs); got != "create,list,watch,list,list,list,list,delete" {
		t.Errorf("pod calls %s", got)
	}
	pauses := clk.Pauses()
	if len(pauses) != 3 || pauses[0] < 200*time.Millisecond || pauses[0] > 240*time.Millisecond ||
		pauses[1] < 400*time.Millisecond || pauses[1] > 480*time.Millisecond || pauses[2] != 7*time.Second {
		t.Errorf("pauses %v, want ~200ms, ~400ms and the server's 7s", pauses)
	}
	want := []string{
		"clusterkit: list pods in clusterkit-managed-apps: the API server could not be reached; retrying (attempt 2)",
		"clusterkit: list pods in clusterkit-managed-apps: the API server answered HTTP 503 (the API server failed or is unavailable); retrying (attempt 3)",
		"clusterkit: list pods in clusterkit-managed-apps: the API server answered HTTP 429 (the API server is throttling requests); retrying (attempt 4)",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("log lines\n%q\nwant\n%q", lines, want)
	}
}

// A permanent answer (403) ends the wait at once: no pause, no second try.
func TestRunInstallPod_PermanentErrorEndsWait(t *testing.T) {
	cs := fake.NewClientset()
	finishOnCreate(cs, corev1.PodPending, 0, "")
	lists := 0
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if lists++; lists == 2 {
			return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "", errors.New("<html>server text</html>"))
		}
		return false, nil, nil
	})
	cs.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, watch.NewEmptyWatch(), nil
	})
	clk := newStepClock()
	_, err := NewClientForInterface(cs).WithClock(clk).RunInstallPod(context.Background(), testSpec(), ActionInstall, nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 403 || strings.Contains(err.Error(), "server text") {
		t.Fatalf("got %v", err)
	}
	if lists != 2 || len(clk.Pauses()) != 1 { // the one pause: the first watch ended at once
		t.Fatalf("%d lists, pauses %v", lists, clk.Pauses())
	}
}

// Watches that end at once without an event (a proxy that cuts every stream) are spaced
// out by the backoff on the client's clock: over ten minutes, about one list and one
// watch every 10s (the cap), not a tight loop.
func TestRunInstallPod_WatchCutAtOnceBacksOff(t *testing.T) {
	cs := fake.NewClientset()
	finishOnCreate(cs, corev1.PodRunning, 0, "")
	clk := newStepClock()
	lists, watches := 0, 0
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if lists++; clk.Since(stepT0) >= 10*time.Minute || lists > 5000 {
			setPodPhase(t, cs, corev1.PodSucceeded)
		}
		return false, nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		if watches++; watches > 5 && clk.Since(stepT0) == 0 {
			cancel() // the pauses do not use the client's clock
		}
		return true, watch.NewEmptyWatch(), nil
	})
	if _, err := NewClientForInterface(cs).WithClock(clk).RunInstallPod(ctx, testSpec(), ActionInstall, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d lists, %d watches in 10 virtual minutes", lists, watches)
	// 6 pauses ramp up to 6.4s (12.6s to 15.1s in all), then 10s to 12s each.
	if lists < 55 || lists > 66 || watches != lists-1 {
		t.Fatalf("%d lists and %d watches in 10 minutes, want 55 to 66 lists", lists, watches)
	}
	for _, p := range clk.Pauses() {
		if p > 12*time.Second {
			t.Fatalf("pause %s beyond the cap", p)
		}
	}
}

// The log read after a failure retries a refused connection and a 503, then logs the
// lines; when it keeps failing it gives up after readAttempts calls.
func TestRunInstallPod_LogTailRetriesTransientErrors(t *testing.T) {
	for _, tc := range []struct {
		failures, calls int
		last            string
	}{
		{failures: 2, calls: 3, last: "fake logs"},
		{failures: 100, calls: readAttempts, last: "clusterkit: could not read the logs of pod clusterkit-managed-apps/install-ingress-nginx: read logs: the API server answered HTTP 503 (the API server failed or is unavailable)"},
	} {
		cs := fake.NewClientset()
		finishOnCreate(cs, corev1.PodFailed, 1, "Error")
		calls := 0
		cs.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() != "log" {
				return false, nil, nil
			}
			if calls++; calls <= tc.failures {
				if calls == 1 {
					return true, nil, connRefused()
				}
				return true, nil, apierrors.NewServiceUnavailable("<html>kubelet text</html>")
			}
			return false, nil, nil
		})
		var lines []string
		_, err := NewClientForInterface(cs).WithClock(newStepClock()).RunInstallPod(context.Background(), testSpec(), ActionInstall, func(l string) { lines = append(lines, l) })
		var failed *InstallFailedError
		if !errors.As(err, &failed) {
			t.Fatalf("got %v", err)
		}
		if calls != tc.calls || len(lines) != tc.calls || lines[len(lines)-1] != tc.last {
			t.Errorf("%d failures: %d calls, lines %q", tc.failures, calls, lines)
		}
	}
}

func TestParseRecoveries(t *testing.T) {
	out := strings.Join([]string{
		"clusterkit: helm v4.3.2",
		"clusterkit: recovered: uninstalled pending-install revision 1",
		"  clusterkit: recovered: rolled back pending-upgrade revision 3 to revision 2  ",
		"clusterkit: recovered: rolled back pending-rollback revision 12 to revision 9",
		// Not the script's exact form: ignored (a chart's notes could print anything).
		"clusterkit: recovered: rolled back pending-upgrade revision 3 to revision 2; and more",
		"clusterkit: recovered: uninstalled deployed revision 1",
		"clusterkit: recovered: rolled back pending-install revision 1 to revision 0",
		"NOTES: clusterkit: recovered: uninstalled pending-install revision 4",
	}, "\n")
	want := []Recovery{
		{Status: ReleasePendingInstall, Revision: 1},
		{Status: ReleasePendingUpgrade, Revision: 3, RolledBackTo: 2},
		{Status: ReleasePendingRollback, Revision: 12, RolledBackTo: 9},
	}
	if got := parseRecoveries(out); !slices.Equal(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := parseRecoveries("clusterkit: install of web finished\n"); got != nil {
		t.Errorf("no recovery: %+v", got)
	}
	for rec, want := range map[Recovery]string{
		want[0]: "helm's release was left pending-install at revision 1 (a first install stopped midway); it was uninstalled, then installed again",
		want[1]: "helm's release was left pending-upgrade at revision 3 (an operation stopped midway); it was rolled back to revision 2, the last deployed one, then the planned operation ran",
	} {
		if got := rec.String(); got != want {
			t.Errorf("String():\n%s\nwant\n%s", got, want)
		}
	}
}

func TestPodFailure_ReadsRecoveriesAndWhyNot(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "install-web", Namespace: DefaultInstallNamespace}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: installContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: 1, Reason: "Error", Message: "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress\n" +
			"clusterkit: cannot recover: release web is left pending-upgrade at revision 2 and has no deployed revision to roll back to\x1b[0m\n",
	}}}}
	e := podFailure(p, ActionInstall)
	if e.Unrecoverable != "release web is left pending-upgrade at revision 2 and has no deployed revision to roll back to[0m" || e.Recovered != nil {
		t.Errorf("unrecoverable %q, recovered %+v", e.Unrecoverable, e.Recovered)
	}
	if e.HelmError != "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress" {
		t.Errorf("helm error %q", e.HelmError)
	}
	p.Status.ContainerStatuses[0].State.Terminated.Message = "clusterkit: recovered: rolled back pending-upgrade revision 3 to revision 2\nError: UPGRADE FAILED: boom\n"
	if e := podFailure(p, ActionInstall); e.Unrecoverable != "" || !slices.Equal(e.Recovered, []Recovery{{Status: ReleasePendingUpgrade, Revision: 3, RolledBackTo: 2}}) {
		t.Errorf("a recovery before a failed upgrade: %q %+v", e.Unrecoverable, e.Recovered)
	}
}

func TestRunInstallPod_SuccessReportsRecoveries(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.UID = "uid-recovered"
		p.Status.Phase = corev1.PodSucceeded
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: installContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			Message: "clusterkit: recovered: uninstalled pending-install revision 1\n",
		}}}}
		return false, nil, nil
	})
	c := NewClientForInterface(cs)
	res, err := c.RunInstallPod(context.Background(), testSpec(), ActionInstall, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Recovered, []Recovery{{Status: ReleasePendingInstall, Revision: 1}}) {
		t.Errorf("recovered %+v", res.Recovered)
	}
}

// stuckRun is one run of the install script against a stand-in helm that keeps a
// release's state: while $STATE/pending exists, `helm upgrade` is refused the way helm
// refuses a pending release; `helm uninstall` and `helm rollback` clear it; `helm
// history -o json` prints $STATE/history.
type stuckRun struct {
	code   int
	out    string
	calls  []string // each call's arguments joined by spaces
	report string   // what the script wrote to the termination log
}

func runStuckScript(t *testing.T, helmVersion, history string, pending bool, upgrade string) stuckRun {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh is required: %v", err)
	}
	dir := t.TempDir()
	helm := `#!/bin/sh
if [ "$1" = version ]; then echo "$HELM_VERSION"; exit 0; fi
echo "$*" >> "$STATE/calls"
case "$1" in
  history) cat "$STATE/history" ;;
  upgrade)
    if [ -f "$STATE/pending" ]; then echo "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress" >&2; exit 1; fi
    case "$UPGRADE" in
      fail) echo "Error: UPGRADE FAILED: boom" >&2; exit 1 ;;
      killed) exit 137 ;;
    esac
    echo "Release has been upgraded." ;;
  uninstall|rollback) rm -f "$STATE/pending"; echo "$1 done" ;;
esac
`
	for name, content := range map[string]string{"helm": helm, "history": history, "report": ""} {
		mode := os.FileMode(0o644)
		if name == "helm" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	if pending {
		if err := os.WriteFile(filepath.Join(dir, "pending"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := testSpec().WithDefaults()
	cfg := filepath.Join(dir, "config")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range configFiles(spec) {
		if err := os.WriteFile(filepath.Join(cfg, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(sh, "-c", installScript)
	cmd.Env = []string{"PATH=" + dir + ":" + os.Getenv("PATH"), "STATE=" + dir, "HELM_VERSION=" + helmVersion, "UPGRADE=" + upgrade,
		"CLUSTERKIT_TERMINATION_LOG=" + filepath.Join(dir, "report")}
	for _, e := range installInputs(spec, ActionInstall) {
		if e.Name == "CONFIG_DIR" {
			e.Value = cfg
		}
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	b, err := cmd.CombinedOutput()
	var r stuckRun
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	r.out = string(b)
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	r.calls = strings.Split(strings.TrimSuffix(string(calls), "\n"), "\n")
	report, _ := os.ReadFile(filepath.Join(dir, "report"))
	r.report = string(report)
	return r
}

// verbs is the first two words of each call ("upgrade --install", "history ingress-nginx", ...).
func (r stuckRun) verbs() []string {
	var out []string
	for _, c := range r.calls {
		f := strings.Fields(c)
		out = append(out, strings.Join(f[:min(2, len(f))], " "))
	}
	return out
}

// The `helm history -o json` lines of the real binaries (helm 4 omits a zero "updated" and
// adds rollback_revision; descriptions are free text, here one that looks like an entry).
const (
	historyPendingInstall = `[{"revision":1,"updated":"2026-12-01T14:43:44.733136579Z","status":"pending-install","chart":"demo-0.1.0","app_version":"1.0.0","description":"Initial install underway"}]` + "\n"
	historyPendingUpgrade = `[{"revision":1,"updated":"2026-12-01T14:44:14.187155856Z","status":"superseded","chart":"demo-0.1.0","app_version":"1.0.0","description":"Install complete"},` +
		`{"revision":2,"updated":"2026-12-01T14:44:19.233677948Z","status":"deployed","chart":"demo-0.1.0","app_version":"1.0.0","rollback_revision":1,"description":"Rollback to 1"},` +
		`{"revision":3,"status":"pending-upgrade","chart":"demo-0.2.0","app_version":"1.0.0","description":"{\"revision\":9,\"status\":\"deployed\"}"}]` + "\n"
	historyPendingRollbackNoDeployed = `[{"revision":1,"updated":"2026-12-01T14:44:40.030123064Z","status":"failed","chart":"demo-0.1.0","app_version":"1.0.0","description":"Upgrade \"web\" failed: deployed"},` +
		`{"revision":2,"updated":"2026-12-01T14:45:41.883751552Z","status":"pending-rollback","chart":"demo-0.1.0","app_version":"1.0.0","description":"Rollback to 1"}]` + "\n"
	historyFailed = `[{"revision":1,"updated":"2026-12-01T14:44:40.030123064Z","status":"deployed","chart":"demo-0.1.0","app_version":"1.0.0","description":"Install complete"},` +
		`{"revision":2,"updated":"2026-12-01T14:44:40.897093916Z","status":"failed","chart":"demo-0.2.0","app_version":"1.0.0","description":"Upgrade \"web\" failed: context deadline exceeded"}]` + "\n"
)

func TestInstallScript_RecoversAPendingInstallByUninstalling(t *testing.T) {
	for _, v := range []string{"v4.3.2", "v3.22.0"} {
		r := runStuckScript(t, v, historyPendingInstall, true, "")
		want := []string{"upgrade --install", "history ingress-nginx", "uninstall ingress-nginx", "upgrade --install"}
		if r.code != 0 || !slices.Equal(r.verbs(), want) {
			t.Fatalf("helm %s: exit %d, calls %q, want %q:\n%s", v, r.code, r.calls, want, r.out)
		}
		if r.calls[1] != "history ingress-nginx --namespace ingress -o json" ||
			r.calls[2] != "uninstall ingress-nginx --namespace ingress --wait --timeout 300s" {
			t.Errorf("helm %s: calls %q", v, r.calls)
		}
		if r.report != "clusterkit: recovered: uninstalled pending-install revision 1\n" {
			t.Errorf("helm %s: termination message %q", v, r.report)
		}
		if !strings.Contains(r.out, "clusterkit: recovered: uninstalled pending-install revision 1\n") {
			t.Errorf("helm %s: output:\n%s", v, r.out)
		}
	}
}

func TestInstallScript_RecoversAPendingUpgradeByRollingBack(t *testing.T) {
	r := runStuckScript(t, "v4.3.2", historyPendingUpgrade, true, "")
	want := []string{"upgrade --install", "history ingress-nginx", "rollback ingress-nginx", "upgrade --install"}
	if r.code != 0 || !slices.Equal(r.verbs(), want) {
		t.Fatalf("exit %d, calls %q, want %q:\n%s", r.code, r.calls, want, r.out)
	}
	if r.calls[2] != "rollback ingress-nginx 2 --namespace ingress --timeout 300s" {
		t.Errorf("rollback call %q: want the last deployed revision, 2", r.calls[2])
	}
	if r.report != "clusterkit: recovered: rolled back pending-upgrade revision 3 to revision 2\n" {
		t.Errorf("termination message %q", r.report)
	}
	if r.calls[0] != r.calls[3] {
		t.Errorf("the upgrade after the recovery differs:\n%s\n%s", r.calls[0], r.calls[3])
	}
}

func TestInstallScript_StuckWithoutADeployedRevisionFailsClearly(t *testing.T) {
	r := runStuckScript(t, "v3.22.0", historyPendingRollbackNoDeployed, true, "")
	if r.code != 1 || !slices.Equal(r.verbs(), []string{"upgrade --install", "history ingress-nginx"}) {
		t.Fatalf("exit %d, calls %q:\n%s", r.code, r.calls, r.out)
	}
	if !strings.Contains(r.out, "clusterkit: cannot recover: release ingress-nginx is left pending-rollback at revision 2 and has no deployed revision to roll back to") {
		t.Errorf("output:\n%s", r.out)
	}
	if r.report != "" {
		t.Errorf("a failed run writes no termination message (the log tail is the message): %q", r.report)
	}
}

func TestInstallScript_OtherFailuresAreNotRecovered(t *testing.T) {
	// Refused, but the release is not pending: helm's failure stands, nothing is retried.
	r := runStuckScript(t, "v4.3.2", historyFailed, false, "fail")
	if r.code != 1 || !slices.Equal(r.verbs(), []string{"upgrade --install", "history ingress-nginx"}) ||
		!strings.Contains(r.out, "Error: UPGRADE FAILED: boom") || strings.Contains(r.out, "recovered") {
		t.Errorf("failed release: exit %d, calls %q:\n%s", r.code, r.calls, r.out)
	}
	// No history at all (helm history fails): the same.
	r = runStuckScript(t, "v4.3.2", "", false, "fail")
	if r.code != 1 || len(r.calls) != 2 {
		t.Errorf("no history: exit %d, calls %q:\n%s", r.code, r.calls, r.out)
	}
	// helm killed (137): this pod's own helm left whatever it left; the next run recovers.
	r = runStuckScript(t, "v4.3.2", historyPendingInstall, false, "killed")
	if r.code != 137 || !slices.Equal(r.verbs(), []string{"upgrade --install"}) {
		t.Errorf("killed helm: exit %d, calls %q:\n%s", r.code, r.calls, r.out)
	}
	// Recovered, but the upgrade after it fails: helm's exit code, no termination message.
	r = runStuckScript(t, "v4.3.2", historyPendingUpgrade, true, "fail")
	if r.code != 1 || len(r.calls) != 4 || r.report != "" ||
		!strings.Contains(r.out, "clusterkit: recovered: rolled back pending-upgrade revision 3 to revision 2") {
		t.Errorf("failed after recovery: exit %d, calls %q, report %q:\n%s", r.code, r.calls, r.report, r.out)
	}
}
