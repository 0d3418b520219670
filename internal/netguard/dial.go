package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
)

// RedirectError reports a 3xx answer. Redirects are never followed: client-go would
// otherwise resend the bearer token to wherever the server points.
type RedirectError struct {
	StatusCode int
	// Location is the raw header value. It is server-controlled, so Error shows only
	// its host.
	Location string
}

func (e *RedirectError) Error() string {
	msg := fmt.Sprintf("the cluster API server answered with a redirect (HTTP %d)", e.StatusCode)
	if u, err := url.Parse(e.Location); err == nil && u.Hostname() != "" {
		msg += fmt.Sprintf(" to host %q", u.Hostname())
	}
	return msg + "; redirects are not followed"
}

// DialContext returns a dial function that refuses blocked addresses after name
// resolution, right before each connect, so DNS answers (including rebinding between
// validation and use) cannot steer connections to local addresses. d is copied, never
// modified; its Control or ControlContext hook still runs after the check.
func (p Policy) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var base net.Dialer
	if d != nil {
		base = *d
	}
	prevCtx, prev := base.ControlContext, base.Control
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		switch network {
		case "tcp", "tcp4", "tcp6":
		default:
			// Unix sockets and the like have no address to vet.
			return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("netguard: network %q is not allowed", network)}
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		dd := base
		dd.Control = nil // ignored anyway once ControlContext is set
		dd.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
			if !p.AllowLocal {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					// Fail closed: an address we cannot read is one we cannot vet.
					return fmt.Errorf("netguard: cannot check dial address %q: %w", address, err)
				}
				if err := p.CheckAddr(ap.Addr()); err != nil {
					var be *BlockedError
					if errors.As(err, &be) {
						be.Host = host
					}
					return err
				}
			}
			switch {
			case prevCtx != nil:
				return prevCtx(ctx, network, address, c)
			case prev != nil:
				return prev(network, address, c)
			}
			return nil
		}
		return dd.DialContext(ctx, network, addr)
	}
}

// WrapTransport returns rt (or http.DefaultTransport if nil) wrapped so that any 3xx
// response is closed and turned into a *RedirectError, whatever AllowLocal says.
func (p Policy) WrapTransport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &noRedirectTransport{next: rt}
}

type noRedirectTransport struct{ next http.RoundTripper }

func (t *noRedirectTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		if resp.Body != nil {
			resp.Body.Close()
		}
		return nil, &RedirectError{StatusCode: resp.StatusCode, Location: resp.Header.Get("Location")}
	}
	return resp, nil
}

// WrappedRoundTripper lets client-go and others look through the wrapper.
func (t *noRedirectTransport) WrappedRoundTripper() http.RoundTripper { return t.next }

// NoRedirects is an http.Client CheckRedirect function that refuses every redirect.
func NoRedirects(req *http.Request, via []*http.Request) error {
	e := &RedirectError{}
	if req != nil {
		if req.Response != nil {
			e.StatusCode = req.Response.StatusCode
			e.Location = req.Response.Header.Get("Location")
		}
		if e.Location == "" && req.URL != nil {
			e.Location = req.URL.String()
		}
	}
	return e
}
