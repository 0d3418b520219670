// Package chartsrc serves the test stack's chart sources on 127.0.0.1: an HTTPS chart
// repository (several repositories under path prefixes, one of them behind basic auth) and
// an OCI registry, both holding the project's test charts (internal/testenv/testdata/charts)
// and a stand-in for every managed-app catalog entry, packaged at start with a real helm.
//
// The stand-ins are also served as mirrors of the catalog's public repositories (HTTP and
// OCI), so a catalog app can be installed without the internet through a provider setting
// that maps a repository URL to a mirror URL.
package chartsrc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Versions of the project's demo chart: both are served, for upgrade tests.
const (
	DemoVersion        = "0.1.0"
	DemoUpgradeVersion = "0.2.0"
	// DemoBadValueError is the start of the error the demo chart fails to render with when
	// replicaCount is not a whole number (e.g. --set replicaCount=abc).
	DemoBadValueError = "demo: replicaCount must be a whole number"
	// AnnotationNeverReady on a pod asks the fake node to keep it unready (never-ready chart).
	AnnotationNeverReady = "testenv.clusterkit.dev/never-ready"
)

// Repository path prefixes on the HTTP server and repository prefixes in the OCI registry.
const (
	publicRepo  = "public"  // HTTP and OCI: no credentials
	privateRepo = "private" // HTTP: basic auth
	ociCharts   = "charts"  // OCI: basic auth
	mirrorRepo  = "mirror"  // HTTP and OCI: no credentials; mirror/<host>/<path>
	signedRepo  = "signed"  // HTTP and OCI: no credentials; demo charts with provenance files (see sign.go)
	// helmOptionsRepo (HTTP, no credentials): the helm switches' charts (see helmoptions.go).
)

// Config configures Start. It is plain data (JSON), so a detached stack can hand it to a
// separate process.
type Config struct {
	// Helm is the helm binary (helm 4) used to package, index and push the charts.
	Helm string `json:"helm"`
	// ChartsDir is internal/testenv/testdata/charts; found from the working directory up
	// when empty (see FindChartsDir).
	ChartsDir string `json:"charts_dir,omitempty"`
	// CertFile and KeyFile are the PEM serving certificate and key of both servers (valid
	// for 127.0.0.1); CAFile is the CA that signed it, for helm's own pushes.
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	CAFile   string `json:"ca_file"`
	// PrivateCACertFile and PrivateCAKeyFile, when set, are the serving certificate and
	// key of a third HTTPS server, signed by PrivateCAFile: a CA that the install pods do
	// not trust, so that only a helm given that CA (--ca-file) reaches it. It serves the
	// same HTTP repositories.
	PrivateCACertFile string `json:"private_ca_cert_file,omitempty"`
	PrivateCAKeyFile  string `json:"private_ca_key_file,omitempty"`
	PrivateCAFile     string `json:"private_ca_file,omitempty"`
	// HTTPAddr and OCIAddr are the listen addresses, "127.0.0.1:0" when empty; only
	// loopback addresses are accepted.
	HTTPAddr string `json:"http_addr,omitempty"`
	OCIAddr  string `json:"oci_addr,omitempty"`
	// Username and Password guard the private HTTP repository, the OCI registry's
	// charts/ repositories and every write to it; random per start when empty.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// WorkDir receives the packaged charts and helm's own files; a temporary directory
	// (removed by Close) when empty.
	WorkDir string `json:"work_dir,omitempty"`
	// CacheDir keeps packaged charts and indexes by a hash of their inputs, so a warm
	// start runs no helm package or helm repo index; empty means
	// ${XDG_CACHE_HOME:-$HOME/.cache}/clusterkit/charts, "off" disables the cache.
	CacheDir string `json:"cache_dir,omitempty"`
	// LogRequests logs one line per request (method, path, status; never credentials).
	LogRequests bool `json:"log_requests,omitempty"`
	// Log receives progress and request lines; nil discards them.
	Log func(format string, args ...any) `json:"-"`
}

// Chart is one packaged chart version.
type Chart struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Digest is the sha256 (hex) of the .tgz, as index.yaml lists it.
	Digest string `json:"digest"`
	// StandIn is set on catalog stand-ins: the catalog's repository URL.
	StandIn string `json:"stand_in,omitempty"`
}

