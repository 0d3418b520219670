// Package faultproxy is a TLS-terminating proxy in front of a Kubernetes API server that
// tests program to misbehave: reset every connection, refuse or blackhole new ones for a
// while (an outage), answer the next requests matching a filter with 429 or 5xx, stall
// them, or cut watch streams after (or in the middle of) an event. Clients keep checking
// the API server's CA: the proxy serves a certificate signed by it and re-originates every
// request to the real server. It lives in the test process; nothing points at it unless a
// test hands its URL to a client.
package faultproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Options configure Start.
type Options struct {
	// Target is the API server's URL (https://host:port).
	Target string
	// TargetCAPEM is trusted for the connection to Target.
	TargetCAPEM []byte
	// Cert is what the proxy serves: a certificate for its address that the clients
	// trust (the API server's own serving certificate does, being for 127.0.0.1).
	Cert tls.Certificate
	// Addr to listen on; default 127.0.0.1:0.
	Addr string
	// Clock times outages and stalls; default the real clock. Tests pass a fake one.
	Clock clock.Clock
}

// Proxy is a running fault proxy.
type Proxy struct {
	clock  clock.Clock
	addr   string
	tlsCfg *tls.Config
	srv    *http.Server

	mu        sync.Mutex
	closed    bool
	ln        net.Listener // nil during a refusing outage
	conns     map[*trackedConn]bool
	held      []net.Conn // accepted during a blackhole
	blackhole bool
	rules     []*Rule
	hooks     []*Hook
	log       []Request
}

// Start listens and serves until Close.
func Start(opts Options) (*Proxy, error) {
	target, err := url.Parse(opts.Target)
	if err != nil || target.Scheme != "https" || target.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q is not an https URL", opts.Target)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(opts.TargetCAPEM) {
		return nil, errors.New("faultproxy: no CA certificate for the target")
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	p := &Proxy{
		clock:  opts.Clock,
		tlsCfg: &tls.Config{Certificates: []tls.Certificate{opts.Cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12},
		conns:  map[*trackedConn]bool{},
	}
	upstream := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
		Proxy:             nil,
		DialContext:       (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		IdleConnTimeout:   30 * time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = target.Host },
		Transport:     upstream,
		FlushInterval: -1, // watch events pass at once
		ErrorLog:      log.New(io.Discard, "", 0),
		// An unreachable API server looks to the client like a broken connection, not
		// like a 502 from something in between.
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) { panic(http.ErrAbortHandler) },
		ModifyResponse: func(resp *http.Response) error {
			rule, _ := resp.Request.Context().Value(ruleKey{}).(*Rule)
			switch {
			case rule == nil:
			case rule.kind == kindCut:
				resp.Body = &cutBody{r: resp.Body, events: rule.events, mid: rule.mid}
			case rule.kind == kindHold:
				resp.Body = &holdBody{r: resp.Body, release: rule.release, broken: rule.broken, ctx: resp.Request.Context()}
			}
			return nil
		},
	}
	p.srv = &http.Server{Handler: p.handler(rp), ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, err
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	return p, nil
}

// URL is what a client uses instead of the API server's.
func (p *Proxy) URL() string { return "https://" + p.addr }

// Addr is host:port of the proxy.
func (p *Proxy) Addr() string { return p.addr }

// Close stops the proxy and ends every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	p.ResetAll()
	p.releaseHeld()
	return p.srv.Close()
}

func (p *Proxy) serve(raw net.Listener) {
	p.mu.Lock()
	p.ln = raw
	p.mu.Unlock()
	go func() { _ = p.srv.Serve(tls.NewListener(&listener{Listener: raw, p: p}, p.tlsCfg)) }()
}

// ResetAll ends every open client connection now with a TCP reset, as a crashed server
// or a middlebox would. It returns how many there were.
func (p *Proxy) ResetAll() int {
	p.mu.Lock()
	conns := make([]*trackedConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.reset()
	}
	return len(conns)
}

// OpenConns is how many client connections are open.
func (p *Proxy) OpenConns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Outage resets every connection and refuses new ones (the port is closed: connection
// refused) for d, then listens again on the same address. The channel closes once the
// proxy accepts connections again; the error reports a failure to listen again.
func (p *Proxy) Outage(d time.Duration) <-chan error {
	done := make(chan error, 1)
	timer := p.clock.NewTimer(d) // armed before returning, so a fake clock can step at once
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	p.ResetAll()
	go func() {
		defer close(done)
		<-timer.C()
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			return
		}
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			done <- fmt.Errorf("faultproxy: listening again on %s: %w", p.addr, err)
			return
		}
		p.serve(ln)
	}()
	return done
}

