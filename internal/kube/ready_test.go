package kube

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

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

// A new cluster may not know the creator's role for a moment: 401s are waited out for a
// while, then a 401 that persists ends the wait in our words.
func TestWaitReady_UnauthorizedWaitedOutOnlyForAWhile(t *testing.T) {
	c, calls := readyzServer(t, nil, 401, 401)
	clk := newStepClock()
	if err := c.WithClock(clk).WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || len(clk.Pauses()) != 2 {
		t.Fatalf("%d calls, pauses %v", calls.Load(), clk.Pauses())
	}

	codes := make([]int, 100)
	for i := range codes {
		codes[i] = 401
	}
	c, calls = readyzServer(t, nil, codes...)
	clk = newStepClock()
	err := c.WithClock(clk).WaitReady(context.Background())
	want := "wait for the API server to be ready: the API server answered HTTP 401 (the token was not accepted: check that it is valid and not expired)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
	var waited time.Duration
	for _, p := range clk.Pauses() {
		waited += p
	}
	// Backoff from 500ms capped at 10s: the grace of 2 minutes ends after about 17 calls.
	if n := calls.Load(); n < 10 || n > 25 || waited < newClusterAuthGrace || waited > newClusterAuthGrace+readyPollCap+readyPollCap/5 {
		t.Fatalf("%d calls over %s of pauses", n, waited)
	}
}
