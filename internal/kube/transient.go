package kube

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
)

// The waits of this package outlive single calls: an install pod runs for minutes, a
// namespace finalizes for seconds or more. One failed call (a connection refused while the
// API server restarts, a 503 from a load balancer, a 429) must not end such a wait, or the
// apply fails while helm keeps running. transientError decides, in this one place, what a
// wait retries; retryWait spaces the retries on the client's clock.

const (
	// readAttempts bounds the retries of a single read that follows a wait (helm's
	// record after the install pod, the pod's logs): enough for a blip, and a refresh
	// against a cluster that is down still fails in seconds.
	readAttempts = 5

	retryBase   = 200 * time.Millisecond
	retryCap    = 10 * time.Second
	retryJitter = 0.2
	// retryAfterCap bounds a server's Retry-After: the server is user input.
	retryAfterCap = time.Minute
	// healthyWatch: a watch that stayed open this long ended normally (the server's
	// timeout), not because something cuts streams, so the next one starts at once.
	healthyWatch = 2 * time.Second
)

// transientError reports whether err, the failure of one call, may go away by itself: no
// answer came (connection refused, reset or cut, a timed-out request, a name that did not
// resolve), or the server answered 429 or 5xx (but 501 and 505: it will not learn a method
// or an HTTP version). retryAfter is the server's Retry-After hint, 0 when it gave none.
// Refusals of our own making (SSRF policy, redirects), TLS failures and every other status
// (400, 401, 403, 404, 409, 422, ...) are permanent. Callers check their context first:
// context.Canceled is permanent, a request's own timeout is not.
func transientError(err error) (transient bool, retryAfter time.Duration) {
	if err == nil || errors.Is(err, context.Canceled) {
		return false, 0
	}
	var (
		blocked          *netguard.BlockedError
		redirect         *netguard.RedirectError
		local            *LocalError
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verify           *tls.CertificateVerificationError
		header           tls.RecordHeaderError
		alert            tls.AlertError
	)
	switch {
	case errors.As(err, &blocked), errors.As(err, &redirect), errors.As(err, &local),
		errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verify), errors.As(err, &header), errors.As(err, &alert):
		return false, 0
	}
	if code := apiStatusCode(err); code != 0 {
		if code == 429 || (code >= 500 && code != 501 && code != 505) {
			return true, retryAfterHint(err)
		}
		return false, 0
	}
	return noAnswer(err), 0
}

// noAnswer: the call failed in the network, before or while an answer came. An error the
// transport stack made of its own (a token that could not be minted, a server speaking
// plain HTTP) is no such failure, and waiting would not change it.
func noAnswer(err error) bool {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	if err == nil {
		return false
	}
	var netErr net.Error // *net.OpError (dial, read, write, DNS), request and TLS handshake timeouts
	var errno syscall.Errno
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err) {
		return true
	}
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
			syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH:
			return true
		}
	}
	// net/http's own words for a connection that broke (their types are unexported).
	msg := err.Error()
	for _, broken := range []string{"http2: ", "stream error: ", "transport connection broken", "server closed idle connection"} {
		if strings.Contains(msg, broken) {
			return true
		}
	}
	return false
}

// apiStatusCode is the HTTP status of an API error (an *APIError or client-go's), 0 when
// no answer came.
func apiStatusCode(err error) int32 {
	var e *APIError
	if errors.As(err, &e) && e.Status != 0 {
		return e.Status
	}
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		return s.Status().Code
	}
	return 0
}

func retryAfterHint(err error) time.Duration {
	secs, ok := apierrors.SuggestsClientDelay(err)
	if !ok || secs <= 0 {
		return 0
	}
	return min(time.Duration(secs)*time.Second, retryAfterCap)
}

// retryWait spaces the attempts of one wait: capped exponential backoff with jitter, on
// the client's clock (tests pass a fake one).
type retryWait struct {
	clk clock.Clock
	b   wait.Backoff
	// attempts, when > 0, bounds the calls: the attempts-th transient failure in a row
	// is returned instead of retried.
	attempts, failures int
}

func newRetryWait(clk clock.Clock) *retryWait {
	r := &retryWait{clk: clk}
	r.reset()
	return r
}

// reset starts the backoff over, after a call that made progress.
func (r *retryWait) reset() {
	r.b = wait.Backoff{Duration: retryBase, Factor: 2, Jitter: retryJitter, Steps: 64, Cap: retryCap}
	r.failures = 0
}

// pause waits for the next step of the backoff (at least atLeast), or until ctx ends.
func (r *retryWait) pause(ctx context.Context, atLeast time.Duration) error {
	d := max(r.b.Step(), atLeast)
	t := r.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// retry decides what a wait does after err, the failure of one of its calls: nil (call
// again) after a pause when err is transient; err itself when it is permanent, when ctx
// is over, or when the attempts are used up; ctx.Err() when ctx ends during the pause.
// logf, when set, hears of each retry in our words (never the server's text).
func (r *retryWait) retry(ctx context.Context, op string, err error, logf func(string)) error {
	if ctx.Err() != nil {
		return err
	}
	ok, after := transientError(err)
	if !ok {
		return err
	}
	r.failures++
	if r.attempts > 0 && r.failures >= r.attempts {
		return err
	}
	if logf != nil {
		logf(fmt.Sprintf("clusterkit: %v; retrying (attempt %d)", wrap(op, err), r.failures+1))
	}
	return r.pause(ctx, after)
}

// watchEnded is called when a watch ended without an error of its own: it starts the next
// one at once after a watch that delivered changes or stayed open for a while, and backs
// off when watches keep ending at once (a proxy that cuts streams, say), so that a wait
// never turns into a tight loop of list and watch calls.
func (r *retryWait) watchEnded(ctx context.Context, changes int, opened time.Time) error {
	if changes > 0 || r.clk.Since(opened) >= healthyWatch {
		r.reset()
		return nil
	}
	return r.pause(ctx, 0)
}

// retryCall runs call until it succeeds or fails permanently (see retryWait.retry);
// attempts > 0 bounds the calls, for reads that are no wait of their own.
func (c *Client) retryCall(ctx context.Context, op string, attempts int, logf func(string), call func() error) error {
	r := newRetryWait(c.clock)
	r.attempts = attempts
	for {
		err := call()
		if err == nil {
			return nil
		}
		if rerr := r.retry(ctx, op, err, logf); rerr != nil {
			return rerr
		}
	}
}
