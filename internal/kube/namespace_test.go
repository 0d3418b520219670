package kube

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// A namespace that exists and is not terminating will never go away: waiting for it must
// return at once (another resource created it while we were about to wait), not hang.
func TestWaitNamespaceGone_ActiveNamespaceIsNotWaitedFor(t *testing.T) {
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "clusterkit-managed-apps"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := NewClientForInterface(cs).WaitNamespaceGone(ctx, "clusterkit-managed-apps"); err != nil {
		t.Fatalf("err = %v, want nil without waiting", err)
	}
	if ctx.Err() != nil {
		t.Fatal("waited until the deadline")
	}
}

func TestWaitNamespaceGone_MissingNamespace(t *testing.T) {
	if err := NewClientForInterface(fake.NewClientset()).WaitNamespaceGone(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
}

func terminatingNamespace(name string) *corev1.Namespace {
	now := metav1.NewTime(stepT0)
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, DeletionTimestamp: &now, Finalizers: []string{"kubernetes"}}}
}

// The namespace's watch is cut as soon as it opens, every time: the wait backs off on the
// client's clock (capped at 10s) instead of calling the API server in a tight loop.
func TestWaitNamespaceGone_WatchCutAtOnceBacksOff(t *testing.T) {
	cs := fake.NewClientset(terminatingNamespace("team-a"))
	clk := newStepClock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gets, watches := 0, 0
	cs.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		if gets++; clk.Since(stepT0) >= 10*time.Minute || gets > 20000 {
			cancel() // ten (virtual) minutes are over, or the loop does not back off at all
		}
		return false, nil, nil
	})
	cs.PrependWatchReactor("namespaces", func(k8stesting.Action) (bool, watch.Interface, error) {
		watches++
		return true, watch.NewEmptyWatch(), nil
	})
	err := NewClientForInterface(cs).WithClock(clk).WaitNamespaceGone(ctx, "team-a")
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "namespace team-a is still terminating") {
		t.Fatalf("got %v", err)
	}
	t.Logf("%d gets, %d watches in 10 virtual minutes", gets, watches)
	// 6 pauses ramp up to 6.4s (12.6s to 15.1s in all), then 10s to 12s each.
	if gets < 55 || gets > 66 || watches < gets-1 || watches > gets {
		t.Fatalf("%d gets and %d watches in 10 minutes, want 55 to 66 of each", gets, watches)
	}
}

// Refused connections, a 503 on the get and a 500 on the watch are retried; the wait
// then sees the namespace go.
func TestWaitNamespaceGone_RetriesTransientErrors(t *testing.T) {
	cs := fake.NewClientset(terminatingNamespace("team-a"))
	gets, watches := 0, 0
	cs.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		switch gets++; gets {
		case 1:
			return true, nil, apierrors.NewServiceUnavailable("later")
		case 2:
			return true, nil, connRefused()
		}
		return false, nil, nil
	})
	cs.PrependWatchReactor("namespaces", func(k8stesting.Action) (bool, watch.Interface, error) {
		if watches++; watches == 1 {
			return true, nil, apierrors.NewInternalError(errors.New("etcd leader changed"))
		}
		w := watch.NewFakeWithChanSize(1, false)
		w.Delete(terminatingNamespace("team-a"))
		return true, w, nil
	})
	clk := newStepClock()
	if err := NewClientForInterface(cs).WithClock(clk).WaitNamespaceGone(context.Background(), "team-a"); err != nil {
		t.Fatal(err)
	}
	if gets != 4 || watches != 2 || len(clk.Pauses()) != 3 {
		t.Fatalf("%d gets, %d watches, pauses %v", gets, watches, clk.Pauses())
	}
}

// A permanent answer ends the wait at once, in our words.
func TestWaitNamespaceGone_PermanentErrorEndsWait(t *testing.T) {
	cs := fake.NewClientset(terminatingNamespace("team-a"))
	cs.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("namespaces"), "team-a", errors.New("<html>server text</html>"))
	})
	clk := newStepClock()
	err := NewClientForInterface(cs).WithClock(clk).WaitNamespaceGone(context.Background(), "team-a")
	want := "wait for namespace team-a to be deleted: the API server answered HTTP 403 (the credential lacks permission for this operation)"
	if err == nil || err.Error() != want || len(cs.Actions()) != 1 || len(clk.Pauses()) != 0 {
		t.Fatalf("got %v after %d calls and pauses %v", err, len(cs.Actions()), clk.Pauses())
	}
}
