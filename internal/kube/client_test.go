package kube

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
)

func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestFactory_SharesClientsPerClusterAndCredential(t *testing.T) {
	f := NewFactory(FactoryOptions{Policy: netguard.Policy{}})
	ca := testCAPEM(t)
	a := Connection{Host: "https://k8s.example.com:6443", CAPEM: ca, Token: "t1"}
	c1, err := f.Client(a)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := f.Client(a)
	if c1 != c2 {
		t.Fatal("same cluster and credential must share one client")
	}
	b := a
	b.Token = "t2"
	c3, _ := f.Client(b)
	if c3 == c1 || f.Len() != 2 {
		t.Fatalf("another token must get its own client; clients=%d", f.Len())
	}
}

func TestFactory_RefusesLocalHostsBeforeDialling(t *testing.T) {
	f := NewFactory(FactoryOptions{Policy: netguard.Policy{}})
	ca := testCAPEM(t)
	for _, host := range []string{"https://127.0.0.1:6443", "https://169.254.169.254", "https://[::1]", "http://k8s.example.com"} {
		_, err := f.Client(Connection{Host: host, CAPEM: ca, Token: "t"})
		var blocked *netguard.BlockedError
		var badURL *netguard.URLError
		if !errors.As(err, &blocked) && !errors.As(err, &badURL) {
			t.Errorf("%s: got %v, want a netguard refusal", host, err)
		}
	}
	if f.Len() != 0 {
		t.Fatalf("no client may be built for a refused host, have %d", f.Len())
	}
	allow := NewFactory(FactoryOptions{Policy: netguard.Policy{AllowLocal: true}})
	if _, err := allow.Client(Connection{Host: "https://127.0.0.1:6443", CAPEM: ca, Token: "t"}); err != nil {
		t.Fatalf("allow_local_requests must allow loopback: %v", err)
	}
}

func TestFactory_ClientLimits(t *testing.T) {
	ca := testCAPEM(t)
	conn := Connection{Host: "https://k8s.example.com:6443", CAPEM: ca, Token: "t1"}
	for _, tc := range []struct {
		name      string
		qps       float32
		burst     int
		wantLimit bool
		wantQPS   float32
	}{
		{name: "default: no client-side limit"},
		{name: "qps and burst", qps: 5, burst: 7, wantLimit: true, wantQPS: 5},
		{name: "qps alone", qps: 20, wantLimit: true, wantQPS: 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFactory(FactoryOptions{QPS: tc.qps, Burst: tc.burst})
			cfg := f.restConfig(conn)
			c, err := f.Client(conn)
			if err != nil {
				t.Fatal(err)
			}
			rl := c.Clientset().CoreV1().RESTClient().GetRateLimiter()
			if !tc.wantLimit {
				if rl != nil || cfg.QPS >= 0 {
					t.Fatalf("rate limiter %v, QPS %v: want none", rl, cfg.QPS)
				}
				return
			}
			wantBurst := tc.burst
			if wantBurst == 0 {
				wantBurst = int(2 * tc.qps)
			}
			if rl == nil || rl.QPS() != tc.wantQPS || cfg.Burst != wantBurst {
				t.Fatalf("rate limiter %v, burst %d: want QPS %v, burst %d", rl, cfg.Burst, tc.wantQPS, wantBurst)
			}
		})
	}
}
