package faultproxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPassesThroughOverHTTP2(t *testing.T) {
	e := newEnv(t)
	resp, body, err := e.get(t, "/api/v1/namespaces/a/pods")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || body != `{"kind":"PodList","path":"/api/v1/namespaces/a/pods"}` || resp.ProtoMajor != 2 {
		t.Fatalf("HTTP %d %s over HTTP/%d", resp.StatusCode, body, resp.ProtoMajor)
	}
	log := e.proxy.Requests()
	if len(log) != 1 || log[0].Method != "GET" || log[0].Path != "/api/v1/namespaces/a/pods" || log[0].Status != 200 || log[0].Fault != "" || log[0].Watch {
		t.Fatalf("log %+v", log)
	}
}

func TestRespondAnswersTheNextMatchingRequests(t *testing.T) {
	e := newEnv(t)
	rule := e.proxy.Respond(All(Method("GET"), PathContains("/secrets")), 2, http.StatusTooManyRequests, 1500*time.Millisecond)
	for i := range 2 {
		resp, body, err := e.get(t, "/api/v1/namespaces/a/secrets")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, `"reason":"TooManyRequests"`) || !strings.Contains(body, `"code":429`) {
			t.Fatalf("request %d: HTTP %d Retry-After %q %s", i, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	// Not matching: passes.
	if resp, _, err := e.get(t, "/api/v1/namespaces/a/pods"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("pods: %v %v", resp, err)
	}
	// The burst is over.
	if resp, _, err := e.get(t, "/api/v1/namespaces/a/secrets"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the burst: %v %v", resp, err)
	}
	if rule.Hits() != 2 || rule.Left() != 0 || e.hits.Load() != 2 {
		t.Fatalf("hits %d left %d backend %d", rule.Hits(), rule.Left(), e.hits.Load())
	}
	var faults []string
	for _, r := range e.proxy.Requests() {
		faults = append(faults, r.Fault+":"+http.StatusText(r.Status))
	}
	if got := strings.Join(faults, ","); got != "respond:Too Many Requests,respond:Too Many Requests,:OK,:OK" {
		t.Fatalf("log %s", got)
	}
}

func TestRespond5xxWithoutRetryAfter(t *testing.T) {
	e := newEnv(t)
	e.proxy.Respond(Any, 1, http.StatusServiceUnavailable, 0)
	resp, body, err := e.get(t, "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "" || !strings.Contains(body, `"reason":"ServiceUnavailable"`) {
		t.Fatalf("HTTP %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if e.hits.Load() != 0 {
		t.Fatal("the request reached the API server")
	}
}

func TestStallHoldsRequestsOnTheClock(t *testing.T) {
	e := newEnv(t)
	rule := e.proxy.Stall(Any, 1, 10*time.Second)
	done := make(chan int, 1)
	go func() {
		resp, _, err := e.get(t, "/api/v1/pods")
		if err != nil {
			done <- -1
			return
		}
		done <- resp.StatusCode
	}()
	waitFor(t, "the stalled request", func() bool { return rule.Hits() == 1 && e.clock.HasWaiters() })
	e.clock.Step(9 * time.Second)
	select {
	case code := <-done:
		t.Fatalf("answered (%d) before the stall ended", code)
	default:
	}
	if e.hits.Load() != 0 {
		t.Fatal("the stalled request reached the API server")
	}
	e.clock.Step(time.Second)
	if code := <-done; code != 200 {
		t.Fatalf("after the stall: %d", code)
	}
}

func TestResetAllBreaksOpenStreams(t *testing.T) {
	e := newEnv(t)
	_, r := e.watch(t, "/api/v1/pods")
	if line, err := r.ReadString('\n'); err != nil || line != watchEvents[0]+"\n" {
		t.Fatalf("first event %q %v", line, err)
	}
	if n := e.proxy.ResetAll(); n != 1 {
		t.Fatalf("reset %d connections, want 1", n)
	}
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("the watch ended cleanly after a reset")
	}
	if e.proxy.OpenConns() != 0 {
		t.Fatalf("%d connections still tracked", e.proxy.OpenConns())
	}
	// New connections work at once.
	if resp, _, err := e.get(t, "/api/v1/pods"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the reset: %v %v", resp, err)
	}
}

func TestOutageRefusesConnectionsThenComesBack(t *testing.T) {
	e := newEnv(t)
	_, r := e.watch(t, "/api/v1/pods")
	done := e.proxy.Outage(30 * time.Second)
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("the open watch survived the outage")
	}
	if _, err := net.Dial("tcp", e.proxy.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial during the outage: %v, want connection refused", err)
	}
	if _, _, err := e.get(t, "/api/v1/pods"); err == nil {
		t.Fatal("a request went through during the outage")
	}
	e.clock.Step(30 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if resp, _, err := e.newEnvClientGet(t); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the outage: %v %v", resp, err)
	}
}

// newEnvClientGet uses a fresh pool: the old one may hold the connection the outage reset.
func (e *env) newEnvClientGet(t *testing.T) (*http.Response, string, error) {
	e.client = e.newClient()
	return e.get(t, "/api/v1/pods")
}

func TestBlackholeAcceptsButNeverAnswers(t *testing.T) {
	e := newEnv(t)
	done := e.proxy.Blackhole(time.Minute)
	raw, err := net.Dial("tcp", e.proxy.Addr())
	if err != nil {
		t.Fatalf("dial during a blackhole: %v (it accepts)", err)
	}
	defer raw.Close()
	handshake := make(chan error, 1)
	go func() { handshake <- tls.Client(raw, &tls.Config{InsecureSkipVerify: true}).Handshake() }() //nolint:gosec // only to see whether anyone answers
	waitFor(t, "the held connection", func() bool {
		e.proxy.mu.Lock()
		defer e.proxy.mu.Unlock()
		return len(e.proxy.held) == 1
	})
	select {
	case err := <-handshake:
		t.Fatalf("the TLS handshake finished during the blackhole: %v", err)
	default:
	}
	e.clock.Step(time.Minute)
	<-done
	if err := <-handshake; err == nil {
		t.Fatal("the held connection got a handshake")
	}
	if resp, _, err := e.newEnvClientGet(t); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the blackhole: %v %v", resp, err)
	}
}

