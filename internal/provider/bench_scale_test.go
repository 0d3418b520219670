package provider

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/faultproxy"
)

// BenchmarkScale drives OpenTofu through apply, refresh, plan and destroy of N managed
// apps (the demo chart, real helm in the install pods) spread over 4 namespaces and 2
// clusters, and prints per operation: wall time, the API requests each cluster got, the
// most TCP connections open to each cluster at once, and the provider's peak RSS.
//
// The 2 clusters are 2 endpoints of the local stack's one API server: a pass-through
// proxy each (package faultproxy, no faults), so the provider holds a client per cluster
// and the proxies count requests and connections whatever the provider logs.
//
//	TF_ACC=1 CLUSTERKIT_BENCH_N=20,200 go test ./internal/provider/ -run '^$' -bench Scale -benchtime 1x -timeout 3h
//
// The apps are clusterkit_managed_app resources (benchScaleTemplate). For a side-by-side
// run, CLUSTERKIT_BENCH_PEER_TEMPLATE names a text/template of the same apps for another
// provider (same data: .Apps, .Clusters, .CA, .Token, .ChartRepo, .ChartCAFile),
// CLUSTERKIT_BENCH_PEER_PLUGIN its plugin binary's name (for its RSS) and
// CLUSTERKIT_BENCH_OVERRIDES ("source=dir,...") where OpenTofu finds it; every operation
// then runs on both sides in turn, so they see the same load. CLUSTERKIT_BENCH_REQUEST_LOG
// names a directory for each operation's requests with their times (writeRequestLog);
// CLUSTERKIT_BENCH_PROFILE a directory for the provider's CPU and heap profiles, one
// subdirectory per operation (a profiling build, main_profile.go; the figures then
// include the profiler's own cost).
// The project builds and downloads no peer: the benchmark needs none.
func BenchmarkScale(b *testing.B) {
	s := stackFromEnv(b)
	ns := []int{20}
	if v := os.Getenv("CLUSTERKIT_BENCH_N"); v != "" {
		ns = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("CLUSTERKIT_BENCH_N: %q is not a count of apps", f)
			}
			ns = append(ns, n)
		}
	}
	sides := []benchSide{{name: "clusterkit", tmpl: template.Must(template.New("ck").Parse(benchScaleTemplate)), plugin: "terraform-provider-clusterkit"}}
	if f := os.Getenv("CLUSTERKIT_BENCH_PEER_TEMPLATE"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		sides = append(sides, benchSide{name: "peer", tmpl: template.Must(template.New("peer").Parse(string(data))), plugin: os.Getenv("CLUSTERKIT_BENCH_PEER_PLUGIN")})
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(accStack.Dir, "pki", "apiserver.crt"), filepath.Join(accStack.Dir, "pki", "apiserver.key"))
	if err != nil {
		b.Fatal(err)
	}
	var clusters []benchCluster
	for _, name := range []string{"a", "b"} {
		p, err := faultproxy.Start(faultproxy.Options{Target: s.Host, TargetCAPEM: []byte(s.CAPEM), Cert: cert})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = p.Close() })
		clusters = append(clusters, benchCluster{Name: name, Host: p.URL(), proxy: p})
	}
	profiles := os.Getenv("CLUSTERKIT_BENCH_PROFILE")
	bin := buildBenchProvider(b, profiles != "")
	for i := range sides {
		sides[i].w = newBenchWorkdir(b, bin)
	}
	for _, n := range ns {
		for _, side := range sides {
			data := benchData{N: n, Clusters: clusters, CA: s.CAPEM, Token: s.Token,
				ChartRepo: os.Getenv("CLUSTERKIT_TEST_CHART_REPO_URL"), ChartCAFile: os.Getenv("CLUSTERKIT_TEST_CHART_CA_FILE")}
			for i := range n {
				data.Apps = append(data.Apps, benchApp{Name: fmt.Sprintf("%s-%d-%04d", side.name[:2], n, i),
					Namespace: fmt.Sprintf("bench-%s-%d", side.name[:2], i%4), Cluster: clusters[(i/4)%2].Name})
			}
			var cfg bytes.Buffer
			if err := side.tmpl.Execute(&cfg, data); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(side.w.dir, "main.tf"), cfg.Bytes(), 0o600); err != nil {
				b.Fatal(err)
			}
		}
		// Each operation runs on every side before the next: both see the same load.
		for _, op := range []struct {
			name string
			args []string
		}{
			{"apply", []string{"apply", "-auto-approve"}},
			{"refresh", []string{"apply", "-refresh-only", "-auto-approve"}},
			{"plan", []string{"plan", "-detailed-exitcode"}},
			{"destroy", []string{"destroy", "-auto-approve"}},
		} {
			for _, side := range sides {
				var env []string
				if profiles != "" && side.name == "clusterkit" {
					d := filepath.Join(profiles, fmt.Sprintf("%s-N%d-%s", side.name, n, op.name))
					if err := os.MkdirAll(d, 0o755); err != nil {
						b.Fatal(err)
					}
					env = []string{"CLUSTERKIT_PROFILE_DIR=" + d}
				}
				m, err := side.w.measure(side.plugin, clusters, env, op.args...)
				if err != nil {
					b.Fatalf("%s N=%d %s: %v", side.name, n, op.name, err)
				}
				line := fmt.Sprintf("%-10s N=%-4d %-8s wall %8.1fs  requests %-11s (%5.1f/app)  peak conns %s  peak RSS %4d MiB",
					side.name, n, op.name, m.wall.Seconds(), m.requestsString(), float64(m.requestsTotal())/float64(n), m.connsString(), m.rssKiB/1024)
				fmt.Fprintln(os.Stderr, line) // as it goes: a long run's figures are not lost to a timeout
				b.Log(line)
				cpu := fmt.Sprintf("%-10s N=%-4d %-8s CPU: %s", side.name, n, op.name, m.cpuString())
				fmt.Fprintln(os.Stderr, cpu)
				b.Log(cpu)
				b.Logf("%-10s N=%-4d %-8s requests by kind: %s", side.name, n, op.name, m.kindsString(n))
				if dir := os.Getenv("CLUSTERKIT_BENCH_REQUEST_LOG"); dir != "" {
					if err := m.writeRequestLog(filepath.Join(dir, fmt.Sprintf("%s-N%d-%s.tsv", side.name, n, op.name))); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(m.wall.Seconds(), fmt.Sprintf("%s-N%d-%s-s", side.name, n, op.name))
				b.ReportMetric(float64(m.requestsTotal()), fmt.Sprintf("%s-N%d-%s-requests", side.name, n, op.name))
				b.ReportMetric(float64(m.rssKiB)/1024, fmt.Sprintf("%s-N%d-%s-rss-MiB", side.name, n, op.name))
			}
		}
	}
}

