package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Filter selects requests.
type Filter func(*http.Request) bool

// Any matches every request.
func Any(*http.Request) bool { return true }

// Method matches one HTTP verb.
func Method(m string) Filter { return func(r *http.Request) bool { return r.Method == m } }

// PathContains matches requests whose path contains s.
func PathContains(s string) Filter {
	return func(r *http.Request) bool { return strings.Contains(r.URL.Path, s) }
}

// Query matches requests whose query parameter key is exactly value.
func Query(key, value string) Filter {
	return func(r *http.Request) bool { return r.URL.Query().Get(key) == value }
}

// Watches matches watch requests (?watch=true, or the old /watch/ paths).
func Watches(r *http.Request) bool { return IsWatch(r) }

// IsWatch tells a watch request.
func IsWatch(r *http.Request) bool {
	return r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1" || strings.Contains(r.URL.Path, "/watch/")
}

// All matches what every filter matches.
func All(fs ...Filter) Filter {
	return func(r *http.Request) bool {
		for _, f := range fs {
			if !f(r) {
				return false
			}
		}
		return true
	}
}

// Not inverts a filter.
func Not(f Filter) Filter { return func(r *http.Request) bool { return !f(r) } }

const (
	kindRespond = "respond"
	kindStall   = "stall"
	kindCut     = "cut"
	kindHold    = "hold"
)

// Rule is one programmed fault. A request gets at most one: the first rule, in the order
// they were added, that matches and has uses left.
type Rule struct {
	p          *Proxy
	kind       string
	filter     Filter
	left, hits int
	status     int
	retryAfter time.Duration
	stall      time.Duration
	events     int
	mid        bool
	release    chan struct{} // Hold: closed by Release
	broken     chan struct{} // Hold: closed by Break
	once       sync.Once
	breakOnce  sync.Once
}

// Hits is how many requests the rule has been applied to.
func (r *Rule) Hits() int {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	return r.hits
}

// Left is how many uses remain (negative: unlimited).
func (r *Rule) Left() int {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	return r.left
}

// Remove retires the rule.
func (r *Rule) Remove() {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	r.left = 0
}

func (p *Proxy) add(r *Rule) *Rule {
	r.p = p
	p.mu.Lock()
	p.rules = append(p.rules, r)
	p.mu.Unlock()
	return r
}

// Respond answers the next n requests matching f itself, with status and a Kubernetes
// Status body, and a Retry-After header (whole seconds, rounded up) when retryAfter > 0.
// n < 0: every matching request until Remove.
func (p *Proxy) Respond(f Filter, n, status int, retryAfter time.Duration) *Rule {
	return p.add(&Rule{kind: kindRespond, filter: f, left: n, status: status, retryAfter: retryAfter})
}

// Stall holds the next n requests matching f for d (on the proxy's clock) before passing
// them on; a client that gives up first gets nothing.
func (p *Proxy) Stall(f Filter, n int, d time.Duration) *Rule {
	return p.add(&Rule{kind: kindStall, filter: f, left: n, stall: d})
}

// CutWatches passes the next n watch streams matching f until afterEvents events have
// gone through, then breaks the stream (an HTTP/2 stream reset, or the connection for
// HTTP/1). With midEvent, the first half of the following event goes out before the
// break, so the client's decoder meets a truncated object. Events are the lines of a
// JSON watch stream.
func (p *Proxy) CutWatches(f Filter, n, afterEvents int, midEvent bool) *Rule {
	return p.add(&Rule{kind: kindCut, filter: All(Watches, f), left: n, events: afterEvents, mid: midEvent})
}

// Hold passes the next n watch requests matching f on and their response headers back,
// but withholds the stream's events until Release (or until the stream breaks): the
// client is watching, yet learns nothing, until the test has made its fault happen.
func (p *Proxy) Hold(f Filter, n int) *Rule {
	return p.add(&Rule{kind: kindHold, filter: All(Watches, f), left: n, release: make(chan struct{}), broken: make(chan struct{})})
}

// Break ends held streams broken (Hold), discarding what was withheld: as if the API
// server had died before sending it.
func (r *Rule) Break() {
	if r.broken != nil {
		r.breakOnce.Do(func() { close(r.broken) })
	}
}

// Release lets held streams go on (Hold); events withheld so far go out.
func (r *Rule) Release() {
	if r.release != nil {
		r.once.Do(func() { close(r.release) })
	}
}

// holdBody waits for the release before reading the API server's stream.
type holdBody struct {
	r       io.ReadCloser
	release <-chan struct{}
	broken  <-chan struct{}
	ctx     context.Context
}

func (h *holdBody) Read(p []byte) (int, error) {
	select {
	case <-h.broken:
		return 0, errCut
	default:
	}
	select {
	case <-h.release:
	case <-h.broken:
		return 0, errCut
	case <-h.ctx.Done():
		return 0, h.ctx.Err()
	}
	return h.r.Read(p)
}

func (h *holdBody) Close() error { return h.r.Close() }

// Hook runs a test's function on the first request matching its filter.
type Hook struct {
	filter Filter
	fn     func(*http.Request)
	fired  bool
	done   chan struct{}
}

// Done closes once the hook's function has returned.
func (h *Hook) Done() <-chan struct{} { return h.done }

// OnRequest calls fn with the first request matching f, before any rule applies and
// before the request goes on: the request waits for fn, so fn can also stall it. Start
// slow work in a goroutine instead.
func (p *Proxy) OnRequest(f Filter, fn func(*http.Request)) *Hook {
	h := &Hook{filter: f, fn: fn, done: make(chan struct{})}
	p.mu.Lock()
	p.hooks = append(p.hooks, h)
	p.mu.Unlock()
	return h
}

// errCut is what a cut watch body returns; ReverseProxy then aborts the response.
var errCut = errors.New("faultproxy: watch stream cut")

// cutBody passes events whole events (lines), then, with mid, half of the next line,
// then fails.
type cutBody struct {
	r       io.ReadCloser
	events  int
	mid     bool
	seen    int
	pending []byte // a partial line, while waiting for its end (mid only)
	cut     bool
}

func (c *cutBody) Read(p []byte) (int, error) {
	for {
		if c.cut {
			return 0, errCut
		}
		if c.seen >= c.events && !c.mid {
			c.cut = true
			return 0, errCut
		}
		n, err := c.r.Read(p)
		m := 0 // bytes of p that go out
		for _, b := range p[:n] {
			if c.seen < c.events {
				p[m] = b
				m++
				if b == '\n' {
					c.seen++
					if c.seen == c.events && !c.mid {
						c.cut = true
						return m, nil
					}
				}
				continue
			}
			c.pending = append(c.pending, b)
			if b == '\n' {
				break
			}
		}
		if len(c.pending) > 0 && (bytes.HasSuffix(c.pending, []byte{'\n'}) || err == io.EOF) {
			// The next event is complete: send its first half, then break.
			c.cut = true
			return m + copy(p[m:], c.pending[:len(c.pending)/2]), nil
		}
		if m > 0 || err != nil {
			return m, err
		}
	}
}

func (c *cutBody) Close() error { return c.r.Close() }