func TestCutWatchAfterTheFirstEvent(t *testing.T) {
	e := newEnv(t)
	rule := e.proxy.CutWatches(PathContains("/pods"), 1, 1, false)
	_, r := e.watch(t, "/api/v1/pods")
	got, err := io.ReadAll(r)
	if err == nil {
		t.Fatal("the cut stream ended cleanly (EOF); a client must see it broken")
	}
	if string(got) != watchEvents[0]+"\n" {
		t.Fatalf("received %q, want exactly the first event", got)
	}
	if rule.Hits() != 1 {
		t.Fatalf("hits %d", rule.Hits())
	}
	// The next watch is whole.
	_, r = e.watch(t, "/api/v1/pods")
	for i, want := range watchEvents {
		if line, err := r.ReadString('\n'); err != nil || line != want+"\n" {
			t.Fatalf("event %d of the next watch: %q %v", i, line, err)
		}
	}
}

func TestCutWatchMidEvent(t *testing.T) {
	e := newEnv(t)
	e.proxy.CutWatches(Any, 1, 1, true)
	_, r := e.watch(t, "/api/v1/pods")
	got, err := io.ReadAll(r)
	if err == nil {
		t.Fatal("the cut stream ended cleanly")
	}
	second := watchEvents[1] + "\n"
	if want := watchEvents[0] + "\n" + second[:len(second)/2]; string(got) != want {
		t.Fatalf("received %q, want the first event and half of the second: %q", got, want)
	}
}

