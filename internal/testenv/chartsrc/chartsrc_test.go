package chartsrc

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
)

// TestEveryCatalogEntryHasAStandIn fails when a catalog entry is added (or its chart
// renamed) without a stand-in under testdata/charts/standins/<chart>.
func TestEveryCatalogEntryHasAStandIn(t *testing.T) {
	chartsDir, err := FindChartsDir()
	if err != nil {
		t.Fatal(err)
	}
	p, err := planCharts(chartsDir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.missing {
		t.Errorf("catalog entry %s (chart %s) has no stand-in: add %s/standins/%s/values.yaml", m.Name, m.Chart, chartsDir, m.Chart)
	}
	for _, name := range apps.Names() {
		app, _ := apps.Lookup(name)
		i := slices.IndexFunc(p.jobs, func(j *packJob) bool { return j.standIn == app.Repository && j.name == app.Chart })
		if i < 0 {
			t.Errorf("%s: no stand-in is packaged", name)
			continue
		}
		if j := p.jobs[i]; j.version != app.Version {
			t.Errorf("%s: stand-in packaged at %q, catalog pins %q", name, j.version, app.Version)
		}
		slug, ok := p.mirrors[app.Repository]
		if !ok {
			t.Errorf("%s: no mirror for %s", name, app.Repository)
		}
		if want := []string{mirrorRepo + "/" + slug}; !slices.Equal(p.jobs[i].repos, want) || !slices.Equal(p.jobs[i].oci, want) {
			t.Errorf("%s: served in %v / %v, want %v", name, p.jobs[i].repos, p.jobs[i].oci, want)
		}
		// The stand-in's fullname cut must be the real chart's, as the catalog records it.
		b, err := os.ReadFile(filepath.Join(chartsDir, standInsDir, app.Chart, standInValue))
		if err != nil {
			continue // reported above
		}
		var v struct {
			StandIn struct {
				FullnameMax int `json:"fullnameMax"`
			} `json:"standin"`
		}
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s stand-in values: %v", name, err)
		}
		want := app.FullnameMax
		if want == 0 {
			want = 63
		}
		if v.StandIn.FullnameMax != want {
			t.Errorf("%s: stand-in fullnameMax %d, catalog FullnameMax %d (63 when 0)", name, v.StandIn.FullnameMax, want)
		}
	}
	// The generated Chart.yaml names the chart and says what it is.
	ingress := filepath.Join(p.jobs[slices.IndexFunc(p.jobs, func(j *packJob) bool { return j.name == "ingress-nginx" })].src, "Chart.yaml")
	meta, err := readChartMeta(filepath.Dir(ingress))
	if err != nil || meta.Name != "ingress-nginx" {
		t.Fatalf("generated Chart.yaml: %+v %v", meta, err)
	}
	if b, _ := os.ReadFile(ingress); !strings.Contains(string(b), "description: clusterkit test stand-in for ingress-nginx") {
		t.Errorf("generated Chart.yaml does not say it is a stand-in:\n%s", b)
	}
}

