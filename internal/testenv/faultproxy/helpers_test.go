package faultproxy

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

// testCA makes a CA and a serving certificate for 127.0.0.1 signed by it.
func testCA(t *testing.T) (caPEM []byte, leaf tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "faultproxy-test-ca"},
		NotBefore: now, NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "apiserver"},
		NotBefore: now, NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// watchEvents is what the fake API server streams to every watch, one JSON event a line.
var watchEvents = []string{
	`{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"install-a","resourceVersion":"11"}}}`,
	`{"type":"MODIFIED","object":{"kind":"Pod","metadata":{"name":"install-a","resourceVersion":"12"},"status":{"phase":"Running"}}}`,
	`{"type":"MODIFIED","object":{"kind":"Pod","metadata":{"name":"install-a","resourceVersion":"13"},"status":{"phase":"Succeeded"}}}`,
}

// env is a fake API server behind a proxy, with a client that trusts only the CA.
type env struct {
	backend *httptest.Server
	proxy   *Proxy
	client  *http.Client
	clock   *testingclock.FakeClock
	hits    atomic.Int32 // requests the backend served
	caPEM   []byte
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clock: testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	var leaf tls.Certificate
	e.caPEM, leaf = testCA(t)
	e.backend = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if !IsWatch(r) {
			fmt.Fprintf(w, `{"kind":"PodList","path":%q}`, r.URL.Path)
			return
		}
		for _, ev := range watchEvents {
			fmt.Fprintln(w, ev)
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done() // a watch stays open until the client leaves
	}))
	e.backend.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	e.backend.EnableHTTP2 = true
	e.backend.StartTLS()
	t.Cleanup(e.backend.Close)
	p, err := Start(Options{Target: e.backend.URL, TargetCAPEM: e.caPEM, Cert: leaf, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	e.proxy = p
	e.client = e.newClient()
	return e
}

// newClient has a connection pool of its own.
func (e *env) newClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.caPEM)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, Proxy: nil}}
}

func (e *env) get(t *testing.T, path string) (*http.Response, string, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.proxy.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// watch opens a watch and returns the reader of its body.
func (e *env) watch(t *testing.T, path string) (*http.Response, *bufio.Reader) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.proxy.URL()+path+"?watch=true", nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: HTTP %d", resp.StatusCode)
	}
	return resp, bufio.NewReader(resp.Body)
}

// waitFor is test bookkeeping: the proxy's goroutines reach a state the test then drives.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
