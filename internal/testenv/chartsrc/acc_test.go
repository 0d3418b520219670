package chartsrc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"sigs.k8s.io/yaml"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
)

// requireAcc: these tests run real helm binaries (TF_ACC=1, as the other acceptance tests).
func requireAcc(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("runs real helm binaries; runs with TF_ACC=1 (make testacc)")
	}
}

type repoIndex struct {
	Entries map[string][]struct {
		Name    string   `json:"name"`
		Version string   `json:"version"`
		Digest  string   `json:"digest"`
		URLs    []string `json:"urls"`
	} `json:"entries"`
}

// TestSources starts the servers once (as the stack does) and checks them with helm 4 and
// helm 3 the way install pods use them.
func TestSources(t *testing.T) {
	requireAcc(t)
	helm4, helm3 := requireHelm(t, "helm4"), requireHelm(t, "helm3")
	goroutines := runtime.NumGoroutine()
	caFile, certFile, keyFile := testPKI(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cacheDir := t.TempDir()
	cfg := Config{Helm: helm4, CertFile: certFile, KeyFile: keyFile, CAFile: caFile, CacheDir: cacheDir, Log: t.Logf}
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.FromCache {
		t.Error("a first start in an empty cache directory came from the cache")
	}
	closed := false
	defer func() {
		if !closed {
			_ = s.Close()
		}
	}()
	t.Logf("packaging, indexing and pushing %d charts took %s", len(s.Charts), s.PackagingTime.Round(time.Millisecond))
	client := caClient(t, caFile)
	get := func(u, user, pass string) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	digestOf := func(name, version string) string {
		i := slices.IndexFunc(s.Charts, func(c Chart) bool { return c.Name == name && c.Version == version })
		if i < 0 {
			t.Fatalf("%s %s was not packaged: %+v", name, version, s.Charts)
		}
		return s.Charts[i].Digest
	}

	t.Run("index lists demo with its versions and digests", func(t *testing.T) {
		code, _, body := get(s.RepoURL+"/index.yaml", "", "")
		if code != 200 {
			t.Fatalf("GET index.yaml: %d", code)
		}
		var idx repoIndex
		if err := yaml.Unmarshal(body, &idx); err != nil {
			t.Fatal(err)
		}
		var versions []string
		for _, e := range idx.Entries["demo"] {
			versions = append(versions, e.Version)
			if want := digestOf("demo", e.Version); e.Digest != want {
				t.Errorf("demo %s digest %s, packaged %s", e.Version, e.Digest, want)
			}
			if len(e.URLs) != 1 || e.URLs[0] != "demo-"+e.Version+".tgz" {
				t.Fatalf("demo %s urls %v, want one relative URL", e.Version, e.URLs)
			}
			code, _, tgz := get(s.RepoURL+"/"+e.URLs[0], "", "")
			sum := sha256.Sum256(tgz)
			if code != 200 || hex.EncodeToString(sum[:]) != e.Digest {
				t.Errorf("GET %s: %d, sha256 %x, index digest %s", e.URLs[0], code, sum, e.Digest)
			}
		}
		slices.Sort(versions)
		if want := []string{DemoVersion, DemoUpgradeVersion}; !slices.Equal(versions, want) {
			t.Errorf("demo versions %v, want %v", versions, want)
		}
		for _, c := range []string{"crds", "hook-fails", "never-ready"} {
			if len(idx.Entries[c]) != 1 || idx.Entries[c][0].Version != "0.1.0" {
				t.Errorf("index entry %s: %+v", c, idx.Entries[c])
			}
		}
		if _, ok := idx.Entries["ingress-nginx"]; ok {
			t.Error("stand-ins belong in their mirrors, not in the public repository")
		}
	})

	t.Run("private repository needs basic auth", func(t *testing.T) {
		for _, path := range []string{"/index.yaml", "/demo-" + DemoVersion + ".tgz"} {
			code, h, _ := get(s.PrivateRepoURL+path, "", "")
			if code != 401 || h.Get("WWW-Authenticate") != `Basic realm="clusterkit-testenv"` {
				t.Errorf("GET %s without credentials: %d %q", path, code, h.Get("WWW-Authenticate"))
			}
			if code, _, _ := get(s.PrivateRepoURL+path, s.Username, s.Password+"x"); code != 401 {
				t.Errorf("GET %s with a wrong password: %d", path, code)
			}
			if code, _, _ := get(s.PrivateRepoURL+path, s.Username, s.Password); code != 200 {
				t.Errorf("GET %s with credentials: %d", path, code)
			}
		}
		h := newHelmCLI(t, helm4)
		out := h.mustRun("show", "chart", "demo", "--repo", s.PrivateRepoURL, "--version", DemoUpgradeVersion,
			"--username", s.Username, "--password", s.Password, "--ca-file", caFile)
		if !strings.Contains(out, "version: "+DemoUpgradeVersion) {
			t.Errorf("helm show chart from the private repository:\n%s", out)
		}
		if out, err := h.run("", "show", "chart", "demo", "--repo", s.PrivateRepoURL, "--ca-file", caFile); err == nil || !strings.Contains(out, "401") {
			t.Errorf("helm without credentials: %v\n%s", err, out)
		}
	})

	for _, tool := range []struct{ name, bin string }{{"helm4", helm4}, {"helm3", helm3}} {
		t.Run("oci with "+tool.name, func(t *testing.T) {
			h := newHelmCLI(t, tool.bin)
			host := strings.TrimPrefix(s.OCIRegistry, "oci://")
			host = host[:strings.Index(host, "/")]
			// Anonymous: public/ works, charts/ does not.
			pulled := h.mustRun("show", "chart", s.OCIPublicRegistry+"/demo", "--version", DemoVersion, "--ca-file", caFile)
			if !strings.Contains(pulled, "name: demo") || !strings.Contains(pulled, "version: "+DemoVersion) {
				t.Errorf("anonymous show chart from public/:\n%s", pulled)
			}
			if out, err := h.run("", "show", "chart", s.OCIRegistry+"/demo", "--version", DemoVersion, "--ca-file", caFile); err == nil {
				t.Errorf("charts/ pulled without credentials:\n%s", out)
			}
			if out, err := h.run("wrong", "registry", "login", host, "--username", s.Username, "--password-stdin", "--ca-file", caFile); err == nil {
				t.Errorf("login with a wrong password succeeded:\n%s", out)
			}
			if out, err := h.run(s.Password, "registry", "login", host, "--username", s.Username, "--password-stdin", "--ca-file", caFile); err != nil {
				t.Fatalf("registry login: %v\n%s", err, out)
			}
			dest := t.TempDir()
			h.mustRun("pull", s.OCIRegistry+"/demo", "--version", DemoUpgradeVersion, "--ca-file", caFile, "--untar", "--destination", dest)
			b, err := os.ReadFile(filepath.Join(dest, "demo", "Chart.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var meta chartMeta
			if err := yaml.Unmarshal(b, &meta); err != nil || meta.Name != "demo" || meta.Version != DemoUpgradeVersion {
				t.Errorf("pulled Chart.yaml: %+v %v\n%s", meta, err, b)
			}
		})
	}

	// The signed repository against real helm: its provenance format, the Go signature and
	// the binary keyring (what the install pods get) as Helm 4 and Helm 3 read them.
	for _, tool := range []struct{ name, bin string }{{"helm4", helm4}, {"helm3", helm3}} {
		t.Run("signed charts verify with "+tool.name, func(t *testing.T) {
			armored, err := os.Open(s.KeyringFile)
			if err != nil {
				t.Fatal(err)
			}
			defer armored.Close()
			block, err := armor.Decode(armored)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(block.Body)
			if err != nil {
				t.Fatal(err)
			}
			keyring := filepath.Join(t.TempDir(), "pubring.gpg")
			if err := os.WriteFile(keyring, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			h := newHelmCLI(t, tool.bin)
			pull := func(repo, version string) (string, error) {
				return h.run("", "pull", "demo", "--repo", repo, "--version", version, "--verify", "--keyring", keyring,
					"--ca-file", caFile, "--destination", t.TempDir())
			}
			if out, err := pull(s.SignedRepoURL, DemoVersion); err != nil || !strings.Contains(out, SigningKeyName) {
				t.Errorf("signed %s: %v\n%s", DemoVersion, err, out)
			}
			if out, err := pull(s.SignedRepoURL, DemoUpgradeVersion); err == nil || !strings.Contains(out, "sha256 sum does not match") {
				t.Errorf("tampered %s: %v\n%s", DemoUpgradeVersion, err, out)
			}
			if out, err := pull(s.RepoURL, DemoVersion); err == nil || !strings.Contains(out, "failed to fetch provenance") {
				t.Errorf("unsigned: %v\n%s", err, out)
			}
			// The same from the OCI registry: the provenance is a layer of the chart's
			// manifest, which the public registry's charts lack.
			pullOCI := func(registry, version string) (string, error) {
				return h.run("", "pull", registry+"/demo", "--version", version, "--verify", "--keyring", keyring,
					"--ca-file", caFile, "--destination", t.TempDir())
			}
			if out, err := pullOCI(s.SignedOCIRegistry, DemoVersion); err != nil || !strings.Contains(out, SigningKeyName) {
				t.Errorf("OCI signed %s: %v\n%s", DemoVersion, err, out)
			}
			if out, err := pullOCI(s.SignedOCIRegistry, DemoUpgradeVersion); err == nil || !strings.Contains(out, "sha256 sum does not match") {
				t.Errorf("OCI tampered %s: %v\n%s", DemoUpgradeVersion, err, out)
			}
			if out, err := pullOCI(s.OCIPublicRegistry, DemoVersion); err == nil || !strings.Contains(out, "failed to fetch provenance") {
				t.Errorf("OCI unsigned: %v\n%s", err, out)
			}
		})
	}

	t.Run("demo renders its values and fails on a bad one", func(t *testing.T) {
		h := newHelmCLI(t, helm4)
		out := h.mustRun("template", "shop", "demo", "--repo", s.RepoURL, "--version", DemoVersion, "--ca-file", caFile,
			"--set", "message=hi there,replicaCount=3,service.type=NodePort,podAnnotations.team=blue")
		docs := parseManifests(t, out)
		for _, d := range docs {
			switch d.Kind {
			case "ConfigMap":
				want := map[string]string{"message": "hi there", "replicaCount": "3", "serviceType": "NodePort", "chartVersion": DemoVersion}
				for k, v := range want {
					if d.Data[k] != v {
						t.Errorf("ConfigMap %s: data.%s = %q, want %q", d.Metadata.Name, k, d.Data[k], v)
					}
				}
			case "Deployment":
				tmpl, _ := d.Spec["template"].(map[string]any)
				meta, _ := tmpl["metadata"].(map[string]any)
				ann, _ := meta["annotations"].(map[string]any)
				if d.Spec["replicas"] != float64(3) || ann["team"] != "blue" {
					t.Errorf("Deployment: replicas %v, pod annotations %v", d.Spec["replicas"], ann)
				}
			case "Service":
				if d.Spec["type"] != "NodePort" {
					t.Errorf("Service type %v", d.Spec["type"])
				}
			}
		}
		if got := namesOfKind(docs, "ConfigMap"); !slices.Equal(got, []string{"shop-demo"}) {
			t.Errorf("ConfigMaps %v", got)
		}
		out, err := h.run("", "template", "shop", "demo", "--repo", s.RepoURL, "--version", DemoVersion, "--ca-file", caFile, "--set", "replicaCount=three")
		if err == nil || !strings.Contains(out, DemoBadValueError+`, got "three"`) {
			t.Errorf("bad replicaCount: %v\n%s", err, out)
		}
	})

	t.Run("failure charts render what the fake node acts on", func(t *testing.T) {
		h := newHelmCLI(t, helm4)
		docs := parseManifests(t, h.mustRun("template", "hf", "hook-fails", "--repo", s.RepoURL, "--ca-file", caFile))
		var job *manifest
		for i := range docs {
			if docs[i].Kind == "Job" {
				job = &docs[i]
			}
		}
		if job == nil || job.Metadata.Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" || job.Spec["backoffLimit"] != float64(0) {
			t.Fatalf("hook-fails Job: %+v", job)
		}
		if ann := podAnnotations(job.Spec); ann["testenv.clusterkit.dev/exit-code"] != "1" {
			t.Errorf("hook pod annotations %v", ann)
		}
		docs = parseManifests(t, h.mustRun("template", "nr", "never-ready", "--repo", s.RepoURL, "--ca-file", caFile))
		if len(docs) != 1 || docs[0].Kind != "Deployment" || podAnnotations(docs[0].Spec)[AnnotationNeverReady] != "true" {
			t.Errorf("never-ready: %+v", docs)
		}
		docs = parseManifests(t, h.mustRun("template", "w", "crds", "--repo", s.RepoURL, "--ca-file", caFile, "--include-crds", "--set", "size=5"))
		var kinds []string
		for _, d := range docs {
			kinds = append(kinds, d.Kind+"/"+d.Metadata.Name)
		}
		if !slices.Equal(kinds, []string{"CustomResourceDefinition/widgets.testenv.clusterkit.dev", "Widget/w"}) || docs[1].Spec["size"] != float64(5) {
			t.Errorf("crds chart: %v %v", kinds, docs)
		}
	})

	t.Run("every catalog entry has a stand-in in its mirrors", func(t *testing.T) {
		h, h3 := newHelmCLI(t, helm4), newHelmCLI(t, helm3)
		for _, name := range apps.Names() {
			app, _ := apps.Lookup(name)
			values := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(values, []byte(app.DefaultValues), 0o600); err != nil {
				t.Fatal(err)
			}
			var defaults map[string]any
			if err := yaml.Unmarshal([]byte(app.DefaultValues), &defaults); err != nil {
				t.Fatal(err)
			}
			httpMirror, ociMirror := s.HTTPMirrors[app.Repository], s.OCIMirrors[app.Repository]
			if httpMirror == "" || ociMirror == "" {
				t.Errorf("%s: no mirror for %s: %v %v", name, app.Repository, s.HTTPMirrors, s.OCIMirrors)
				continue
			}
			for _, release := range []string{app.Chart, "edge", name} {
				// helm 3 through the HTTP mirror, helm 4 through the OCI one: install pods use both.
				for _, src := range []struct {
					cli  *helmCLI
					args []string
				}{
					{h3, []string{app.Chart, "--repo", httpMirror}},
					{h, []string{ociMirror + "/" + app.Chart}},
				} {
					args := append(append([]string{"template", release}, src.args...), "--version", app.Version, "--ca-file", caFile,
						"--namespace", app.Namespace, "-f", values)
					docs := parseManifests(t, src.cli.mustRun(args...))
					services := namesOfKind(docs, "Service")
					for key, want := range app.ResolveOutputs(release, defaults) {
						if !strings.HasSuffix(key, "service") {
							continue
						}
						if !slices.Contains(services, want) {
							t.Errorf("%s release %s from %s: output %s names Service %q, the stand-in renders %v", name, release, src.args[0], key, want, services)
						}
					}
					if len(namesOfKind(docs, "Deployment")) != 1 {
						t.Errorf("%s release %s: no Deployment for --wait", name, release)
					}
				}
			}
		}
		// Values reach the stand-ins where the real charts read them.
		app, _ := apps.Lookup("ingress-nginx")
		docs := parseManifests(t, h.mustRun("template", "web", "ingress-nginx", "--repo", s.HTTPMirrors[app.Repository],
			"--version", app.Version, "--ca-file", caFile, "--set", "controller.service.type=ClusterIP,fullnameOverride=edge,controller.replicaCount=2"))
		for _, d := range docs {
			if d.Kind == "Service" && d.Metadata.Name == "edge-controller" && d.Spec["type"] != "ClusterIP" {
				t.Errorf("controller Service type %v", d.Spec["type"])
			}
			if d.Kind == "Deployment" && d.Spec["replicas"] != float64(2) {
				t.Errorf("controller replicas %v", d.Spec["replicas"])
			}
		}
		if got := namesOfKind(docs, "IngressClass"); !slices.Equal(got, []string{"nginx"}) {
			t.Errorf("IngressClass %v", got)
		}
		app, _ = apps.Lookup("prometheus")
		docs = parseManifests(t, h.mustRun("template", "monitoring", app.Chart, "--repo", s.HTTPMirrors[app.Repository],
			"--version", app.Version, "--ca-file", caFile, "--set", "grafana.fullnameOverride=dashboards,alertmanager.enabled=false"))
		if got, want := namesOfKind(docs, "Service"), []string{"monitoring-kube-prometheus-operator", "monitoring-kube-prometheus-prometheus", "dashboards"}; !slices.Equal(got, want) {
			t.Errorf("kube-prometheus-stack Services %v, want %v", got, want)
		}
	})

	t.Run("extra mirrored charts are in their mirrors", func(t *testing.T) {
		h, h3 := newHelmCLI(t, helm4), newHelmCLI(t, helm3)
		for _, c := range extraMirrored {
			httpMirror, ociMirror := s.HTTPMirrors[c.Repository], s.OCIMirrors[c.Repository]
			if httpMirror == "" || ociMirror == "" {
				t.Errorf("%s: no mirror for %s: %v %v", c.Chart, c.Repository, s.HTTPMirrors, s.OCIMirrors)
				continue
			}
			code, _, body := get(httpMirror+"/index.yaml", "", "")
			var idx repoIndex
			if err := yaml.Unmarshal(body, &idx); code != 200 || err != nil {
				t.Fatalf("GET %s/index.yaml: %d %v", httpMirror, code, err)
			}
			if e := idx.Entries[c.Chart]; len(e) != 1 || e[0].Version != c.Version || e[0].Digest != digestOf(c.Chart, c.Version) {
				t.Errorf("mirror index entry %s: %+v, want %s with digest %s", c.Chart, e, c.Version, digestOf(c.Chart, c.Version))
			}
			out := h.mustRun("show", "chart", ociMirror+"/"+c.Chart, "--version", c.Version, "--ca-file", caFile)
			if !strings.Contains(out, "version: "+c.Version) || !strings.Contains(out, "test stand-in") {
				t.Errorf("OCI mirror's %s:\n%s", c.Chart, out)
			}
		}
		// podinfo: a Deployment and a Service <fullname>, replicas from replicaCount.
		const repo = "https://stefanprodan.github.io/podinfo"
		for _, tc := range []struct {
			release, set, name string
			replicas           float64
		}{{"podinfo", "", "podinfo", 1}, {"shop", "replicaCount=3", "shop-podinfo", 3}, {"my-podinfo-x", "", "my-podinfo-x", 1}} {
			for _, src := range []struct {
				cli  *helmCLI
				args []string
			}{
				{h3, []string{"podinfo", "--repo", s.HTTPMirrors[repo]}},
				{h, []string{s.OCIMirrors[repo] + "/podinfo"}},
			} {
				args := append(append([]string{"template", tc.release}, src.args...), "--version", "6.7.1", "--ca-file", caFile, "--namespace", "shop-review")
				if tc.set != "" {
					args = append(args, "--set", tc.set)
				}
				docs := parseManifests(t, src.cli.mustRun(args...))
				if got := namesOfKind(docs, "Deployment"); !slices.Equal(got, []string{tc.name}) {
					t.Errorf("podinfo release %s from %s: Deployments %v, want %s", tc.release, src.args[0], got, tc.name)
				}
				if got := namesOfKind(docs, "Service"); !slices.Equal(got, []string{tc.name}) {
					t.Errorf("podinfo release %s from %s: Services %v, want %s", tc.release, src.args[0], got, tc.name)
				}
				for _, d := range docs {
					if d.Kind == "Deployment" && d.Spec["replicas"] != tc.replicas {
						t.Errorf("podinfo release %s: replicas %v, want %v", tc.release, d.Spec["replicas"], tc.replicas)
					}
				}
			}
		}
	})

	// Close ends the servers and their goroutines. Checked here, not in a subtest: a
	// subtest's own goroutine would count.
	{
		addrs := []string{hostOf(t, s.RepoURL), hostOf(t, strings.Replace(s.OCIRegistry, "oci://", "https://", 1))}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		closed = true
		for _, a := range addrs {
			if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
				c.Close()
				t.Errorf("%s still accepts connections after Close", a)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > goroutines {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines after Close, %d before Start:\n%s", n, goroutines, buf[:runtime.Stack(buf, true)])
		}
	}

	// A second start with the same inputs takes the packages and indexes from the cache.
	warm, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer warm.Close()
	t.Logf("warm start (cached packages, fresh pushes) took %s", warm.PackagingTime.Round(time.Millisecond))
	if !warm.FromCache || !slices.Equal(warm.Charts, s.Charts) {
		t.Errorf("warm start: from cache %v, charts %v, first start %v", warm.FromCache, warm.Charts, s.Charts)
	}
	h := newHelmCLI(t, helm4)
	out := h.mustRun("show", "chart", warm.OCIMirrors["https://kubernetes.github.io/ingress-nginx"]+"/ingress-nginx", "--ca-file", caFile)
	if !strings.Contains(out, "name: ingress-nginx") {
		t.Errorf("warm start's OCI mirror:\n%s", out)
	}
	code, _, _ := get(warm.RepoURL+"/demo-"+DemoVersion+".tgz", "", "")
	if code != 200 {
		t.Errorf("warm start's repository: %d", code)
	}
}

func podAnnotations(spec map[string]any) map[string]any {
	tmpl, _ := spec["template"].(map[string]any)
	meta, _ := tmpl["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	return ann
}

func hostOf(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strconv.Atoi(u.Port()); err != nil {
		t.Fatalf("%s has no port", raw)
	}
	return u.Host
}

// TestServe runs the servers as a detached stack's separate process would: Serve writes the
// Sources to a file, LoadSources reads them, cancelling ends Serve.
func TestServe(t *testing.T) {
	requireAcc(t)
	helm4 := requireHelm(t, "helm4")
	dir := t.TempDir()
	caFile, certFile, keyFile := testPKI(t, dir)
	cfg := Config{Helm: helm4, CertFile: certFile, KeyFile: keyFile, CAFile: caFile, WorkDir: filepath.Join(dir, "work"), CacheDir: "off"}
	// The config crosses a process boundary as JSON.
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil || back.Helm != cfg.Helm || back.WorkDir != cfg.WorkDir || back.CAFile != caFile || back.CacheDir != "off" {
		t.Fatalf("config JSON round trip: %+v %v", back, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	state := filepath.Join(dir, "charts.json")
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, back, state) }()
	var s *Sources
	for deadline := time.Now().Add(time.Minute); s == nil; {
		select {
		case err := <-done:
			t.Fatalf("Serve ended early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if s, err = LoadSources(state); err != nil && time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	if st, err := os.Stat(state); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v %v", st.Mode(), err)
	}
	if s.Password == "" || len(s.HTTPMirrors) != len(s.OCIMirrors) || len(s.HTTPMirrors) == 0 {
		t.Errorf("loaded sources: %+v", s)
	}
	req, _ := http.NewRequest(http.MethodGet, s.PrivateRepoURL+"/index.yaml", nil)
	req.SetBasicAuth(s.Username, s.Password)
	resp, err := caClient(t, caFile).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("private index with the loaded credentials: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if c, err := net.DialTimeout("tcp", hostOf(t, s.RepoURL), time.Second); err == nil {
		c.Close()
		t.Error("the chart repository still listens after Serve returned")
	}
}