// TestExtraMirroredChartsArePlanned: the charts outside the catalog (examples/quickstart's
// podinfo) are stand-ins served in their repositories' mirrors, like the catalog's.
func TestExtraMirroredChartsArePlanned(t *testing.T) {
	chartsDir, err := FindChartsDir()
	if err != nil {
		t.Fatal(err)
	}
	p, err := planCharts(chartsDir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(extraMirrored) == 0 {
		t.Fatal("no extra mirrored charts")
	}
	for _, c := range extraMirrored {
		slug, ok := p.mirrors[c.Repository]
		if !ok {
			t.Errorf("%s: no mirror for %s: %v", c.Chart, c.Repository, p.mirrors)
			continue
		}
		if want, _ := MirrorPath(c.Repository); slug != want || !slices.Contains(p.repos, mirrorRepo+"/"+slug) {
			t.Errorf("%s: mirror %q (want %q), repositories %v", c.Chart, slug, want, p.repos)
		}
		i := slices.IndexFunc(p.jobs, func(j *packJob) bool { return j.standIn == c.Repository && j.name == c.Chart })
		if i < 0 {
			t.Errorf("%s: no stand-in is packaged", c.Chart)
			continue
		}
		j := p.jobs[i]
		if want := []string{mirrorRepo + "/" + slug}; j.version != c.Version || !slices.Equal(j.repos, want) || !slices.Equal(j.oci, want) {
			t.Errorf("%s: packaged %s in %v / %v, want %s in %v", c.Chart, j.version, j.repos, j.oci, c.Version, want)
		}
		b, _ := os.ReadFile(filepath.Join(j.src, "Chart.yaml"))
		if !strings.Contains(string(b), "description: clusterkit test stand-in for "+c.Chart+" ("+c.For+"); not the real chart.") {
			t.Errorf("%s: generated Chart.yaml does not say it is a stand-in:\n%s", c.Chart, b)
		}
	}
}

// TestQuickstartChartIsMirrored: examples/quickstart's custom chart (repository, name,
// version) is one the stack mirrors, so `make demo` and TestAccQuickstart can install it.
func TestQuickstartChartIsMirrored(t *testing.T) {
	b, err := os.ReadFile("../../../examples/quickstart/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)chart = \{\s*repository\s*=\s*"([^"]+)"\s*name\s*=\s*"([^"]+)"\s*version\s*=\s*"([^"]+)"`).FindAllSubmatch(b, -1)
	if len(block) == 0 {
		t.Fatal("examples/quickstart/main.tf has no chart block (repository, name, version)")
	}
	for _, m := range block {
		want := mirroredChart{Repository: string(m[1]), Chart: string(m[2]), Version: string(m[3])}
		if !slices.ContainsFunc(extraMirrored, func(c mirroredChart) bool {
			return c.Repository == want.Repository && c.Chart == want.Chart && c.Version == want.Version
		}) {
			t.Errorf("examples/quickstart installs %s %s from %s, which chartsrc does not mirror (extraMirrored)", want.Chart, want.Version, want.Repository)
		}
	}
}

func TestProjectChartsArePlanned(t *testing.T) {
	chartsDir, err := FindChartsDir()
	if err != nil {
		t.Fatal(err)
	}
	p, err := planCharts(chartsDir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range p.jobs {
		if j.standIn == "" {
			got = append(got, j.name+"-"+j.version)
			if !slices.Equal(j.repos, []string{publicRepo, privateRepo}) || !slices.Equal(j.oci, []string{ociCharts, publicRepo}) {
				t.Errorf("%s served in %v / %v", j.name, j.repos, j.oci)
			}
		}
	}
	want := []string{"crd-optional-0.1.0", "crds-0.1.0", "demo-" + DemoVersion, "demo-" + DemoUpgradeVersion, "hook-fails-0.1.0", "never-ready-0.1.0"}
	if !slices.Equal(got, want) {
		t.Errorf("project charts %v, want %v", got, want)
	}
	if !p.private[privateRepo] || p.private[publicRepo] || len(p.private) != 1 {
		t.Errorf("private repositories: %v", p.private)
	}
}

func TestMirrorPath(t *testing.T) {
	for in, want := range map[string]string{
		"https://kubernetes.github.io/ingress-nginx": "kubernetes.github.io/ingress-nginx",
		"https://hub.jupyter.org/helm-chart/":        "hub.jupyter.org/helm-chart",
		"https://helm.cilium.io/":                    "helm.cilium.io",
		"https://charts.gitlab.io":                   "charts.gitlab.io",
		"https://Charts.Example.COM:8443/a/B":        "charts.example.com/a/b",
	} {
		if got, err := MirrorPath(in); err != nil || got != want {
			t.Errorf("MirrorPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"http://charts.example.com", "oci://r.example.com/x", "https://x.example.com/a?b=c",
		"https://u:p@x.example.com", "https://x.example.com/a%20b", "https://x.example.com/_a", "https://", "::"} {
		if got, err := MirrorPath(bad); err == nil {
			t.Errorf("MirrorPath(%q) = %q, want an error", bad, got)
		}
	}
}

func TestOCINeedsAuth(t *testing.T) {
	cases := []struct {
		method, path string
		want         bool
	}{
		{"GET", "/v2/", true}, // login checks the credentials here
		{"GET", "/v2/_catalog", true},
		{"GET", "/v2/charts/demo/manifests/0.1.0", true},
		{"HEAD", "/v2/charts/demo/blobs/sha256:00", true},
		{"GET", "/v2/charts/demo/tags/list", true},
		{"GET", "/v2/public/demo/manifests/0.1.0", false},
		{"HEAD", "/v2/public/demo/blobs/sha256:00", false},
		{"GET", "/v2/mirror/kubernetes.github.io/ingress-nginx/ingress-nginx/manifests/4.13.5", false},
		{"GET", "/v2/signed/demo/manifests/0.1.0", false},
		{"PUT", "/v2/signed/demo/manifests/0.1.0", true},
		{"PUT", "/v2/public/demo/manifests/0.1.0", true},
		{"POST", "/v2/mirror/x/y/blobs/uploads/", true},
		{"DELETE", "/v2/public/demo/manifests/0.1.0", true},
		{"GET", "/v2/publicity/demo/manifests/0.1.0", true},
		{"GET", "/v2/public/manifests/x", true}, // a repository called "public": not under public/
		{"GET", "/other", true},
	}
	for _, c := range cases {
		if got := ociNeedsAuth(c.method, c.path); got != c.want {
			t.Errorf("ociNeedsAuth(%s %s) = %v, want %v", c.method, c.path, got, c.want)
		}
	}
}

func TestRepoHandler(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"public", "private", "mirror/a.example.com/x"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"index.yaml", "demo-0.1.0.tgz", "demo-0.1.0.tgz.prov", "notes.txt", "notes.prov"} {
			if err := os.WriteFile(filepath.Join(dir, d, f), []byte(d+"/"+f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "public", "sub.tgz"), 0o755); err != nil {
		t.Fatal(err)
	}
	repos := map[string]httpRepo{
		"public":                 {dir: filepath.Join(dir, "public")},
		"private":                {dir: filepath.Join(dir, "private"), private: true},
		"mirror/a.example.com/x": {dir: filepath.Join(dir, "mirror/a.example.com/x")},
	}
	srv := httptest.NewServer(repoHandler(repos, "u", "p"))
	defer srv.Close()
	cases := []struct {
		method, path, user, pass string
		code                     int
		body                     string
	}{
		{"GET", "/public/index.yaml", "", "", 200, "public/index.yaml"},
		{"GET", "/public/demo-0.1.0.tgz", "", "", 200, "public/demo-0.1.0.tgz"},
		{"HEAD", "/public/index.yaml", "", "", 200, ""},
		{"GET", "/mirror/a.example.com/x/index.yaml", "", "", 200, "mirror/a.example.com/x/index.yaml"},
		{"GET", "/private/index.yaml", "", "", 401, ""},
		{"GET", "/private/demo-0.1.0.tgz", "", "", 401, ""},
		{"GET", "/private/index.yaml", "u", "wrong", 401, ""},
		{"GET", "/private/index.yaml", "wrong", "p", 401, ""},
		{"GET", "/private/index.yaml", "u", "p", 200, "private/index.yaml"},
		{"GET", "/public/demo-0.1.0.tgz.prov", "", "", 200, "public/demo-0.1.0.tgz.prov"}, // provenance files
		{"GET", "/private/demo-0.1.0.tgz.prov", "", "", 401, ""},
		{"GET", "/public/notes.prov", "", "", 404, ""}, // only a chart's
		{"GET", "/public/notes.txt", "", "", 404, ""},  // only index.yaml and charts
		{"GET", "/public/", "", "", 404, ""},           // no listings
		{"GET", "/public/sub.tgz", "", "", 404, ""},    // a directory
		{"GET", "/mirror/index.yaml", "", "", 404, ""}, // not a repository
		{"GET", "/public/../private/index.yaml", "", "", 401, ""},
		{"GET", "/nope/index.yaml", "", "", 404, ""},
		{"PUT", "/public/index.yaml", "", "", 405, ""},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || (c.body != "" && body.String() != c.body) {
			t.Errorf("%s %s (%q): %d %q, want %d %q", c.method, c.path, c.user, resp.StatusCode, body.String(), c.code, c.body)
		}
		if c.code == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="clusterkit-testenv"` {
			t.Errorf("%s %s: WWW-Authenticate %q", c.method, c.path, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestForEach(t *testing.T) {
	var ran atomic.Int32
	err := forEach(context.Background(), 20, func(i int) error {
		ran.Add(1)
		if i == 7 {
			return errors.New("seven")
		}
		return nil
	})
	if err == nil || err.Error() != "seven" || ran.Load() != 20 {
		t.Fatalf("err %v, ran %d", err, ran.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran.Store(0)
	if err := forEach(ctx, 1000, func(int) error { ran.Add(1); return nil }); !errors.Is(err, context.Canceled) || ran.Load() >= 1000 {
		t.Fatalf("cancelled: err %v, ran %d", err, ran.Load())
	}
}

func TestLoopbackAddr(t *testing.T) {
	for in, want := range map[string]string{"": "127.0.0.1:0", "127.0.0.1:5000": "127.0.0.1:5000", "[::1]:0": "[::1]:0"} {
		if got, err := loopbackAddr(in); err != nil || got != want {
			t.Errorf("loopbackAddr(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:0", ":0", "localhost:0", "10.0.0.1:80", "127.0.0.1"} {
		if _, err := loopbackAddr(bad); err == nil {
			t.Errorf("loopbackAddr(%q) accepted", bad)
		}
	}
}

func TestEnv(t *testing.T) {
	s := &Sources{RepoURL: "https://127.0.0.1:1/public", PrivateRepoURL: "https://127.0.0.1:1/private",
		OCIRegistry: "oci://127.0.0.1:2/charts", OCIPublicRegistry: "oci://127.0.0.1:2/public",
		Username: "u", Password: "p", CAFile: "/ca.crt",
		PrivateCARepoURL: "https://127.0.0.1:3/public", PrivateCAFile: "/repo-ca.crt",
		SignedRepoURL: "https://127.0.0.1:1/signed", SignedOCIRegistry: "oci://127.0.0.1:2/signed", KeyringFile: "/signing-key.asc",
		HelmOptionsRepoURL: "https://127.0.0.1:1/helm-options",
		HTTPMirrors:        map[string]string{"https://charts.gitlab.io": "https://127.0.0.1:1/mirror/charts.gitlab.io"},
		OCIMirrors:         map[string]string{"https://charts.gitlab.io": "oci://127.0.0.1:2/mirror/charts.gitlab.io"}}
	want := map[string]string{
		"CLUSTERKIT_TEST_CHART_REPO_URL":         "https://127.0.0.1:1/public",
		"CLUSTERKIT_TEST_CHART_PRIVATE_REPO_URL": "https://127.0.0.1:1/private",
		"CLUSTERKIT_TEST_OCI_REGISTRY":           "oci://127.0.0.1:2/charts",
		"CLUSTERKIT_TEST_OCI_PUBLIC_REGISTRY":    "oci://127.0.0.1:2/public",
		"CLUSTERKIT_TEST_CHART_USERNAME":         "u",
		"CLUSTERKIT_TEST_CHART_PASSWORD":         "p",
		"CLUSTERKIT_TEST_CHART_CA_FILE":          "/ca.crt",
		"CLUSTERKIT_TEST_PRIVATE_CA_REPO_URL":    "https://127.0.0.1:3/public",
		"CLUSTERKIT_TEST_PRIVATE_CA_FILE":        "/repo-ca.crt",
		"CLUSTERKIT_TEST_SIGNED_REPO_URL":        "https://127.0.0.1:1/signed",
		"CLUSTERKIT_TEST_SIGNED_OCI_REGISTRY":    "oci://127.0.0.1:2/signed",
		"CLUSTERKIT_TEST_CHART_KEYRING_FILE":     "/signing-key.asc",
		"CLUSTERKIT_TEST_HELM_OPTIONS_REPO_URL":  "https://127.0.0.1:1/helm-options",
		"CLUSTERKIT_TEST_CHART_MIRRORS":          `{"https://charts.gitlab.io":"https://127.0.0.1:1/mirror/charts.gitlab.io"}`,
		"CLUSTERKIT_TEST_OCI_MIRRORS":            `{"https://charts.gitlab.io":"oci://127.0.0.1:2/mirror/charts.gitlab.io"}`,
	}
	got := s.Env()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d variables, want %d: %v", len(got), len(want), got)
	}
}

func TestLoadSources(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadSources(filepath.Join(dir, "none.json")); err == nil {
		t.Error("a missing file loaded")
	}
	empty := filepath.Join(dir, "empty.json")
	_ = os.WriteFile(empty, []byte(`{}`), 0o600)
	if _, err := LoadSources(empty); err == nil || !strings.Contains(err.Error(), "describes no servers") {
		t.Errorf("empty state: %v", err)
	}
	good := filepath.Join(dir, "good.json")
	_ = os.WriteFile(good, []byte(`{"repo_url":"https://127.0.0.1:1/public","oci_registry":"oci://127.0.0.1:2/charts","oci_mirrors":{"a":"b"}}`), 0o600)
	s, err := LoadSources(good)
	if err != nil || s.OCIMirrors["a"] != "b" || s.Close() != nil {
		t.Errorf("loaded %+v, %v", s, err)
	}
}

func TestCache(t *testing.T) {
	chartsDir, err := FindChartsDir()
	if err != nil {
		t.Fatal(err)
	}
	helmBin := filepath.Join(t.TempDir(), "helm")
	_ = os.WriteFile(helmBin, []byte("not really helm"), 0o755)
	p, err := planCharts(chartsDir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key, err := p.cacheKey(helmBin)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := p.cacheKey(helmBin); again != key || len(key) != 24 {
		t.Fatalf("key %q then %q", key, again)
	}
	// Any input changes the key: a pin, a repository, a file of a stand-in.
	p.jobs[len(p.jobs)-1].version += "-1"
	if k, _ := p.cacheKey(helmBin); k == key {
		t.Error("a version change kept the key")
	}
	p.jobs[len(p.jobs)-1].version = strings.TrimSuffix(p.jobs[len(p.jobs)-1].version, "-1")
	p.repos = append(p.repos, "extra")
	if k, _ := p.cacheKey(helmBin); k == key {
		t.Error("a repository change kept the key")
	}
	p.repos = p.repos[:len(p.repos)-1]
	standIn := p.jobs[len(p.jobs)-1].src
	_ = os.WriteFile(filepath.Join(standIn, "values.yaml"), []byte("changed: true\n"), 0o644)
	if k, _ := p.cacheKey(helmBin); k == key {
		t.Error("a file change kept the key")
	}

	work := t.TempDir()
	for f, body := range map[string]string{"pkg/0/demo-0.1.0.tgz": "tgz", "http/public/index.yaml": "index", "http/public/demo-0.1.0.tgz": "tgz"} {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(work, f)), 0o755)
		_ = os.WriteFile(filepath.Join(work, f), []byte(body), 0o644)
	}
	_ = os.WriteFile(filepath.Join(work, "stray"), []byte("not cached"), 0o644)
	entry := filepath.Join(t.TempDir(), "cache", key)
	if err := storeCache(work, entry); err != nil {
		t.Fatal(err)
	}
	if err := storeCache(work, entry); err != nil { // a second writer of the same entry
		t.Fatal(err)
	}
	restored := t.TempDir()
	if err := restoreCache(entry, restored); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(restored, "http/public/index.yaml")); string(b) != "index" {
		t.Errorf("restored index %q", b)
	}
	if _, err := os.Stat(filepath.Join(restored, "stray")); err == nil {
		t.Error("a file outside pkg/ and http/ was cached")
	}
	// A damaged or missing entry is refused, never used.
	_ = os.WriteFile(filepath.Join(entry, "http/public/index.yaml"), []byte("tampered"), 0o644)
	if err := restoreCache(entry, t.TempDir()); err == nil || !strings.Contains(err.Error(), "does not match its checksum") {
		t.Errorf("tampered entry: %v", err)
	}
	if err := restoreCache(filepath.Join(t.TempDir(), "none"), t.TempDir()); err == nil {
		t.Error("a missing entry restored")
	}
	if d, err := cacheDirOf("off"); d != "" || err != nil {
		t.Errorf("cacheDirOf(off) = %q, %v", d, err)
	}
}
