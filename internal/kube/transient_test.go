package kube

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
)

// stepClock is a fake clock on which every timer fires at once: NewTimer (the backoff's
// pause) moves time forward by the timer's duration. Virtual time passes only through the
// pauses, so a test can bound the calls a wait makes per (virtual) minute without waiting.
type stepClock struct {
	*clocktesting.FakeClock
	mu     sync.Mutex
	pauses []time.Duration
}

var stepT0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func newStepClock() *stepClock { return &stepClock{FakeClock: clocktesting.NewFakeClock(stepT0)} }

func (c *stepClock) NewTimer(d time.Duration) clock.Timer {
	t := c.FakeClock.NewTimer(d)
	c.mu.Lock()
	c.pauses = append(c.pauses, d)
	c.mu.Unlock()
	c.Step(d)
	return t
}

func (c *stepClock) Pauses() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.pauses...)
}

// connRefused is what client-go returns while nothing listens on the API server's port.
func connRefused() error {
	return &url.Error{Op: "Get", URL: "https://203.0.113.10:6443/api/v1/namespaces/x/pods", Err: &net.OpError{
		Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED),
	}}
}

func TestTransientError(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	for _, tc := range []struct {
		name       string
		err        error
		transient  bool
		retryAfter time.Duration
	}{
		{"connection refused", connRefused(), true, 0},
		{"connection reset", &url.Error{Op: "Get", URL: "https://x", Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}, true, 0},
		{"stream cut", &url.Error{Op: "Get", URL: "https://x", Err: io.ErrUnexpectedEOF}, true, 0},
		{"EOF", io.EOF, true, 0},
		{"name not resolved", &url.Error{Op: "Get", URL: "https://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}}}, true, 0},
		{"request timeout", &url.Error{Op: "Get", URL: "https://x", Err: context.DeadlineExceeded}, true, 0},
		{"500", apierrors.NewInternalError(errors.New("etcd")), true, 0},
		{"503", apierrors.NewServiceUnavailable("later"), true, 0},
		{"504", apierrors.NewTimeoutError("slow", 0), true, 0},
		{"server timeout with a hint", apierrors.NewServerTimeout(pods, "list", 3), true, 3 * time.Second},
		{"429 with Retry-After", apierrors.NewTooManyRequests("slow down", 7), true, 7 * time.Second},
		{"429 with a huge Retry-After is capped", apierrors.NewTooManyRequests("slow down", 86400), true, retryAfterCap},
		{"our APIError of a 502", &APIError{Op: "list pods", Status: 502}, true, 0},
		{"wrapped 503", wrap("list pods", apierrors.NewServiceUnavailable("later")), true, 0},
		{"501", apierrors.NewGenericServerResponse(501, "get", pods, "x", "", 0, false), false, 0},
		{"400", apierrors.NewBadRequest("bad"), false, 0},
		{"401", apierrors.NewUnauthorized("who"), false, 0},
		{"403", apierrors.NewForbidden(pods, "x", errors.New("no")), false, 0},
		{"404", apierrors.NewNotFound(pods, "x"), false, 0},
		{"409", apierrors.NewConflict(pods, "x", errors.New("stale")), false, 0},
		{"410", apierrors.NewResourceExpired("too old"), false, 0},
		{"422", apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "x", nil), false, 0},
		{"SSRF refusal at dial time", &url.Error{Op: "Get", URL: "https://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &netguard.BlockedError{Class: "loopback"}}}, false, 0},
		{"redirect refused", &url.Error{Op: "Get", URL: "https://x", Err: &netguard.RedirectError{StatusCode: 302}}, false, 0},
		{"unknown CA", &url.Error{Op: "Get", URL: "https://x", Err: x509.UnknownAuthorityError{}}, false, 0},
		{"cancelled", context.Canceled, false, 0},
		{"local refusal", &LocalError{Msg: "no"}, false, 0},
		{"unknown error", errors.New("decoding failed"), false, 0},
		{"HTTP/2 connection lost", &url.Error{Op: "Get", URL: "https://x", Err: errors.New("http2: client connection lost")}, true, 0},
		{"GOAWAY", &url.Error{Op: "Get", URL: "https://x", Err: errors.New("http2: server sent GOAWAY and closed the connection; LastStreamID=1")}, true, 0},
		{"timed out", os.NewSyscallError("read", syscall.ETIMEDOUT), true, 0},
		{"a token that could not be minted", &url.Error{Op: "Get", URL: "https://x", Err: errors.New("AWS STS: access denied")}, false, 0},
		{"a server speaking plain HTTP", &url.Error{Op: "Get", URL: "https://x", Err: errors.New("http: server gave HTTP response to HTTPS client")}, false, 0},
		{"nil", nil, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, after := transientError(tc.err)
			if ok != tc.transient || after != tc.retryAfter {
				t.Fatalf("transientError(%v) = %v, %s; want %v, %s", tc.err, ok, after, tc.transient, tc.retryAfter)
			}
		})
	}
}

// The backoff doubles from 200ms to its 10s cap (each step up to 20% longer), honours a
// longer Retry-After, and starts over after progress.
func TestRetryWait_Backoff(t *testing.T) {
	clk := newStepClock()
	r := newRetryWait(clk)
	ctx := context.Background()
	for range 9 {
		if err := r.retry(ctx, "list pods", apierrors.NewServiceUnavailable("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.retry(ctx, "list pods", apierrors.NewTooManyRequests("x", 30), nil); err != nil {
		t.Fatal(err)
	}
	r.reset()
	if err := r.retry(ctx, "list pods", connRefused(), nil); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000, 30000, 200}
	got := clk.Pauses()
	if len(got) != len(want) {
		t.Fatalf("pauses %v", got)
	}
	for i, ms := range want {
		lo := ms * time.Millisecond
		if got[i] < lo || got[i] > lo+lo/5 {
			t.Errorf("pause %d = %s, want %s to %s", i, got[i], lo, lo+lo/5)
		}
	}

	// A permanent error is returned as it is, without a pause; so is any error once ctx is over.
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x", errors.New("no"))
	if err := r.retry(ctx, "list pods", forbidden, nil); err != forbidden {
		t.Fatalf("got %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.retry(cancelled, "list pods", connRefused(), nil); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("got %v", err)
	}
	if n := len(clk.Pauses()); n != len(want) {
		t.Fatalf("%d pauses after permanent errors, want %d", n, len(want))
	}
}

// The shapes net/http really returns: a closed port, and a server whose certificate the
// client does not trust.
func TestTransientError_RealTransportErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err := http.Get(closed.URL)
	if ok, _ := transientError(err); err == nil || !ok || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connection refused: %v is transient = %v", err, ok)
	}
	untrusted := httptest.NewTLSServer(http.NotFoundHandler())
	defer untrusted.Close()
	_, err = http.Get(untrusted.URL)
	if ok, _ := transientError(err); err == nil || ok {
		t.Errorf("unknown CA: %v is transient = %v", err, ok)
	}
}
