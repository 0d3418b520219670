package kube

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// readyzServer answers /readyz with codes[i] on the i-th call, then 200.
func readyzServer(t *testing.T, onCall func(n int32), codes ...int) (*Client, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		n := calls.Add(1)
		if onCall != nil {
			onCall(n)
		}
		if int(n) <= len(codes) {
			http.Error(w, "<html>server text</html>", codes[n-1])
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return NewClientForInterface(cs), &calls
}

// A starting API server answers 500 and 503 before it is ready: polled on, with backoff.
func TestWaitReady_RetriesUntilReady(t *testing.T) {
	c, calls := readyzServer(t, nil, 500, 503)
	clk := newStepClock()
	if err := c.WithClock(clk).WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || len(clk.Pauses()) != 2 {
		t.Fatalf("%d calls, pauses %v", calls.Load(), clk.Pauses())
	}
}

// A 403 will not change by waiting: the wait ends at once, in our words.
func TestWaitReady_ForbiddenEndsWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, calls := readyzServer(t, func(n int32) {
		if n >= 3 {
			cancel() // retried: end it here rather than at a timeout
		}
	}, 403, 403, 403)
	err := c.WithClock(newStepClock()).WaitReady(ctx)
	want := "wait for the API server to be ready: the API server answered HTTP 403 (the credential lacks permission for this operation)"
	if err == nil || err.Error() != want || calls.Load() != 1 {
		t.Fatalf("got %v after %d calls", err, calls.Load())
	}
}
