package kube

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

var orderT0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func useUninstallClock(*testing.T) *clocktesting.FakeClock { return clocktesting.NewFakeClock(orderT0) }

// appConfigMap is an app's values ConfigMap as EnsureInstallPrerequisites writes it.
func appConfigMap(app string, order int, uninstallingUntil time.Time) *corev1.ConfigMap {
	spec := InstallSpec{Name: app, UninstallOrder: order}.WithDefaults()
	cm := &corev1.ConfigMap{ObjectMeta: ownedMeta(ValuesConfigMapName(app), spec.Namespace, spec.Owner, map[string]string{LabelApp: app})}
	cm.Annotations[AnnotationUninstallOrder] = strconv.Itoa(order)
	if !uninstallingUntil.IsZero() {
		cm.Annotations[AnnotationUninstalling] = uninstallingUntil.Format(time.RFC3339)
	}
	return cm
}

type waitResult struct {
	apps []string
	err  error
}

func startWait(ctx context.Context, c *Client, spec InstallSpec) <-chan waitResult {
	out := make(chan waitResult, 1)
	go func() {
		apps, err := c.WaitForEarlierUninstalls(ctx, spec, DefaultUninstallSettle)
		out <- waitResult{apps, err}
	}()
	return out
}

func expectBlocked(t *testing.T, res <-chan waitResult) {
	t.Helper()
	select {
	case r := <-res:
		t.Fatalf("returned early: %+v", r)
	case <-time.After(200 * time.Millisecond): // a real-time look at a goroutine; the code under test uses the fake clock
	}
}