type benchSide struct {
	name, plugin string
	tmpl         *template.Template
	w            *benchWorkdir
}

// benchScaleTemplate: the apps as clusterkit_managed_app, one provider for both clusters.
const benchScaleTemplate = `
terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

provider "clusterkit" {
  allow_local_requests = true
}

locals {
  ca    = <<-EOT
{{.CA}}
EOT
  hosts = { {{range .Clusters}}{{.Name}} = "{{.Host}}", {{end}} }
}
{{range .Apps}}
resource "clusterkit_managed_app" "{{.Name}}" {
  cluster_connection = {
    host                   = local.hosts["{{.Cluster}}"]
    cluster_ca_certificate = local.ca
    token                  = "{{$.Token}}"
  }
  name      = "{{.Name}}"
  namespace = "{{.Namespace}}"
  chart = {
    repository = "{{$.ChartRepo}}"
    name       = "demo"
    version    = "0.1.0"
  }
  values = "message: {{.Name}}\n"
}
{{end}}
`

type benchCluster struct {
	Name, Host string
	proxy      *faultproxy.Proxy
}

type benchApp struct{ Name, Namespace, Cluster string }

type benchData struct {
	N                                 int
	Apps                              []benchApp
	Clusters                          []benchCluster
	CA, Token, ChartRepo, ChartCAFile string
}

type benchWorkdir struct {
	dir, tofu string
	env       []string
}

