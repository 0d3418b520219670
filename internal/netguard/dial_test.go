package netguard

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// countingListener accepts on 127.0.0.1 and counts connections; stop closes it and
// waits for the accept loop so the count is final.
type countingListener struct {
	ln    net.Listener
	n     atomic.Int32
	wg    sync.WaitGroup
	port  string
	close sync.Once
}

func newCountingListener(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{ln: ln}
	_, cl.port, _ = net.SplitHostPort(ln.Addr().String())
	cl.wg.Add(1)
	go func() {
		defer cl.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cl.n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(cl.stop)
	return cl
}

func (cl *countingListener) stop() {
	cl.close.Do(func() { cl.ln.Close() })
	cl.wg.Wait()
}

func TestDialContext_RefusesBeforeConnect(t *testing.T) {
	cl := newCountingListener(t)
	var controlCalls atomic.Int32
	d := &net.Dialer{Timeout: 5 * time.Second, Control: func(string, string, syscall.RawConn) error {
		controlCalls.Add(1)
		return nil
	}}
	dial := Policy{}.DialContext(d)
	for _, host := range []string{"localhost", "127.0.0.1"} {
		addr := net.JoinHostPort(host, cl.port)
		conn, err := dial(context.Background(), "tcp", addr)
		if err == nil {
			conn.Close()
			t.Fatalf("dial %s succeeded, want refusal", addr)
		}
		var be *BlockedError
		if !errors.As(err, &be) {
			t.Fatalf("dial %s: %v, want *BlockedError", addr, err)
		}
		if be.Host != host || be.Class != "loopback" || !be.Addr.IsLoopback() {
			t.Errorf("dial %s: Host, Class, Addr = %q, %q, %s", addr, be.Host, be.Class, be.Addr)
		}
		if !strings.Contains(err.Error(), "allow_local_requests") {
			t.Errorf("dial %s: message %q does not mention allow_local_requests", addr, err)
		}
	}
	cl.stop()
	if n := cl.n.Load(); n != 0 {
		t.Fatalf("listener accepted %d connections, want 0", n)
	}
	if n := controlCalls.Load(); n != 0 {
		t.Errorf("caller's Control ran %d times for refused dials, want 0", n)
	}
	if d.ControlContext != nil || d.Control == nil {
		t.Error("caller's dialer was modified")
	}
}

func TestDialContext_AllowLocal(t *testing.T) {
	cl := newCountingListener(t)
	var controlCalls atomic.Int32
	d := &net.Dialer{ControlContext: func(context.Context, string, string, syscall.RawConn) error {
		controlCalls.Add(1)
		return nil
	}}
	conn, err := Policy{AllowLocal: true}.DialContext(d)(context.Background(), "tcp", "127.0.0.1:"+cl.port)
	if err != nil {
		t.Fatal(err)
	}
	// The server closes after accepting; reading to EOF proves the accept happened.
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatalf("read to EOF: %v", err)
	}
	conn.Close()
	cl.stop()
	if n := cl.n.Load(); n != 1 {
		t.Fatalf("listener accepted %d connections, want 1", n)
	}
	if n := controlCalls.Load(); n != 1 {
		t.Errorf("caller's ControlContext ran %d times, want 1", n)
	}
}

func TestDialContext_ControlErrorPropagates(t *testing.T) {
	cl := newCountingListener(t)
	sentinel := errors.New("caller says no")
	d := &net.Dialer{Control: func(string, string, syscall.RawConn) error { return sentinel }}
	_, err := Policy{AllowLocal: true}.DialContext(d)(context.Background(), "tcp", "127.0.0.1:"+cl.port)
	if !errors.Is(err, sentinel) {
		t.Fatalf("got %v, want the caller's Control error", err)
	}
}

func TestDialContext_NilDialerAndNetworks(t *testing.T) {
	dial := Policy{}.DialContext(nil)
	if _, err := dial(context.Background(), "unix", "/var/run/docker.sock"); err == nil || !strings.Contains(err.Error(), `network "unix" is not allowed`) {
		t.Errorf("unix dial: got %v", err)
	}
	var be *BlockedError
	if _, err := dial(context.Background(), "tcp6", "[::1]:1"); !errors.As(err, &be) || be.Host != "::1" || be.Class != "loopback" {
		t.Errorf("tcp6 [::1]: got %v, want loopback *BlockedError", err)
	}
	if _, err := dial(context.Background(), "tcp", "169.254.169.254:80"); !errors.As(err, &be) || be.Class != metadataClass {
		t.Errorf("metadata: got %v, want %q *BlockedError", err, metadataClass)
	}
}

func TestWrapTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/found":
			http.Redirect(w, r, "https://evil.example.net/steal?token=abc", http.StatusFound)
		case "/permanent":
			w.Header().Set("Location", "http://169.254.169.254/latest")
			w.WriteHeader(http.StatusPermanentRedirect)
		case "/notmodified":
			w.WriteHeader(http.StatusNotModified)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()

	for _, p := range []Policy{{AllowLocal: true}, {}} {
		client := &http.Client{Transport: p.WrapTransport(srv.Client().Transport)}
		tests := []struct {
			path     string
			status   int
			host     string
			location string
		}{
			{"/found", 302, "evil.example.net", "https://evil.example.net/steal?token=abc"},
			{"/permanent", 308, "169.254.169.254", "http://169.254.169.254/latest"},
			{"/notmodified", 304, "", ""},
		}
		for _, tt := range tests {
			resp, err := client.Get(srv.URL + tt.path)
			if resp != nil {
				resp.Body.Close()
				t.Fatalf("%s: got response %d, want error", tt.path, resp.StatusCode)
			}
			var re *RedirectError
			if !errors.As(err, &re) {
				t.Fatalf("%s: %v, want *RedirectError", tt.path, err)
			}
			if re.StatusCode != tt.status || re.Location != tt.location {
				t.Errorf("%s: StatusCode, Location = %d, %q; want %d, %q", tt.path, re.StatusCode, re.Location, tt.status, tt.location)
			}
			msg := re.Error()
			if !strings.Contains(msg, "redirect") || !strings.Contains(msg, "not followed") || !strings.Contains(msg, tt.host) {
				t.Errorf("%s: message %q", tt.path, msg)
			}
			if strings.Contains(msg, "token=abc") || strings.Contains(msg, "/latest") {
				t.Errorf("%s: message echoes the Location path: %q", tt.path, msg)
			}
		}

		resp, err := client.Get(srv.URL + "/ok")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("got %d %q, want 200 \"ok\"", resp.StatusCode, body)
		}
	}
}

func TestNoRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
			return
		}
		t.Errorf("redirect was followed to %s", r.URL.Path)
	}))
	defer srv.Close()
	client := &http.Client{CheckRedirect: NoRedirects}
	resp, err := client.Get(srv.URL)
	if resp != nil {
		resp.Body.Close()
	}
	var re *RedirectError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want *RedirectError", err)
	}
	if re.StatusCode != 301 || re.Location != "/elsewhere" {
		t.Errorf("StatusCode, Location = %d, %q; want 301, \"/elsewhere\"", re.StatusCode, re.Location)
	}
}