// Sources are the running servers: what clients need to reach them.
type Sources struct {
	// RepoURL and PrivateRepoURL are HTTPS chart repositories with the project's charts;
	// the private one needs Username and Password (basic auth).
	RepoURL        string `json:"repo_url"`
	PrivateRepoURL string `json:"private_repo_url"`
	// OCIRegistry (oci://127.0.0.1:Q/charts, basic auth) and OCIPublicRegistry
	// (oci://127.0.0.1:Q/public) hold the same charts; a chart is <base>/<name>:<version>.
	OCIRegistry       string `json:"oci_registry"`
	OCIPublicRegistry string `json:"oci_public_registry"`
	Username          string `json:"username"`
	Password          string `json:"password"`
	// CAFile verifies both servers.
	CAFile string `json:"ca_file"`
	// PrivateCARepoURL is the public repository on the server whose certificate
	// PrivateCAFile signed (a CA nothing else trusts); "" without Config.PrivateCACertFile.
	PrivateCARepoURL string `json:"private_ca_repo_url,omitempty"`
	PrivateCAFile    string `json:"private_ca_file,omitempty"`
	// SignedRepoURL is a repository without credentials whose demo charts have provenance
	// files signed by the key in KeyringFile (ASCII-armored public key, made per start):
	// DemoVersion's matches its chart, DemoUpgradeVersion's was signed for other content (a
	// chart changed after it was signed). The public repository's charts have none.
	SignedRepoURL string `json:"signed_repo_url"`
	// SignedOCIRegistry (oci://127.0.0.1:Q/signed) holds the same charts, each pushed
	// with its provenance file (helm push sends <chart>.tgz.prov as a layer of its own).
	SignedOCIRegistry string `json:"signed_oci_registry"`
	KeyringFile       string `json:"keyring_file"`
	// HelmOptionsRepoURL is a repository without credentials holding JobsChart and
	// UmbrellaChart (see helmoptions.go), charts no other repository lists.
	HelmOptionsRepoURL string `json:"helm_options_repo_url"`
	// HTTPMirrors and OCIMirrors map every catalog repository URL (exactly as
	// internal/apps spells it) to a mirror serving its stand-ins without credentials:
	// https://127.0.0.1:P/mirror/<host>/<path> and oci://127.0.0.1:Q/mirror/<host>/<path>.
	HTTPMirrors map[string]string `json:"http_mirrors"`
	OCIMirrors  map[string]string `json:"oci_mirrors"`
	// Charts lists everything packaged (project charts and stand-ins).
	Charts []Chart `json:"charts"`
	// PackagingTime is how long packaging, indexing and pushing took in Start; FromCache
	// says the packages and indexes came from Config.CacheDir.
	PackagingTime time.Duration `json:"packaging_time"`
	FromCache     bool          `json:"from_cache"`

	servers *servers
	workDir string
	ownsDir bool
}

// Env is what the stack writes to .stack/env for tests and a shell.
func (s *Sources) Env() map[string]string {
	httpMirrors, _ := json.Marshal(s.HTTPMirrors)
	ociMirrors, _ := json.Marshal(s.OCIMirrors)
	return map[string]string{
		"CLUSTERKIT_TEST_CHART_REPO_URL":         s.RepoURL,
		"CLUSTERKIT_TEST_CHART_PRIVATE_REPO_URL": s.PrivateRepoURL,
		"CLUSTERKIT_TEST_OCI_REGISTRY":           s.OCIRegistry,
		"CLUSTERKIT_TEST_OCI_PUBLIC_REGISTRY":    s.OCIPublicRegistry,
		"CLUSTERKIT_TEST_CHART_USERNAME":         s.Username,
		"CLUSTERKIT_TEST_CHART_PASSWORD":         s.Password,
		"CLUSTERKIT_TEST_CHART_CA_FILE":          s.CAFile,
		"CLUSTERKIT_TEST_PRIVATE_CA_REPO_URL":    s.PrivateCARepoURL,
		"CLUSTERKIT_TEST_PRIVATE_CA_FILE":        s.PrivateCAFile,
		"CLUSTERKIT_TEST_SIGNED_REPO_URL":        s.SignedRepoURL,
		"CLUSTERKIT_TEST_SIGNED_OCI_REGISTRY":    s.SignedOCIRegistry,
		"CLUSTERKIT_TEST_CHART_KEYRING_FILE":     s.KeyringFile,
		"CLUSTERKIT_TEST_HELM_OPTIONS_REPO_URL":  s.HelmOptionsRepoURL,
		// JSON objects: catalog repository URL -> mirror URL.
		"CLUSTERKIT_TEST_CHART_MIRRORS": string(httpMirrors),
		"CLUSTERKIT_TEST_OCI_MIRRORS":   string(ociMirrors),
	}
}