func buildBenchProvider(tb testing.TB, profiling bool) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "bin")
	args := []string{"build", "-o", filepath.Join(bin, "terraform-provider-clusterkit")}
	if profiling {
		args = append(args, "-tags", "benchprofile")
	}
	if out, err := exec.Command("go", append(args, "../..")...).CombinedOutput(); err != nil {
		tb.Fatalf("building the provider: %v\n%s", err, out)
	}
	return bin
}

// newBenchWorkdir writes a CLI configuration that serves the provider in bin (and any
// CLUSTERKIT_BENCH_OVERRIDES) from local directories; nothing is downloaded.
func newBenchWorkdir(tb testing.TB, bin string) *benchWorkdir {
	tb.Helper()
	root := tb.TempDir()
	overrides := fmt.Sprintf("    %q = %q\n", accCLI.providerAddress(), bin) // the run's CLI (cli_test.go)
	if v := os.Getenv("CLUSTERKIT_BENCH_OVERRIDES"); v != "" {
		for _, kv := range strings.Split(v, ",") {
			src, dir, ok := strings.Cut(kv, "=")
			if !ok {
				tb.Fatalf("CLUSTERKIT_BENCH_OVERRIDES: %q is not source=dir", kv)
			}
			overrides += fmt.Sprintf("    %q = %q\n", src, dir)
		}
	}
	rc := filepath.Join(root, "tofurc")
	if err := os.WriteFile(rc, []byte("provider_installation {\n  dev_overrides {\n"+overrides+"  }\n  direct {}\n}\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	dir := filepath.Join(root, "cfg")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return &benchWorkdir{dir: dir, tofu: os.Getenv("TF_ACC_TERRAFORM_PATH"),
		env: append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1")}
}

type benchMeasure struct {
	wall     time.Duration
	kinds    map[string]int // requests by "METHOD kind status", all clusters
	requests []int          // per cluster
	conns    []int          // most open at once, per cluster
	rssKiB   int64          // the largest peak of any plugin process of the run
	// CPU used during the operation: by the CLI and its plugins (the CLI's rusage, which
	// holds its waited-for children), and by each component of the stack (the node agent's
	// holds the install pods' helm runs).
	cliCPU   time.Duration
	stackCPU map[string]time.Duration
	start    time.Time
	log      []benchRequest // every request of the operation, per cluster in arrival order
}

type benchRequest struct {
	cluster string
	faultproxy.Request
}

// writeRequestLog writes the operation's requests as TSV: cluster, milliseconds from the
// operation's start to the request's arrival and to its answer, method (WATCH for a
// watch), path, query, status. To see where an operation's time goes app by app.
func (m benchMeasure) writeRequestLog(path string) error {
	var b strings.Builder
	b.WriteString("cluster\treceived_ms\tanswered_ms\tmethod\tpath\tquery\tstatus\n")
	for _, r := range m.log {
		fmt.Fprintf(&b, "%s\t%d\t%d\t%s\t%s\t%s\t%d\n", r.cluster, r.Received.Sub(m.start).Milliseconds(),
			r.Answered.Sub(m.start).Milliseconds(), requestMethod(r.Request), r.Path, r.Query, r.Status)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// cpuString: "cli+plugins 4.1s, node-agent 60.2s, kube-apiserver 20.3s, ..." (the stack's
// components by CPU used, most first).
func (m benchMeasure) cpuString() string {
	parts := []string{fmt.Sprintf("cli+plugins %.1fs", m.cliCPU.Seconds())}
	names := make([]string, 0, len(m.stackCPU))
	for name := range m.stackCPU {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return m.stackCPU[names[i]] > m.stackCPU[names[j]] })
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %.1fs", name, m.stackCPU[name].Seconds()))
	}
	return strings.Join(parts, ", ")
}

func (m benchMeasure) requestsTotal() (n int) {
	for _, r := range m.requests {
		n += r
	}
	return n
}

func (m benchMeasure) requestsString() string { return joinInts(m.requests) }
func (m benchMeasure) connsString() string    { return joinInts(m.conns) }

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, "+")
}

