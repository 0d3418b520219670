package kube

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// podSpan is when an independent watch first saw a pod and saw it Succeeded.
type podSpan struct{ added, succeeded time.Time }

// observePods records, by pod name, when a watch of the install namespace saw each pod
// appear and succeed. A name seen again (a later pod of the same name) starts over.
func observePods(ctx context.Context, b *testing.B, c *Client) func(name string) podSpan {
	b.Helper()
	api := c.Clientset().CoreV1().Pods(DefaultInstallNamespace)
	list, err := api.List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	// The API server ends a watch after a while: the retry watcher picks up where it was.
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return api.Watch(ctx, o) },
	})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	spans := map[string]*podSpan{}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			now := time.Now()
			mu.Lock()
			if ev.Type == watch.Added {
				spans[p.Name] = &podSpan{added: now}
			}
			if st := spans[p.Name]; st != nil && p.Status.Phase == corev1.PodSucceeded && st.succeeded.IsZero() {
				st.succeeded = now
			}
			mu.Unlock()
		}
	}()
	return func(name string) podSpan {
		// The observer's events may trail the code's own watch by a little: wait for them.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			mu.Lock()
			st := spans[name]
			mu.Unlock()
			if st != nil && !st.succeeded.IsZero() {
				return *st
			}
			time.Sleep(5 * time.Millisecond) // benchmark bookkeeping, not the code under test
		}
		b.Fatalf("the observer never saw pod %s succeed", name)
		return podSpan{}
	}
}

// BenchmarkManagedAppOverhead: b.N new apps (the demo chart) installed and then
// uninstalled one after the other through ManagedApp, as a Terraform create and destroy
// do, against the local stack. The provider's own overhead of each is its wall time less
// the install pod's life as an independent watch saw it (created -> Succeeded: scheduling,
// the node agent's start and helm's run). Reported: p50/p95 of that overhead for install
// and uninstall, the p50 of the pods' lives, the CPU the install and uninstall pods'
// processes used (see podsCPU), and API requests per install and per uninstall.
//
//	TF_ACC=1 go test ./internal/kube/ -run '^$' -bench ManagedAppOverhead -benchtime 20x
func BenchmarkManagedAppOverhead(b *testing.B) {
	var requests atomic.Int64
	s, c := startStack(b, func(context.Context, string, map[string]any) { requests.Add(1) })
	observer, err := NewFactory(FactoryOptions{Policy: netguard.Policy{AllowLocal: true}}).
		Client(Connection{Host: s.Host, CAPEM: []byte(s.CAPEM), Token: s.AdminToken})
	if err != nil {
		b.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	// One app stays installed throughout, so that, as in a workspace of many apps, no
	// uninstall is the last one (which deletes the shared install namespace).
	keep := InstallSpec{Name: "ovh-keep", ReleaseNamespace: "acc-ovh", Repository: s.Charts.RepoURL, Chart: "demo",
		Version: chartsrc.DemoVersion, Timeout: time.Minute, Owner: "acc-test/keep"}
	if _, err := c.ManagedApp(keep).Install(ctx, nil); err != nil {
		b.Fatal(err)
	}
	span := observePods(ctx, b, observer)
	var install, uninstall, installLife, uninstallLife []time.Duration
	var installReqs, uninstallReqs int64
	var installCPU, uninstallCPU time.Duration
	b.ResetTimer()
	for i := range b.N {
		spec := keep
		spec.Name, spec.Owner, spec.Values = fmt.Sprintf("ovh-%d", i), fmt.Sprintf("acc-test/%d", i), fmt.Sprintf("message: app-%d\n", i)
		before, t0, cpu := requests.Load(), time.Now(), podsCPU(b, s)
		if _, err := c.ManagedApp(spec).Install(ctx, nil); err != nil {
			b.Fatal(err)
		}
		took := time.Since(t0)
		installCPU += podsCPU(b, s) - cpu
		installReqs += requests.Load() - before
		p := span(InstallPodName(spec.Name, ActionInstall))
		install = append(install, took-p.succeeded.Sub(p.added))
		installLife = append(installLife, p.succeeded.Sub(p.added))

		before, t0, cpu = requests.Load(), time.Now(), podsCPU(b, s)
		if _, err := c.ManagedApp(spec).Uninstall(ctx, UninstallOptions{Timeout: time.Minute}, nil); err != nil {
			b.Fatal(err)
		}
		took = time.Since(t0)
		uninstallCPU += podsCPU(b, s) - cpu
		uninstallReqs += requests.Load() - before
		p = span(InstallPodName(spec.Name, ActionUninstall))
		uninstall = append(uninstall, took-p.succeeded.Sub(p.added))
		uninstallLife = append(uninstallLife, p.succeeded.Sub(p.added))
	}
	b.StopTimer()
	for _, d := range [][]time.Duration{install, uninstall, installLife, uninstallLife} {
		slices.Sort(d)
	}
	b.ReportMetric(percentileMS(install, 0.50), "p50-install-overhead-ms")
	b.ReportMetric(percentileMS(install, 0.95), "p95-install-overhead-ms")
	b.ReportMetric(percentileMS(uninstall, 0.50), "p50-uninstall-overhead-ms")
	b.ReportMetric(percentileMS(uninstall, 0.95), "p95-uninstall-overhead-ms")
	b.ReportMetric(percentileMS(installLife, 0.50), "p50-install-pod-life-ms")
	b.ReportMetric(percentileMS(uninstallLife, 0.50), "p50-uninstall-pod-life-ms")
	b.ReportMetric(float64(installCPU.Microseconds())/1000/float64(b.N), "install-pod-cpu-ms")
	b.ReportMetric(float64(uninstallCPU.Microseconds())/1000/float64(b.N), "uninstall-pod-cpu-ms")
	b.ReportMetric(float64(installReqs)/float64(b.N), "api-requests/install")
	b.ReportMetric(float64(uninstallReqs)/float64(b.N), "api-requests/uninstall")
	if _, err := c.ManagedApp(keep).Uninstall(ctx, UninstallOptions{Timeout: time.Minute}, nil); err != nil {
		b.Fatal(err)
	}
}

// podsCPU is the CPU time the node agent (a process of the stack) has used so far, its
// own and its ended children's: every install pod's shell and helm runs.
func podsCPU(b *testing.B, s *testenv.Stack) time.Duration {
	cpu, err := testenv.ComponentCPU(s.Dir)
	if err != nil {
		b.Fatal(err)
	}
	return cpu["node-agent"]
}