func expectResult(t *testing.T, res <-chan waitResult, want []string) {
	t.Helper()
	select {
	case r := <-res:
		if r.err != nil || !slices.Equal(r.apps, want) {
			t.Fatalf("got %v %v, want %v", r.apps, r.err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still waiting")
	}
}

// stepPastSettle fires the settle timer once the wait has started it.
func stepPastSettle(t *testing.T, fc *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !fc.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("the settle timer was never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	fc.Step(DefaultUninstallSettle)
}

func TestWaitForEarlierUninstalls(t *testing.T) {
	ingress := InstallSpec{Name: "ingress", UninstallOrder: 100}
	soon := orderT0.Add(10 * time.Minute)

	t.Run("no earlier app: returns at once, one list", func(t *testing.T) {
		fc := useUninstallClock(t)
		cs := fake.NewClientset(appConfigMap("ingress", 100, time.Time{}), appConfigMap("cilium", 1000, soon))
		apps, err := NewClientForInterface(cs).WithClock(fc).WaitForEarlierUninstalls(context.Background(), ingress, DefaultUninstallSettle)
		if err != nil || apps != nil || len(cs.Actions()) != 1 {
			t.Fatalf("%v %v, %d calls", apps, err, len(cs.Actions()))
		}
	})

	t.Run("apps without an order relation never wait, however many others are being uninstalled", func(t *testing.T) {
		fc := useUninstallClock(t)
		var objs []runtime.Object
		for i := range 199 {
			order := 100 + 100*(i%3) // 100, 200, 300: none before ingress
			objs = append(objs, appConfigMap("app-"+strconv.Itoa(i), order, soon))
		}
		cs := fake.NewClientset(append(objs, appConfigMap("ingress", 100, time.Time{}))...)
		c := NewClientForInterface(cs).WithClock(fc)
		apps, err := c.WaitForEarlierUninstalls(context.Background(), ingress, DefaultUninstallSettle)
		if err != nil || apps != nil || len(cs.Actions()) != 1 || fc.HasWaiters() {
			t.Fatalf("ingress: %v %v, %d calls, timers %v", apps, err, len(cs.Actions()), fc.HasWaiters())
		}
		// Order 0 (a custom chart): no app can go first, so nothing is even listed.
		apps, err = c.WaitForEarlierUninstalls(context.Background(), InstallSpec{Name: "custom"}, DefaultUninstallSettle)
		if err != nil || apps != nil || len(cs.Actions()) != 1 || fc.HasWaiters() {
			t.Fatalf("custom: %v %v, %d calls, timers %v", apps, err, len(cs.Actions()), fc.HasWaiters())
		}
	})

	t.Run("an earlier app being uninstalled is waited for until its delete is done", func(t *testing.T) {
		fc := useUninstallClock(t)
		cs := fake.NewClientset(appConfigMap("podinfo", 0, soon), appConfigMap("ingress", 100, time.Time{}))
		res := startWait(context.Background(), NewClientForInterface(cs).WithClock(fc), ingress)
		expectBlocked(t, res)
		if err := cs.CoreV1().ConfigMaps(DefaultInstallNamespace).Delete(context.Background(), ValuesConfigMapName("podinfo"), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		expectResult(t, res, []string{"podinfo"})
	})

	t.Run("an earlier app that marks itself during the settle window is waited for", func(t *testing.T) {
		fc := useUninstallClock(t)
		cs := fake.NewClientset(appConfigMap("cert-manager", 50, time.Time{}), appConfigMap("ingress", 100, time.Time{}))
		c := NewClientForInterface(cs).WithClock(fc)
		res := startWait(context.Background(), c, ingress)
		expectBlocked(t, res)
		if err := c.MarkUninstalling(context.Background(), InstallSpec{Name: "cert-manager"}, 10*time.Minute); err != nil {
			t.Fatal(err)
		}
		stepPastSettle(t, fc)
		expectBlocked(t, res)
		// Its delete failed: the mark is cleared, and nothing waits for it any more.
		if err := c.UnmarkUninstalling(context.Background(), InstallSpec{Name: "cert-manager"}); err != nil {
			t.Fatal(err)
		}
		expectResult(t, res, []string{"cert-manager"})
	})

	t.Run("an earlier app that does not mark itself within the settle window is staying", func(t *testing.T) {
		fc := useUninstallClock(t)
		cs := fake.NewClientset(appConfigMap("podinfo", 0, time.Time{}), appConfigMap("ingress", 100, time.Time{}))
		res := startWait(context.Background(), NewClientForInterface(cs).WithClock(fc), ingress)
		expectBlocked(t, res)
		stepPastSettle(t, fc)
		expectResult(t, res, []string{})
	})

	t.Run("a mark past its deadline holds no one up", func(t *testing.T) {
		fc := useUninstallClock(t)
		cs := fake.NewClientset(appConfigMap("podinfo", 0, orderT0.Add(-time.Minute)), appConfigMap("ingress", 100, time.Time{}))
		res := startWait(context.Background(), NewClientForInterface(cs).WithClock(fc), ingress)
		stepPastSettle(t, fc)
		expectResult(t, res, []string{})
	})

	t.Run("a mark whose deadline passes while waited for stops counting", func(t *testing.T) {
		fc := useUninstallClock(t)
		cs := fake.NewClientset(appConfigMap("podinfo", 0, orderT0.Add(time.Minute)), appConfigMap("ingress", 100, time.Time{}))
		res := startWait(context.Background(), NewClientForInterface(cs).WithClock(fc), ingress)
		expectBlocked(t, res)
		// The settle phase ends at once (podinfo is marked; its timer stays registered);
		// the wait then sets a second timer, on the mark's deadline one minute away.
		deadline := time.Now().Add(10 * time.Second)
		for fc.Waiters() < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("%d timers; the wait never armed one for the mark's deadline", fc.Waiters())
			}
			time.Sleep(5 * time.Millisecond)
		}
		fc.Step(time.Minute)
		expectResult(t, res, []string{"podinfo"})
	})

	t.Run("cancelled while waiting: the error names the app", func(t *testing.T) {
		fc := useUninstallClock(t)
		cs := fake.NewClientset(appConfigMap("podinfo", 0, soon), appConfigMap("ingress", 100, time.Time{}))
		ctx, cancel := context.WithCancel(context.Background())
		res := startWait(ctx, NewClientForInterface(cs).WithClock(fc), ingress)
		expectBlocked(t, res)
		cancel()
		r := <-res
		if !errors.Is(r.err, context.Canceled) || r.err.Error() != "waiting for [podinfo] to be uninstalled first: context canceled" {
			t.Fatalf("got %v", r.err)
		}
	})
}

func TestMarkUninstalling(t *testing.T) {
	fc := useUninstallClock(t)
	cs := fake.NewClientset(appConfigMap("podinfo", 0, time.Time{}))
	c := NewClientForInterface(cs).WithClock(fc)
	if err := c.MarkUninstalling(context.Background(), InstallSpec{Name: "podinfo"}, 20*time.Minute); err != nil {
		t.Fatal(err)
	}
	cm, _ := cs.CoreV1().ConfigMaps(DefaultInstallNamespace).Get(context.Background(), ValuesConfigMapName("podinfo"), metav1.GetOptions{})
	if got := cm.Annotations[AnnotationUninstalling]; got != "2026-11-24T10:20:00Z" || !isMarked(cm) {
		t.Fatalf("mark %q", got)
	}
	if err := c.UnmarkUninstalling(context.Background(), InstallSpec{Name: "podinfo"}); err != nil {
		t.Fatal(err)
	}
	cm, _ = cs.CoreV1().ConfigMaps(DefaultInstallNamespace).Get(context.Background(), ValuesConfigMapName("podinfo"), metav1.GetOptions{})
	if _, ok := cm.Annotations[AnnotationUninstalling]; ok || !Owned(cm, InstallSpec{Name: "podinfo"}.WithDefaults().Owner) {
		t.Fatalf("after unmark: %v", cm.Annotations)
	}
	// Nothing to mark once the app's objects are gone.
	if err := c.MarkUninstalling(context.Background(), InstallSpec{Name: "gone"}, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// The mark is an idempotent patch: a refused connection and a 503 are retried.
func TestMarkUninstalling_RetriesTransientErrors(t *testing.T) {
	cs := fake.NewClientset(appConfigMap("podinfo", 0, time.Time{}))
	patches := 0
	cs.PrependReactor("patch", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		switch patches++; patches {
		case 1:
			return true, nil, connRefused()
		case 2:
			return true, nil, apierrors.NewServiceUnavailable("later")
		}
		return false, nil, nil
	})
	clk := newStepClock()
	if err := NewClientForInterface(cs).WithClock(clk).MarkUninstalling(context.Background(), InstallSpec{Name: "podinfo"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	cm, _ := cs.CoreV1().ConfigMaps(DefaultInstallNamespace).Get(context.Background(), ValuesConfigMapName("podinfo"), metav1.GetOptions{})
	if patches != 3 || len(clk.Pauses()) != 2 || cm.Annotations[AnnotationUninstalling] != stepT0.Add(time.Minute).Format(time.RFC3339) {
		t.Fatalf("%d patches, pauses %v, mark %q", patches, clk.Pauses(), cm.Annotations[AnnotationUninstalling])
	}
}

func isMarked(cm *corev1.ConfigMap) bool { _, ok := markedUntil(cm, orderT0); return ok }

// On the real clock, a timer armed on a deadline that has passed fires before
// UntilWithSync lists (the fake clock's After(0) never fires, which hid it): the wait must
// drop the expired mark instead of listing again and again until the delete times out.
// The lists: the first look, the settle phase, the wait until the deadline, and one more
// look after it.
func TestWaitForEarlierUninstalls_DeadlinePassingOnTheRealClockListsOnce(t *testing.T) {
	// RFC 3339 keeps whole seconds: the mark ends 1s to 2s from now.
	until := time.Now().Add(2 * time.Second).Truncate(time.Second)
	cs := fake.NewClientset(appConfigMap("podinfo", 0, until), appConfigMap("ingress", 100, time.Time{}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var lists atomic.Int32
	cs.PrependReactor("list", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		if lists.Add(1) > 1000 {
			cancel() // it spins: end it here rather than at a timeout
		}
		return false, nil, nil
	})
	apps, err := NewClientForInterface(cs).WithClock(clock.RealClock{}).WaitForEarlierUninstalls(ctx, InstallSpec{Name: "ingress", UninstallOrder: 100}, DefaultUninstallSettle)
	if err != nil || !slices.Equal(apps, []string{"podinfo"}) {
		t.Fatalf("got %v, %v after %d lists", apps, err, lists.Load())
	}
	if n := lists.Load(); n != 4 {
		t.Fatalf("%d lists, want 4", n)
	}
}

// A refused connection on the first list is retried on the client's clock; a 503 on the
// informer's list is retried by the informer; the wait then sees the app's delete done.
func TestWaitForEarlierUninstalls_RetriesTransientErrors(t *testing.T) {
	cs := fake.NewClientset(appConfigMap("podinfo", 0, orderT0.Add(10*time.Minute)), appConfigMap("ingress", 100, time.Time{}))
	var lists atomic.Int32
	cs.PrependReactor("list", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		switch lists.Add(1) {
		case 1:
			return true, nil, connRefused()
		case 4: // the wait phase's informer
			return true, nil, apierrors.NewServiceUnavailable("later")
		case 5: // podinfo's delete is done by the informer's next try
			_ = cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("configmaps"), DefaultInstallNamespace, ValuesConfigMapName("podinfo"))
		}
		return false, nil, nil
	})
	clk := newStepClock()
	clk.SetTime(orderT0)
	apps, err := NewClientForInterface(cs).WithClock(clk).WaitForEarlierUninstalls(context.Background(), InstallSpec{Name: "ingress", UninstallOrder: 100}, DefaultUninstallSettle)
	if err != nil || !slices.Equal(apps, []string{"podinfo"}) {
		t.Fatalf("got %v, %v", apps, err)
	}
	if n := lists.Load(); n != 5 || len(clk.Pauses()) != 1 {
		t.Fatalf("%d lists, pauses %v", n, clk.Pauses())
	}
}

// A permanent answer to the informer's list (the informer would retry it until ctx ends)
// ends the wait at once, in our words.
func TestWaitForEarlierUninstalls_PermanentErrorEndsWait(t *testing.T) {
	cs := fake.NewClientset(appConfigMap("podinfo", 0, orderT0.Add(10*time.Minute)), appConfigMap("ingress", 100, time.Time{}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var lists atomic.Int32
	cs.PrependReactor("list", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		n := lists.Add(1)
		if n >= 4 {
			cancel() // retried: end it here rather than at a timeout
		}
		if n >= 2 {
			return true, nil, apierrors.NewForbidden(corev1.Resource("configmaps"), "", errors.New("<html>server text</html>"))
		}
		return false, nil, nil
	})
	_, err := NewClientForInterface(cs).WithClock(useUninstallClock(t)).WaitForEarlierUninstalls(ctx, InstallSpec{Name: "ingress", UninstallOrder: 100}, DefaultUninstallSettle)
	want := "watch config maps in clusterkit-managed-apps: the API server answered HTTP 403 (the credential lacks permission for this operation)"
	if err == nil || err.Error() != want || lists.Load() != 2 {
		t.Fatalf("got %v after %d lists", err, lists.Load())
	}
}