func TestCutWatchIgnoresPlainRequests(t *testing.T) {
	e := newEnv(t)
	rule := e.proxy.CutWatches(Any, 1, 0, false)
	if resp, body, err := e.get(t, "/api/v1/pods"); err != nil || resp.StatusCode != 200 || !strings.Contains(body, "PodList") {
		t.Fatalf("list: %v %q %v", resp, body, err)
	}
	if rule.Hits() != 0 {
		t.Fatal("a list counted as a watch")
	}
}

func TestOnRequestRunsOnceBeforeTheRequestGoesOn(t *testing.T) {
	e := newEnv(t)
	var seen []string
	var backendAtHook int32 = -1
	h := e.proxy.OnRequest(Watches, func(r *http.Request) {
		seen = append(seen, r.URL.Path)
		backendAtHook = e.hits.Load()
	})
	if _, _, err := e.get(t, "/api/v1/pods"); err != nil {
		t.Fatal(err)
	}
	_, r := e.watch(t, "/api/v1/namespaces/x/pods")
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	<-h.Done()
	_, r = e.watch(t, "/api/v1/namespaces/y/pods")
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != "/api/v1/namespaces/x/pods" || backendAtHook != 1 {
		t.Fatalf("hook saw %v with %d backend requests before it", seen, backendAtHook)
	}
}

func TestUnreachableTargetBreaksTheStream(t *testing.T) {
	e := newEnv(t)
	e.backend.Close()
	resp, _, err := e.get(t, "/api/v1/pods")
	if err == nil {
		t.Fatalf("got HTTP %d from a proxy whose API server is down, want a broken stream", resp.StatusCode)
	}
	if log := e.proxy.Requests(); len(log) != 1 || log[0].Status != 0 {
		t.Fatalf("log %+v", log)
	}
}

func TestClearDropsEveryRule(t *testing.T) {
	e := newEnv(t)
	e.proxy.Respond(Any, -1, 500, 0)
	e.proxy.Clear()
	if resp, _, err := e.get(t, "/api/v1/pods"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after Clear: %v %v", resp, err)
	}
}

func TestHoldWithholdsEventsUntilRelease(t *testing.T) {
	e := newEnv(t)
	rule := e.proxy.Hold(PathContains("/pods"), 1)
	resp, r := e.watch(t, "/api/v1/pods") // the headers come back at once
	if resp.StatusCode != 200 || rule.Hits() != 1 {
		t.Fatalf("HTTP %d, hits %d", resp.StatusCode, rule.Hits())
	}
	got := make(chan string, 1)
	go func() {
		line, _ := r.ReadString('\n')
		got <- line
	}()
	waitFor(t, "the API server to have sent its events", func() bool { return e.hits.Load() == 1 })
	select {
	case line := <-got:
		t.Fatalf("an event passed before the release: %q", line)
	default:
	}
	rule.Release()
	if line := <-got; line != watchEvents[0]+"\n" {
		t.Fatalf("after the release: %q", line)
	}
}

func TestResetBreaksAHeldWatch(t *testing.T) {
	e := newEnv(t)
	e.proxy.Hold(Any, 1)
	_, r := e.watch(t, "/api/v1/pods")
	e.proxy.ResetAll()
	if got, err := io.ReadAll(r); err == nil || len(got) != 0 {
		t.Fatalf("a held watch after a reset: %q %v, want nothing and a broken stream", got, err)
	}
}

func TestBreakEndsAHeldWatchWithoutItsEvents(t *testing.T) {
	e := newEnv(t)
	rule := e.proxy.Hold(Any, 1)
	_, r := e.watch(t, "/api/v1/pods")
	waitFor(t, "the API server to have sent its events", func() bool { return e.hits.Load() == 1 })
	rule.Break()
	if got, err := io.ReadAll(r); err == nil || len(got) != 0 {
		t.Fatalf("a broken held watch: %q %v, want no event and a broken stream", got, err)
	}
	// Open streams of other requests are not affected.
	if resp, _, err := e.get(t, "/api/v1/pods"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the break: %v %v", resp, err)
	}
}
