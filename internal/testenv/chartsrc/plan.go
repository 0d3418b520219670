package chartsrc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
)

// standInsDir (under ChartsDir) holds one directory per catalog chart; _shared has the
// templates every stand-in gets.
const (
	standInsDir  = "standins"
	sharedDir    = "_shared"
	standInValue = "values.yaml"
)

// packJob is one chart version to package and where it is served.
type packJob struct {
	src     string // chart directory
	name    string
	version string // helm package --version
	standIn string // the catalog repository URL, for stand-ins
	repos   []string
	oci     []string
	tgz     string // set by pack
}

type chartPlan struct {
	jobs    []*packJob
	repos   []string          // HTTP repository paths
	private map[string]bool   // HTTP repository paths behind basic auth
	mirrors map[string]string // catalog repository URL -> mirror path under mirror/
	missing []apps.App        // catalog entries without a stand-in directory
}

// planCharts lists the project's charts and generates the catalog stand-ins' sources under
// workDir/src.
func planCharts(chartsDir, workDir string) (*chartPlan, error) {
	p := &chartPlan{
		repos:   []string{publicRepo, privateRepo},
		private: map[string]bool{privateRepo: true},
		mirrors: map[string]string{},
	}
	entries, err := os.ReadDir(chartsDir)
	if err != nil {
		return nil, fmt.Errorf("chartsrc: reading the charts directory: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == standInsDir {
			continue
		}
		dir := filepath.Join(chartsDir, e.Name())
		meta, err := readChartMeta(dir)
		if err != nil {
			return nil, err
		}
		versions := []string{meta.Version}
		if meta.Name == "demo" {
			versions = append(versions, DemoUpgradeVersion)
		}
		for _, v := range versions {
			p.jobs = append(p.jobs, &packJob{src: dir, name: meta.Name, version: v,
				repos: []string{publicRepo, privateRepo}, oci: []string{ociCharts, publicRepo}})
		}
	}

	shared := filepath.Join(chartsDir, standInsDir, sharedDir, "templates")
	var standIns []mirroredChart
	for _, name := range apps.Names() {
		app, _ := apps.Lookup(name)
		standIns = append(standIns, mirroredChart{Repository: app.Repository, Chart: app.Chart, Version: app.Version,
			For: "catalog entry " + app.Name, app: &app})
	}
	standIns = append(standIns, extraMirrored...)
	for _, c := range standIns {
		slug, err := MirrorPath(c.Repository)
		if err != nil {
			return nil, fmt.Errorf("chartsrc: %s: %w", c.For, err)
		}
		mirror := mirrorRepo + "/" + slug
		if _, seen := p.mirrors[c.Repository]; !seen {
			p.mirrors[c.Repository] = slug
			p.repos = append(p.repos, mirror)
		}
		overlay := filepath.Join(chartsDir, standInsDir, c.Chart)
		if _, err := os.Stat(filepath.Join(overlay, standInValue)); err != nil {
			if c.app == nil {
				return nil, fmt.Errorf("chartsrc: %s has no stand-in: %w", c.For, err)
			}
			p.missing = append(p.missing, *c.app)
			continue
		}
		src := filepath.Join(workDir, "src", slug, c.Chart)
		if err := writeStandIn(src, c, shared, overlay); err != nil {
			return nil, fmt.Errorf("chartsrc: stand-in for %s: %w", c.For, err)
		}
		p.jobs = append(p.jobs, &packJob{src: src, name: c.Chart, version: c.Version, standIn: c.Repository,
			repos: []string{mirror}, oci: []string{mirror}})
	}
	return p, nil
}

// mirroredChart is a chart of a public repository served, as a stand-in, in that
// repository's mirrors: every catalog entry, and extraMirrored.
type mirroredChart struct {
	Repository string // as the catalog or a chart block names it
	Chart      string // also the stand-in's directory under standins/
	Version    string
	For        string // who installs it, for the generated Chart.yaml
	app        *apps.App
}