// measure runs tofu with args (and env besides the workdir's), sampling the proxies' open
// connections and the RSS high-water mark of tofu's plugin processes named plugin.
func (w *benchWorkdir) measure(plugin string, clusters []benchCluster, env []string, args ...string) (benchMeasure, error) {
	m := benchMeasure{requests: make([]int, len(clusters)), conns: make([]int, len(clusters))}
	before := make([]int, len(clusters))
	for i, c := range clusters {
		before[i] = len(c.proxy.Requests())
	}
	cmd := exec.Command(w.tofu, args...)
	cmd.Dir, cmd.Env = w.dir, append(slices.Clip(w.env), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cpuBefore, err := testenv.ComponentCPU(accStack.Dir)
	if err != nil {
		return m, err
	}
	m.start = time.Now()
	if err := cmd.Start(); err != nil {
		return m, err
	}
	var mu sync.Mutex
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond) // sampling, not the code under test
		defer tick.Stop()
		for {
			mu.Lock()
			for i, c := range clusters {
				m.conns[i] = max(m.conns[i], c.proxy.OpenConns())
			}
			m.rssKiB = max(m.rssKiB, pluginPeakRSS(cmd.Process.Pid, plugin))
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	err = cmd.Wait()
	m.wall = time.Since(m.start)
	close(done)
	<-sampled
	m.cliCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	cpuAfter, cpuErr := testenv.ComponentCPU(accStack.Dir)
	if cpuErr != nil {
		return m, cpuErr
	}
	m.stackCPU = map[string]time.Duration{}
	for name, d := range cpuAfter {
		m.stackCPU[name] = d - cpuBefore[name]
	}
	m.kinds = map[string]int{}
	for i, c := range clusters {
		reqs := c.proxy.Requests()[before[i]:]
		m.requests[i] = len(reqs)
		for _, r := range reqs {
			m.kinds[requestKind(r)]++
			m.log = append(m.log, benchRequest{cluster: c.Name, Request: r})
		}
	}
	// plan -detailed-exitcode: 0 is no change, 2 a change, 1 an error.
	var ee *exec.ExitError
	switch {
	case err == nil:
		return m, nil
	case args[0] == "plan" && errors.As(err, &ee) && ee.ExitCode() == 2:
		return m, fmt.Errorf("the plan after apply and refresh has changes:\n%s", tail(out.String(), 3000))
	}
	return m, fmt.Errorf("tofu %s: %w\n%s", args[0], err, tail(out.String(), 3000))
}

// requestKind names a request by method, resource (and subresource) and status, without
// names or namespaces: "GET pods/log 200", "WATCH pods 200".
func requestKind(r faultproxy.Request) string {
	parts := strings.Split(strings.Trim(r.Path, "/"), "/")
	// /api/v1/... or /apis/GROUP/VERSION/...; then [namespaces NS] RESOURCE [NAME [SUB]]
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	kind := strings.Join(parts, "/")
	if len(parts) >= 1 {
		kind = parts[0]
		if len(parts) >= 3 {
			kind += "/" + parts[2]
		}
	}
	return fmt.Sprintf("%s %s %d", requestMethod(r), kind, r.Status)
}

// requestMethod is the request's HTTP method, or WATCH for a watch.
func requestMethod(r faultproxy.Request) string {
	if r.Watch {
		return "WATCH"
	}
	return r.Method
}

// kindsString is the breakdown, most frequent first.
func (m benchMeasure) kindsString(n int) string {
	type kc struct {
		k string
		c int
	}
	var all []kc
	for k, c := range m.kinds {
		all = append(all, kc{k, c})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].c > all[j].c || all[i].c == all[j].c && all[i].k < all[j].k })
	var out []string
	for _, x := range all {
		out = append(out, fmt.Sprintf("%s: %.1f/app", x.k, float64(x.c)/float64(n)))
	}
	return strings.Join(out, ", ")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// pluginPeakRSS is the largest VmHWM (KiB) of parent's children whose executable is
// named plugin.
func pluginPeakRSS(parent int, plugin string) int64 {
	entries, _ := os.ReadDir("/proc")
	var peak int64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || filepath.Base(exe) != plugin {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil || !strings.Contains(string(status), fmt.Sprintf("\nPPid:\t%d\n", parent)) {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kib, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				peak = max(peak, kib)
			}
		}
	}
	return peak
}
