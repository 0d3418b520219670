package provider

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

var benchManagedAppConfig = providerCharts + integrationVarsHCL + `
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
    repository = var.chart_repo
    name       = "demo"
    version    = "0.1.0"
  }
  values = "message: iteration ${var.iteration}\n"
}
`

// BenchmarkManagedAppApply measures a managed app through OpenTofu end to end, with real
// helm in the install pod: the provider is built and run as the real plugin binary
// (dev_overrides), and each iteration is one `tofu apply` that upgrades the demo chart (its
// message changes, so helm rolls the Deployment and waits for it). An independent watch
// sees the install pod created and Succeeded (helm finished); OpenTofu's JSON log gives
// apply_complete for the resource. It reports p50/p95 of created -> helm finished and of
// helm finished -> apply continues, and the Kubernetes API requests the provider made per
// apply (refresh, plan and apply together, counted from its debug log).
//
//	TF_ACC=1 go test ./internal/provider/ -run '^$' -bench ManagedAppApply -benchtime 20x
func BenchmarkManagedAppApply(b *testing.B) {
	s := stackFromEnv(b)
	cs := s.adminClientset(b)
	ctx := context.Background()
	w := newTofuWorkdir(b, benchManagedAppConfig, "TF_VAR_host="+s.Host, "TF_VAR_ca="+s.CAPEM, "TF_VAR_token="+s.Token,
		"TF_VAR_chart_repo="+os.Getenv("CLUSTERKIT_TEST_CHART_REPO_URL"), "TF_VAR_chart_mirrors="+os.Getenv("CLUSTERKIT_TEST_CHART_MIRRORS"))
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
	created := map[string]time.Time{}   // pod UID -> when the observer saw it added
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
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			now := time.Now()
			mu.Lock()
			if _, seen := created[string(p.UID)]; !seen {
				created[string(p.UID)] = now
			}
			if _, seen := succeeded[string(p.UID)]; !seen && p.Status.Phase == corev1.PodSucceeded {
				succeeded[string(p.UID)] = now
			}
			mu.Unlock()
		}
	}()

	var latencies, helmRuns []time.Duration
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
		for uid, at := range succeeded {
			latencies = append(latencies, done.Sub(at))
			helmRuns = append(helmRuns, at.Sub(created[uid]))
		}
		clear(succeeded)
		clear(created)
		mu.Unlock()
		calls = w.logLines(b, logStart, "Kubernetes API call: ")
		requests = append(requests, len(calls))
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(latencies)
	slices.Sort(helmRuns)
	slices.Sort(requests)
	pct := func(d []time.Duration, p float64) float64 {
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(helmRuns, 0.50), "p50-pod-created-to-helm-finished-ms")
	b.ReportMetric(pct(helmRuns, 0.95), "p95-pod-created-to-helm-finished-ms")
	b.ReportMetric(pct(latencies, 0.50), "p50-helm-finished-to-apply-complete-ms")
	b.ReportMetric(pct(latencies, 0.95), "p95-helm-finished-to-apply-complete-ms")
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
