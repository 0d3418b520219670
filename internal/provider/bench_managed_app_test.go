package provider

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	w := newTofuWorkdir(b, benchManagedAppConfig, "TF_VAR_host="+s.Host, "TF_VAR_ca="+s.CAPEM, "TF_VAR_token="+s.Token)
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