// Blackhole resets every connection, then accepts new ones but never answers them (no
// TLS handshake, nothing read) for d; then resets those and serves normally again. The
// channel closes when the blackhole ends.
func (p *Proxy) Blackhole(d time.Duration) <-chan struct{} {
	done := make(chan struct{})
	timer := p.clock.NewTimer(d)
	p.mu.Lock()
	p.blackhole = true
	p.mu.Unlock()
	p.ResetAll()
	go func() {
		defer close(done)
		<-timer.C()
		p.mu.Lock()
		p.blackhole = false
		p.mu.Unlock()
		p.releaseHeld()
	}()
	return done
}

func (p *Proxy) releaseHeld() {
	p.mu.Lock()
	held := p.held
	p.held = nil
	p.mu.Unlock()
	for _, c := range held {
		resetConn(c)
	}
}

// listener tracks the connections it hands out and holds them during a blackhole.
type listener struct {
	net.Listener
	p *Proxy
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.p.mu.Lock()
		if l.p.blackhole {
			l.p.held = append(l.p.held, c)
			l.p.mu.Unlock()
			continue
		}
		tc := &trackedConn{Conn: c, p: l.p}
		l.p.conns[tc] = true
		l.p.mu.Unlock()
		return tc, nil
	}
}

type trackedConn struct {
	net.Conn
	p    *Proxy
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.forget()
	return c.Conn.Close()
}

func (c *trackedConn) forget() {
	c.once.Do(func() {
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	})
}

func (c *trackedConn) reset() {
	c.forget()
	resetConn(c.Conn)
}

// resetConn closes with SO_LINGER 0: the peer gets RST, not FIN.
func resetConn(c net.Conn) {
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = c.Close()
}

// Request is one request the proxy saw, for tests' assertions.
type Request struct {
	Method, Path, Query string
	Watch               bool
	Received, Answered  time.Time // Answered: when the response (its headers) went out
	Status              int       // what the client got; 0 if the stream broke before that
	Fault               string    // "" when passed through untouched
}

// Requests is the log of every request so far, in arrival order.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.log...)
}

// Clear drops every rule and hook (the log stays): the proxy passes everything through.
func (p *Proxy) Clear() {
	p.mu.Lock()
	p.rules, p.hooks = nil, nil
	p.mu.Unlock()
}

type ruleKey struct{}

func (p *Proxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		i := len(p.log)
		p.log = append(p.log, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Watch: IsWatch(r), Received: p.clock.Now()})
		var fire []*Hook
		for _, h := range p.hooks {
			if !h.fired && h.filter(r) {
				h.fired = true
				fire = append(fire, h)
			}
		}
		rule := p.take(r)
		p.mu.Unlock()
		for _, h := range fire {
			h.fn(r)
			close(h.done)
		}
		rec := &recorder{ResponseWriter: w, p: p, i: i, watch: IsWatch(r)}
		defer func() {
			if rec.status == 0 { // nothing went out: the stream broke
				p.mu.Lock()
				p.log[i].Answered = p.clock.Now()
				p.mu.Unlock()
			}
		}()
		if rule == nil {
			next.ServeHTTP(rec, r)
			return
		}
		p.setFault(i, rule.kind)
		switch rule.kind {
		case kindRespond:
			if rule.retryAfter > 0 {
				w.Header().Set("Retry-After", fmt.Sprint(int((rule.retryAfter+time.Second-1)/time.Second)))
			}
			w.Header().Set("Content-Type", "application/json")
			rec.WriteHeader(rule.status)
			_, _ = fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"faultproxy: injected %d","reason":%q,"code":%d}`,
				rule.status, reason(rule.status), rule.status)
		case kindStall:
			t := p.clock.NewTimer(rule.stall)
			defer t.Stop()
			select {
			case <-t.C():
			case <-r.Context().Done():
				return
			}
			next.ServeHTTP(rec, r)
		case kindCut, kindHold:
			next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), ruleKey{}, rule)))
		}
	})
}

func (p *Proxy) setFault(i int, kind string) {
	p.mu.Lock()
	p.log[i].Fault = kind
	p.mu.Unlock()
}

// take returns the first rule with uses left that matches r, and uses it once.
func (p *Proxy) take(r *http.Request) *Rule {
	for _, rule := range p.rules {
		if rule.left != 0 && rule.filter(r) {
			if rule.left > 0 {
				rule.left--
			}
			rule.hits++
			return rule
		}
	}
	return nil
}

type recorder struct {
	http.ResponseWriter
	p      *Proxy
	i      int
	status int
	watch  bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		r.p.mu.Lock()
		r.p.log[r.i].Status, r.p.log[r.i].Answered = code, r.p.clock.Now()
		r.p.mu.Unlock()
	}
	r.ResponseWriter.WriteHeader(code)
	if r.watch {
		r.Flush() // as the API server does: the client knows its watch is open
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// Flush and Unwrap let ReverseProxy stream watch events through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func reason(code int) string {
	switch code {
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusGatewayTimeout:
		return "Timeout"
	}
	return "InternalError"
}
