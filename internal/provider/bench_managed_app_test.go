package provider

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

var benchManagedAppConfig = providerLocal + integrationVarsHCL + `
variable "iteration" { type = number }

resource "clusterkit_managed_app" "bench" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name      = "ck-bench"
  namespace = "ck-bench-ns"
  chart = {
    repository = "https://charts.example.com/stable"
    name       = "demo"
    version    = "1.0.0"
  }
  values                    = "iteration: ${var.iteration}\n"
  installer_pod_annotations = { "testenv.clusterkit.dev/run-time" = "100ms" }
}
`

// BenchmarkManagedAppApply measures a managed app through OpenTofu end to end: the
// provider is built and run as the real plugin binary (dev_overrides), and each iteration
// is one `tofu apply` that upgrades the app (its values change), so one install pod runs.
// It reports the latency from the pod's Succeeded state (seen by an independent watch)
// to OpenTofu's apply_complete for the resource (its JSON log's @timestamp), and the
// Kubernetes API requests the provider made per apply (refresh, plan and apply together,
// counted from its debug log).
//
//	TF_ACC=1 go test ./internal/provider/ -run '^$' -bench ManagedAppApply -benchtime 20x
func BenchmarkManagedAppApply(b *testing.B) {
	s := stackFromEnv(b)
	cs := s.adminClientset(b)
	ctx := context.Background()
	w := newTofuWorkdir(b, s, benchManagedAppConfig)
	b.Cleanup(func() {
		if _, err := w.run(ctx, "destroy", "-auto-approve", "-var", "iteration=0"); err != nil {
			b.Errorf("destroy: %v", err)
		}
		// The benchmark function runs more than once (b.N = 1 first): the next run must
		// not meet a terminating namespace.
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), "ck-bench-ns", metav1.DeleteOptions{})
		waitGone(b, cs, "ck-bench-ns")
	})
	if _, err := w.run(ctx, "apply", "-auto-approve", "-var", "iteration=0"); err != nil {
		b.Fatalf("first apply: %v", err)
	}

	var mu sync.Mutex
	succeeded := map[string]time.Time{} // pod UID -> when the observer saw it Succeeded
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	watcher, err := cs.CoreV1().Pods(kube.DefaultInstallNamespace).Watch(wctx, metav1.ListOptions{LabelSelector: kube.LabelApp + "=ck-bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer watcher.Stop()
	go func() {
		for ev := range watcher.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && p.Status.Phase == corev1.PodSucceeded {
				mu.Lock()
				if _, seen := succeeded[string(p.UID)]; !seen {
					succeeded[string(p.UID)] = time.Now()
				}
				mu.Unlock()
			}
		}
	}()

	var latencies []time.Duration
	var requests []int
	var calls []string
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		logStart := w.logSize(b)
		out, err := w.run(ctx, "apply", "-auto-approve", "-json", "-var", fmt.Sprintf("iteration=%d", i))
		if err != nil {
			b.Fatalf("apply %d: %v", i, err)
		}
		b.StopTimer()
		done, err := applyCompleteAt(out, "clusterkit_managed_app.bench")
		if err != nil {
			b.Fatalf("apply %d: %v", i, err)
		}
		mu.Lock()
		if len(succeeded) != 1 {
			b.Fatalf("apply %d: the observer saw %d install pods succeed, want 1", i, len(succeeded))
		}
		for _, at := range succeeded {
			latencies = append(latencies, done.Sub(at))
		}
		clear(succeeded)
		mu.Unlock()
		calls = w.logLines(b, logStart, "Kubernetes API call: ")
		requests = append(requests, len(calls))
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(latencies)
	slices.Sort(requests)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-succeeded-to-apply-complete-ms")
	b.ReportMetric(pct(0.95), "p95-succeeded-to-apply-complete-ms")
	b.ReportMetric(float64(requests[len(requests)/2]), "median-api-requests/apply")
	b.ReportMetric(float64(requests[len(requests)-1]), "max-api-requests/apply")
	b.Logf("the last apply's Kubernetes API calls:\n%s", strings.Join(calls, "\n"))
}

// applyCompleteAt is when OpenTofu logged the resource's apply as complete.
func applyCompleteAt(jsonLines []byte, addr string) (time.Time, error) {
	sc := bufio.NewScanner(bytes.NewReader(jsonLines))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var msg struct {
			Type      string `json:"type"`
			Timestamp string `json:"@timestamp"`
			Hook      struct {
				Resource struct {
					Addr string `json:"addr"`
				} `json:"resource"`
			} `json:"hook"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) != nil || msg.Type != "apply_complete" || msg.Hook.Resource.Addr != addr {
			continue
		}
		return time.Parse(time.RFC3339Nano, msg.Timestamp)
	}
	return time.Time{}, fmt.Errorf("no apply_complete for %s in OpenTofu's output", addr)
}

// tofuWorkdir runs OpenTofu on one configuration with the provider built as a plugin
// binary, its debug log going to a file.
type tofuWorkdir struct {
	dir, tofu, logPath string
	env                []string
}

func newTofuWorkdir(tb testing.TB, s testStack, config string) *tofuWorkdir {
	tb.Helper()
	dir := tb.TempDir()
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-clusterkit"), "../..")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("building the provider: %v\n%s", err, out)
	}
	rc := filepath.Join(dir, "tofurc")
	rcText := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"registry.opentofu.org/clusterkit-dev/clusterkit\" = %q\n  }\n  direct {}\n}\n", bin)
	cfg := filepath.Join(dir, "cfg")
	for path, text := range map[string]string{rc: rcText, filepath.Join(cfg, "main.tf"): config} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	w := &tofuWorkdir{dir: cfg, tofu: os.Getenv("TF_ACC_TERRAFORM_PATH"), logPath: filepath.Join(dir, "tofu.log")}
	w.env = append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "TF_LOG_PROVIDER=DEBUG", "TF_LOG_PATH="+w.logPath,
		"TF_VAR_host="+s.Host, "TF_VAR_ca="+s.CAPEM, "TF_VAR_token="+s.Token)
	return w
}

func (w *tofuWorkdir) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, w.tofu, args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("tofu %s: %w\n%s%s", args[0], err, out, stderr.Bytes())
	}
	return out, nil
}

func (w *tofuWorkdir) logSize(tb testing.TB) int64 {
	st, err := os.Stat(w.logPath)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		tb.Fatal(err)
	}
	return st.Size()
}

// logLines returns, from the log lines after offset that contain s, what follows s up
// to the next colon (for an API call: verb and path).
func (w *tofuWorkdir) logLines(tb testing.TB, offset int64, s string) []string {
	data, err := os.ReadFile(w.logPath)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data[offset:]), "\n") {
		if _, rest, ok := strings.Cut(line, s); ok {
			what, _, _ := strings.Cut(rest, ":")
			out = append(out, what)
		}
	}
	return out
}
