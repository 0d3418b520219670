// Package kube talks to Kubernetes API servers for the provider: a client factory that
// enforces the SSRF policy and caches one client per cluster and credential, and the
// find/ensure/delete/wait functions for the objects the resources manage.
package kube

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
)

// Connection is how to reach one cluster: its API URL, the CA that signs its serving
// certificate, and a bearer token.
type Connection struct {
	Host  string
	CAPEM []byte
	Token string
	// Tokens, when set, mints short-lived tokens instead of Token (the EKS path);
	// TokensKey identifies the identity it mints for, so clients are shared per identity.
	Tokens    TokenSource
	TokensKey string
}

// TokenSource returns a valid bearer token, minting a new one when the last expired.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// LogFunc receives one line per API call; the provider routes it to its "kubernetes"
// log subsystem. Fields never carry credentials.
type LogFunc func(ctx context.Context, msg string, fields map[string]any)

// FactoryOptions configures every client the factory builds.
type FactoryOptions struct {
	Policy         netguard.Policy
	RequestTimeout time.Duration // per request; watches are re-established within it
	UserAgent      string
	Log            LogFunc
	// Clock times install pods and the uninstall order's deadlines (default: the real
	// clock); tests pass a fake one.
	Clock clock.Clock
	// QPS, when > 0, bounds the requests per second of each client (client-go's token
	// bucket, Burst at once; Burst defaults to 2×QPS): for small control planes. Zero:
	// no client-side limit; the API server's priority and fairness decides, and its 429
	// answers are retried after their Retry-After (by client-go, and by this package's
	// waits).
	QPS   float32
	Burst int
}

// Factory builds clients and shares them: all resources of one provider process that
// reach the same cluster with the same credential use one client (one connection pool).
type Factory struct {
	opts    FactoryOptions
	mu      sync.Mutex
	clients map[string]*Client
}

// NewFactory returns a factory with sensible defaults for unset options.
func NewFactory(opts FactoryOptions) *Factory {
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "terraform-provider-clusterkit"
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Log == nil {
		opts.Log = func(context.Context, string, map[string]any) {}
	}
	return &Factory{opts: opts, clients: map[string]*Client{}}
}

// Client is a Kubernetes client for one cluster and credential.
type Client struct {
	cs      kubernetes.Interface
	host    string
	timeout time.Duration
	clock   clock.Clock
	// releases: this run's lists of helm's records, shared by the copies WithClock makes.
	releases *releaseCache
	// grants: the installer bindings made in this run, so revoking one needs no read.
	grants *grants
	// namespaces: the install and release namespaces this run made or found, so the
	// next app's install does not read them again (see ensureNamespaceOnce).
	namespaces *uidMemo
	nsFlight   *singleflight.Group
	// marked: the values ConfigMaps this run marked as uninstalling, by namespace/name
	// with their UIDs, so the delete after the uninstall needs no read.
	marked *uidMemo
	// meta lists objects' metadata only (drift checks), over cs's connections; mapper
	// resolves kinds through one discovery per run (see restMapping).
	meta    metadata.Interface
	objects *runLists[map[string]bool]
	kinds   *kindMapper
	// bindings: this run's lists of installer bindings by kind and namespace, for the
	// check that an app's binding of the other kind is not left over (leftoverbindings.go).
	bindings *runLists[map[string]bool]
}

// withRunMemory gives c the empty memory of a run (what it made, found and listed).
func withRunMemory(c *Client) *Client {
	c.releases, c.grants = newReleaseCache(), newGrants()
	c.namespaces, c.nsFlight, c.marked = newUIDMemo(), &singleflight.Group{}, newUIDMemo()
	c.objects, c.kinds = newRunLists[map[string]bool](ReleaseCacheMaxAge), &kindMapper{}
	c.bindings = newRunLists[map[string]bool](0) // see leftoverbindings.go: only this run's grants change them
	return c
}

// NewClientForInterface wraps an existing clientset; tests use it with fakes.
func NewClientForInterface(cs kubernetes.Interface) *Client {
	return withRunMemory(&Client{cs: cs, timeout: 30 * time.Second, clock: clock.RealClock{}})
}

// WithClock is a copy of the client that reads time from clk (tests step a fake clock).
func (c *Client) WithClock(clk clock.Clock) *Client {
	cp := *c
	cp.clock = clk
	return &cp
}

// Clientset exposes the underlying clientset to other packages' tests.
func (c *Client) Clientset() kubernetes.Interface { return c.cs }

// Client returns the shared client for conn, building it on first use. The URL is
// checked against the SSRF policy before anything is dialled.
func (f *Factory) Client(conn Connection) (*Client, error) {
	if _, err := f.opts.Policy.ValidateURL(conn.Host); err != nil {
		return nil, err
	}
	if err := ValidateCAPEM(conn.CAPEM); err != nil {
		return nil, err
	}
	key := cacheKey(conn)
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[key]; ok {
		return c, nil
	}
	cfg := f.restConfig(conn)
	// One HTTP client (one connection pool) for the typed and the metadata-only API.
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building Kubernetes client for %s: %w", conn.Host, err)
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("building Kubernetes client for %s: %w", conn.Host, err)
	}
	mc, err := metadata.NewForConfigAndClient(metadata.ConfigFor(cfg), hc)
	if err != nil {
		return nil, fmt.Errorf("building Kubernetes client for %s: %w", conn.Host, err)
	}
	c := withRunMemory(&Client{cs: cs, meta: mc, host: conn.Host, timeout: f.opts.RequestTimeout, clock: f.opts.Clock})
	f.clients[key] = c
	return c, nil
}

// Len reports how many distinct clients the factory holds.
func (f *Factory) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.clients)
}

func (f *Factory) restConfig(conn Connection) *rest.Config {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	policy := f.opts.Policy
	qps, burst := f.opts.QPS, f.opts.Burst
	if qps <= 0 {
		qps, burst = -1, 0 // negative: client-go builds no rate limiter
	} else if burst <= 0 {
		burst = max(int(2*qps), 1)
	}
	return &rest.Config{
		Host:            conn.Host,
		BearerToken:     conn.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: conn.CAPEM},
		UserAgent:       f.opts.UserAgent,
		Timeout:         f.opts.RequestTimeout,
		QPS:             qps,
		Burst:           burst,
		// A proxy would dial the target for us, out of reach of the dial-time address check.
		Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
		Dial:  policy.DialContext(dialer),
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			rt = policy.WrapTransport(rt)
			if conn.Tokens != nil {
				rt = &tokenTransport{next: rt, tokens: conn.Tokens}
			}
			return &loggingTransport{next: rt, log: f.opts.Log}
		},
	}
}

// cacheKey never keeps the token itself in memory longer than the client does.
func cacheKey(conn Connection) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(conn.Host), conn.CAPEM, []byte(conn.Token), []byte(conn.TokensKey)} {
		h.Write(part)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ValidateCAPEM checks that pem holds at least one certificate and nothing else.
func ValidateCAPEM(data []byte) error {
	if len(data) == 0 {
		return errors.New("no CA certificate given: a PEM block \"-----BEGIN CERTIFICATE-----\" is required")
	}
	rest, count := data, 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("PEM block %d is a %q, only CERTIFICATE blocks are allowed", count+1, block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("PEM block %d is not a valid X.509 certificate: %w", count+1, err)
		}
		count++
	}
	if count == 0 {
		return errors.New("no PEM-encoded certificate found: expected \"-----BEGIN CERTIFICATE-----\"")
	}
	if len(trimSpace(rest)) > 0 {
		return errors.New("unexpected data after the last PEM certificate block")
	}
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