// Start packages the charts and serves them until Close. ctx bounds the start only.
func Start(ctx context.Context, cfg Config) (_ *Sources, err error) {
	logf := cfg.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if cfg.Helm == "" {
		return nil, errors.New("chartsrc: Config.Helm (the helm 4 binary) is required")
	}
	if cfg.CertFile == "" || cfg.KeyFile == "" || cfg.CAFile == "" {
		return nil, errors.New("chartsrc: Config.CertFile, KeyFile and CAFile are required")
	}
	if cfg.ChartsDir == "" {
		if cfg.ChartsDir, err = FindChartsDir(); err != nil {
			return nil, err
		}
	}
	if cfg.Username == "" {
		cfg.Username = "chart-user-" + randomHex(4)
	}
	if cfg.Password == "" {
		cfg.Password = randomHex(16)
	}
	s := &Sources{Username: cfg.Username, Password: cfg.Password, CAFile: cfg.CAFile, workDir: cfg.WorkDir}
	if s.workDir == "" {
		if s.workDir, err = os.MkdirTemp("", "clusterkit-charts-"); err != nil {
			return nil, err
		}
		s.ownsDir = true
	} else if err := os.MkdirAll(s.workDir, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	t0 := time.Now()

	plan, err := planCharts(cfg.ChartsDir, s.workDir)
	if err != nil {
		return nil, err
	}
	for _, m := range plan.missing {
		logf("chartsrc: catalog entry %s has no stand-in under %s/standins/%s", m.Name, cfg.ChartsDir, m.Chart)
	}
	cacheDir, err := cacheDirOf(cfg.CacheDir)
	if err != nil {
		return nil, err
	}
	h := newHelm(cfg.Helm, s.workDir, cfg.CAFile)
	s.Charts, s.FromCache, err = plan.pack(ctx, h, cacheDir, logf)
	if err != nil {
		return nil, err
	}
	logf("chartsrc: %d charts in %d repositories after %s (from the cache: %v)", len(s.Charts), len(plan.repos), since(t0), s.FromCache)

	repos := plan.httpRepos(s.workDir)
	if repos[signedRepo], s.KeyringFile, err = signedDemoRepo(plan, s.workDir); err != nil {
		return nil, err
	}
	// Filled once the servers are up (its chart names the public repository's URL); the
	// server reads the files at every request.
	repos[helmOptionsRepo] = httpRepo{dir: filepath.Join(s.workDir, "http", helmOptionsRepo)}
	if s.servers, err = startServers(cfg, repos, logf); err != nil {
		return nil, err
	}
	httpBase, ociHost := "https://"+s.servers.httpAddr, s.servers.ociAddr
	if err := writeHelmOptionsRepo(repos[helmOptionsRepo].dir, httpBase+"/"+publicRepo); err != nil {
		return nil, err
	}
	s.HelmOptionsRepoURL = httpBase + "/" + helmOptionsRepo
	s.SignedRepoURL = httpBase + "/" + signedRepo
	if s.servers.privateCAAddr != "" {
		s.PrivateCARepoURL, s.PrivateCAFile = "https://"+s.servers.privateCAAddr+"/"+publicRepo, cfg.PrivateCAFile
	}
	s.RepoURL = httpBase + "/" + publicRepo
	s.PrivateRepoURL = httpBase + "/" + privateRepo
	s.OCIRegistry = "oci://" + ociHost + "/" + ociCharts
	s.OCIPublicRegistry = "oci://" + ociHost + "/" + publicRepo
	s.HTTPMirrors, s.OCIMirrors = map[string]string{}, map[string]string{}
	for url, slug := range plan.mirrors {
		s.HTTPMirrors[url] = httpBase + "/" + mirrorRepo + "/" + slug
		s.OCIMirrors[url] = "oci://" + ociHost + "/" + mirrorRepo + "/" + slug
	}

	if err := h.login(ctx, ociHost, cfg.Username, cfg.Password); err != nil {
		return nil, err
	}
	if err := plan.push(ctx, h, ociHost); err != nil {
		return nil, err
	}
	if err := pushSigned(ctx, h, repos[signedRepo].dir, ociHost); err != nil {
		return nil, err
	}
	s.SignedOCIRegistry = "oci://" + ociHost + "/" + signedRepo
	s.PackagingTime = time.Since(t0)
	logf("chartsrc: charts at %s and oci://%s after %s", httpBase, ociHost, since(t0))
	return s, nil
}

// Close stops both servers (waiting for their goroutines) and removes a temporary WorkDir.
func (s *Sources) Close() error {
	if s == nil {
		return nil
	}
	err := s.servers.close()
	s.servers = nil
	if s.ownsDir {
		err = errors.Join(err, os.RemoveAll(s.workDir))
		s.ownsDir = false
	}
	return err
}

func cacheDirOf(dir string) (string, error) {
	switch dir {
	case "off":
		return "", nil
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("chartsrc: no cache directory (set Config.CacheDir or \"off\"): %w", err)
		}
		return filepath.Join(base, "clusterkit", "charts"), nil
	}
	return filepath.Abs(dir)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// loopbackAddr checks a listen address is on loopback; "" means 127.0.0.1:0.
func loopbackAddr(addr string) (string, error) {
	if addr == "" {
		return "127.0.0.1:0", nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("chartsrc: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("chartsrc: listen address %q is not a loopback IP", addr)
	}
	return addr, nil
}