// extraMirrored are charts outside the catalog that the examples install from public
// repositories (examples/quickstart's custom chart), so the examples run unchanged on the
// local stack with chart_repository_mirrors pointed at its mirrors. Each has a stand-in
// under standins/<chart>, built like the catalog's.
var extraMirrored = []mirroredChart{
	{Repository: "https://stefanprodan.github.io/podinfo", Chart: "podinfo", Version: "6.7.1", For: "the custom chart of examples/quickstart"},
}

type chartMeta struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

func readChartMeta(dir string) (chartMeta, error) {
	var m chartMeta
	b, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return m, fmt.Errorf("chartsrc: %w", err)
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("chartsrc: %s/Chart.yaml: %w", dir, err)
	}
	if m.Name == "" || m.Version == "" {
		return m, fmt.Errorf("chartsrc: %s/Chart.yaml has no name or version", dir)
	}
	return m, nil
}

// writeStandIn assembles a stand-in chart: its Chart.yaml (named after the mirrored chart;
// the version comes from helm package --version), the shared templates, then the
// directory's own values.yaml and templates.
func writeStandIn(dst string, c mirroredChart, shared, overlay string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dst, "templates"), 0o755); err != nil {
		return err
	}
	chartYAML := fmt.Sprintf(`# clusterkit test stand-in for %[1]s (%[3]s), generated by chartsrc from
# internal/testenv/testdata/charts/standins/%[2]s: not the real chart.
apiVersion: v2
name: %[2]s
description: clusterkit test stand-in for %[2]s (%[1]s); not the real chart.
type: application
version: 0.0.0
`, c.For, c.Chart, c.Repository)
	if err := os.WriteFile(filepath.Join(dst, "Chart.yaml"), []byte(chartYAML), 0o644); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(overlay, standInValue), filepath.Join(dst, standInValue)); err != nil {
		return err
	}
	for _, dir := range []string{shared, filepath.Join(overlay, "templates")} {
		files, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) && dir != shared {
			continue
		}
		if err != nil {
			return err
		}
		for _, f := range files {
			if f.Type().IsRegular() {
				if err := copyFile(filepath.Join(dir, f.Name()), filepath.Join(dst, "templates", f.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var mirrorSegment = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*$`)

// MirrorPath is where a public chart repository is mirrored, below mirror/ on both servers:
// its host and path ("https://hub.jupyter.org/helm-chart/" -> "hub.jupyter.org/helm-chart"),
// which must also be a valid OCI repository name.
func MirrorPath(repoURL string) (string, error) {
	u, err := url.Parse(repoURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("repository %q is not a plain https URL", repoURL)
	}
	segs := []string{strings.ToLower(u.Hostname())}
	for _, s := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		if s != "" {
			segs = append(segs, strings.ToLower(s))
		}
	}
	for _, s := range segs {
		if !mirrorSegment.MatchString(s) {
			return "", fmt.Errorf("repository %q: %q cannot be part of a mirror path", repoURL, s)
		}
	}
	return strings.Join(segs, "/"), nil
}

// pack packages every job, lays out one directory per HTTP repository (workDir/http/<repo>)
// and indexes each with helm repo index; or, when cacheDir has an intact entry for the same
// inputs, copies that. It reports whether the cache served.
func (p *chartPlan) pack(ctx context.Context, h *helm, cacheDir string, logf func(string, ...any)) ([]Chart, bool, error) {
	for _, d := range []string{"pkg", "http"} {
		if err := os.RemoveAll(filepath.Join(h.workDir, d)); err != nil {
			return nil, false, err
		}
	}
	var entry string
	if cacheDir != "" {
		key, err := p.cacheKey(h.bin)
		if err != nil {
			return nil, false, err
		}
		entry = filepath.Join(cacheDir, key)
	}
	hit := entry != "" && restoreCache(entry, h.workDir) == nil
	if !hit {
		for _, d := range []string{"pkg", "http"} { // what a failed restore left
			if err := os.RemoveAll(filepath.Join(h.workDir, d)); err != nil {
				return nil, false, err
			}
		}
		if err := p.build(ctx, h); err != nil {
			return nil, false, err
		}
		if entry != "" {
			if err := storeCache(h.workDir, entry); err != nil {
				logf("chartsrc: not cached: %v", err)
			}
		}
	}
	charts := make([]Chart, len(p.jobs))
	for i, j := range p.jobs {
		j.tgz = p.tgzPath(h.workDir, i)
		digest, err := fileSHA256(j.tgz)
		if err != nil {
			return nil, hit, fmt.Errorf("chartsrc: packaged %s: %w", j.name, err)
		}
		charts[i] = Chart{Name: j.name, Version: j.version, Digest: digest, StandIn: j.standIn}
	}
	return charts, hit, nil
}

// tgzPath: one directory per job, so jobs of the same chart never race on a file name.
func (p *chartPlan) tgzPath(workDir string, i int) string {
	j := p.jobs[i]
	return filepath.Join(workDir, "pkg", fmt.Sprint(i), j.name+"-"+j.version+".tgz")
}

func (p *chartPlan) build(ctx context.Context, h *helm) error {
	err := forEach(ctx, len(p.jobs), func(i int) error {
		j := p.jobs[i]
		dst := filepath.Dir(p.tgzPath(h.workDir, i))
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		if _, err := h.run(ctx, "", "package", j.src, "--destination", dst, "--version", j.version); err != nil {
			return err
		}
		if _, err := os.Stat(p.tgzPath(h.workDir, i)); err != nil {
			return fmt.Errorf("chartsrc: helm package %s: %w", j.src, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	httpRoot := filepath.Join(h.workDir, "http")
	for _, repo := range p.repos {
		if err := os.MkdirAll(filepath.Join(httpRoot, repo), 0o755); err != nil {
			return err
		}
	}
	for i, j := range p.jobs {
		tgz := p.tgzPath(h.workDir, i)
		for _, repo := range j.repos {
			if err := linkOrCopy(tgz, filepath.Join(httpRoot, repo, filepath.Base(tgz))); err != nil {
				return err
			}
		}
	}
	// Relative chart URLs: the index stays right whatever port the server gets.
	return forEach(ctx, len(p.repos), func(i int) error {
		_, err := h.run(ctx, "", "repo", "index", filepath.Join(httpRoot, p.repos[i]))
		return err
	})
}

func (p *chartPlan) httpRepos(workDir string) map[string]httpRepo {
	out := map[string]httpRepo{}
	for _, r := range p.repos {
		out[r] = httpRepo{dir: filepath.Join(workDir, "http", r), private: p.private[r]}
	}
	return out
}

// push pushes every job to its OCI repositories (helm push, as the login left credentials
// in helm's registry config).
func (p *chartPlan) push(ctx context.Context, h *helm, host string) error {
	type target struct{ tgz, ref string }
	var targets []target
	for _, j := range p.jobs {
		for _, prefix := range j.oci {
			targets = append(targets, target{j.tgz, "oci://" + host + "/" + prefix})
		}
	}
	return forEach(ctx, len(targets), func(i int) error {
		_, err := h.run(ctx, "", "push", targets[i].tgz, targets[i].ref, "--ca-file", h.caFile)
		return err
	})
}

// pushSigned pushes the signed repository's charts to oci://host/signed; helm push sends
// the provenance file next to each chart (<chart>.tgz.prov) along with it.
func pushSigned(ctx context.Context, h *helm, dir, host string) error {
	tgzs, err := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if err != nil {
		return err
	}
	return forEach(ctx, len(tgzs), func(i int) error {
		_, err := h.run(ctx, "", "push", tgzs[i], "oci://"+host+"/"+signedRepo, "--ca-file", h.caFile)
		return err
	})
}

// forEach runs fn(0..n-1) on a few goroutines and returns once all of them have ended:
// the first error, or ctx's.
func forEach(ctx context.Context, n int, fn func(int) error) error {
	workers := min(n, max(8, 2*runtime.NumCPU()))
	next := make(chan int)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				errs[i] = fn(i)
			}
		})
	}
	var ctxErr error
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			ctxErr = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	return errors.Join(append([]error{ctxErr}, slices.DeleteFunc(errs, func(e error) bool { return e == nil })...)...)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	return copyFile(src, dst)
}
