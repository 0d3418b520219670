package kube

import (
	"context"
	"errors"
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
	// The pod had finished by the first list: one GET (for a leftover), one LIST, no watch.
	if got := podVerbs(cs); got != "get,create,list,delete" {
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
	if got := podVerbs(cs); got != "get,create,list,watch,list,watch,delete" {
		t.Errorf("pod calls %s", got)
	}
	if len(rvs) != 2 {
		t.Fatalf("watches %d", watches)
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
	if strings.Join(order, ",") != "delete,create,delete" {
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
	if got := podVerbs(cs); got != "get,create,list,watch,list,list,list,list,delete" {
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
