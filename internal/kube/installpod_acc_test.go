package kube

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
)

func startStack(tb testing.TB, log LogFunc) (*testenv.Stack, *Client) {
	tb.Helper()
	if os.Getenv("TF_ACC") == "" {
		tb.Skip("needs the local stack: TF_ACC=1")
	}
	s, err := testenv.Start(context.Background(), testenv.Options{Log: tb.Logf})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Stop() })
	c, err := NewFactory(FactoryOptions{Policy: netguard.Policy{AllowLocal: true}, Log: log}).
		Client(Connection{Host: s.Host, CAPEM: []byte(s.CAPEM), Token: s.AdminToken})
	if err != nil {
		tb.Fatal(err)
	}
	return s, c
}

func logTo(t *testing.T) func(string) { return func(l string) { t.Log(l) } }

func accSpec(name string, annotations map[string]string) InstallSpec {
	return InstallSpec{
		Name: name, ReleaseNamespace: "acc-" + name,
		Repository: "https://charts.example.com", Chart: "demo", Version: "1.0.0",
		Values: "replicas: 1\n", SensitiveValues: "token: s3cr3t\n",
		Timeout: time.Minute, Owner: "acc-test", ClusterAdmin: true, KeepFailedPod: true,
		PodAnnotations: annotations,
	}
}

// waitGone waits (with the same list+watch) until the pod no longer exists.
func waitGone(t *testing.T, c *Client, ns, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.watchPod(ctx, ns, name, func(_ *corev1.Pod, gone bool) (bool, error) { return gone, nil }); err != nil {
		t.Fatalf("pod %s/%s still there: %v", ns, name, err)
	}
}

func TestAccInstallPod(t *testing.T) {
	_, c := startStack(t, nil)
	cs := c.Clientset()
	ns := DefaultInstallNamespace

	t.Run("install succeeds and the pod is removed", func(t *testing.T) {
		ctx := context.Background()
		spec := accSpec("ok", map[string]string{testenv.AnnotationRunTime: "300ms"})
		if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
			t.Fatal(err)
		}
		res, err := c.RunInstallPod(ctx, spec, ActionInstall, logTo(t))
		if err != nil {
			t.Fatal(err)
		}
		if res.Pod != "install-ok" || res.Duration < 300*time.Millisecond {
			t.Fatalf("%+v", res)
		}
		t.Logf("install pod succeeded after %s", res.Duration)
		waitGone(t, c, ns, "install-ok")
	})

	t.Run("install fails with exit code 3", func(t *testing.T) {
		ctx := context.Background()
		spec := accSpec("broken", map[string]string{testenv.AnnotationRunTime: "200ms", testenv.AnnotationExitCode: "3"})
		if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
			t.Fatal(err)
		}
		var lines []string
		_, err := c.RunInstallPod(ctx, spec, ActionInstall, func(l string) { lines = append(lines, l) })
		var failed *InstallFailedError
		if !errors.As(err, &failed) {
			t.Fatalf("got %v", err)
		}
		t.Logf("error: %v", err)
		if failed.ExitCode != 3 || failed.Reason != "Error" || !failed.PodKept ||
			failed.LogsCommand != "kubectl logs -n clusterkit-managed-apps install-broken" {
			t.Fatalf("%+v", failed)
		}
		if len(lines) == 0 {
			t.Fatal("no log lines reached logf")
		}
		t.Logf("log lines: %q", lines)
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "install-broken", metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodFailed || p.DeletionTimestamp != nil {
			t.Fatalf("the failed pod is kept: %v", err)
		}
	})

	t.Run("timeout deletes the pod", func(t *testing.T) {
		spec := accSpec("slow", map[string]string{testenv.AnnotationRunTime: "1h"})
		if err := c.EnsureInstallPrerequisites(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := c.RunInstallPod(ctx, spec, ActionInstall, logTo(t))
		var timeout *InstallTimeoutError
		if !errors.As(err, &timeout) || !errors.Is(err, context.DeadlineExceeded) || !timeout.PodDeleted || timeout.Phase != corev1.PodRunning {
			t.Fatalf("got %v (%+v)", err, timeout)
		}
		t.Logf("error: %v", err)
		waitGone(t, c, ns, "install-slow")
	})

	t.Run("a leftover pod is replaced", func(t *testing.T) {
		ctx := context.Background()
		spec := accSpec("again", map[string]string{testenv.AnnotationRunTime: "1h"})
		if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
			t.Fatal(err)
		}
		old, err := cs.CoreV1().Pods(ns).Create(ctx, InstallPod(spec, ActionInstall), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		spec.PodAnnotations[testenv.AnnotationRunTime] = "200ms"
		var seen []string
		w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: old.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		go func() {
			for ev := range w.ResultChan() {
				if p, ok := ev.Object.(*corev1.Pod); ok && p.Name == "install-again" && (ev.Type == watch.Added || ev.Type == watch.Deleted) {
					mu.Lock()
					seen = append(seen, string(ev.Type)+":"+string(p.UID))
					mu.Unlock()
				}
			}
		}()
		_, err = c.RunInstallPod(ctx, spec, ActionInstall, logTo(t))
		var failed *InstallFailedError
		if errors.As(err, &failed) && failed.Reason == "PodDeleted" {
			// Most likely kwok, the fake kubelet, finishing the old pod's deletion by name after the new
			// one of the same name exists (a real kubelet deletes with the pod's UID). Seen
			// once in about ten CI runs; the provider reported it correctly. One more try.
			t.Logf("fake kubelet deleted the new pod by name (%v); trying once more", err)
			_, err = c.RunInstallPod(ctx, spec, ActionInstall, logTo(t))
		}
		if err != nil {
			t.Fatal(err)
		}
		waitGone(t, c, ns, "install-again")
		w.Stop()
		mu.Lock()
		defer mu.Unlock()
		if len(seen) < 3 || seen[0] != "DELETED:"+string(old.UID) || seen[1][:6] != "ADDED:" || seen[1] == "ADDED:"+string(old.UID) {
			t.Fatalf("events %v: the old pod must be gone before the new one is created", seen)
		}
	})

	t.Run("release records written like helm are read back", func(t *testing.T) {
		ctx := context.Background()
		if _, err := c.EnsureNamespace(ctx, "acc-ok", nil, nil, "acc-test"); err != nil {
			t.Fatal(err)
		}
		at := time.Now().UTC().Truncate(time.Microsecond)
		for rev, st := range map[int]ReleaseStatus{1: ReleaseSuperseded, 2: ReleaseDeployed} {
			sec := EncodeReleaseSecret(Release{Name: "ok", Namespace: "acc-ok", Revision: rev, Status: st,
				ChartName: "demo", ChartVersion: "1.0.0", AppVersion: "2.0", LastDeployed: at})
			if _, err := cs.CoreV1().Secrets("acc-ok").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		r, err := c.FindRelease(ctx, "acc-ok", "ok")
		if err != nil || r == nil || r.Revision != 2 || r.Status != ReleaseDeployed || r.ChartVersion != "1.0.0" || !r.LastDeployed.Equal(at) {
			t.Fatalf("%+v %v", r, err)
		}
	})

	t.Run("uninstall removes the app's objects and the shared ones after the last app", func(t *testing.T) {
		ctx := context.Background()
		for _, name := range []string{"ok", "broken", "slow", "again"} {
			spec := accSpec(name, map[string]string{testenv.AnnotationRunTime: "100ms"})
			if _, err := c.ManagedApp(spec).Uninstall(ctx, UninstallOptions{Timeout: time.Minute}, logTo(t)); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, ValuesConfigMapName(name), metav1.GetOptions{}); !IsNotFound(err) {
				t.Fatalf("%s: config map left: %v", name, err)
			}
		}
		nsObj, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err == nil && nsObj.DeletionTimestamp == nil {
			t.Fatal("the install namespace must be deleted after the last app")
		}
	})

	t.Run("a terminating release namespace is reported as such, not as missing permission", func(t *testing.T) {
		ctx := context.Background()
		const rel = "acc-terminating"
		// The subtest above deleted the shared install namespace: this one is about the
		// release namespace only.
		if err := c.WaitNamespaceGone(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if _, err := c.EnsureNamespace(ctx, rel, nil, nil, "acc-test"); err != nil {
			t.Fatal(err)
		}
		// A finalizer of our own holds the namespace in Terminating while the test runs.
		hold := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hold", Namespace: rel, Finalizers: []string{"testenv.clusterkit.dev/hold"}}}
		if _, err := cs.CoreV1().ConfigMaps(rel).Create(ctx, hold, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer func() {
			patch := []byte(`{"metadata":{"finalizers":null}}`)
			if _, err := cs.CoreV1().ConfigMaps(rel).Patch(ctx, "hold", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Error(err)
			}
		}()
		if err := cs.CoreV1().Namespaces().Delete(ctx, rel, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		spec := accSpec("terminating", nil)
		spec.ReleaseNamespace = rel
		spec.ClusterAdmin = false // the binding goes into the release namespace
		err := c.EnsureInstallPrerequisites(ctx, spec)
		var apiErr *APIError
		t.Log(err)
		if !errors.As(err, &apiErr) || apiErr.Status != 403 || !strings.Contains(apiErr.Op, rel+"/") ||
			!strings.HasSuffix(err.Error(), "(the namespace is being deleted: wait until it is gone, then apply again)") {
			t.Fatalf("got %v", err)
		}
		if _, err := c.DeleteInstallPrerequisites(ctx, spec); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkRunInstallPod: b.N installs against the local stack (kwok ends each pod
// Succeeded after 100ms). Reports the latency from the pod's Succeeded state (as seen by
// an independent watch) to RunInstallPod returning, and API requests per install.
//
//	TF_ACC=1 go test ./internal/kube/ -run '^$' -bench RunInstallPod -benchtime 30x
func BenchmarkRunInstallPod(b *testing.B) {
	var requests atomic.Int64
	s, c := startStack(b, func(context.Context, string, map[string]any) { requests.Add(1) })
	observer, err := NewFactory(FactoryOptions{Policy: netguard.Policy{AllowLocal: true}}).
		Client(Connection{Host: s.Host, CAPEM: []byte(s.CAPEM), Token: s.AdminToken})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	spec := accSpec("bench", map[string]string{testenv.AnnotationRunTime: "100ms"})
	spec.SensitiveValues = ""
	if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
		b.Fatal(err)
	}

	var mu sync.Mutex
	succeeded := map[string]time.Time{} // pod UID -> when the observer saw it Succeeded
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	w, err := observer.Clientset().CoreV1().Pods(DefaultInstallNamespace).Watch(wctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	go func() {
		for ev := range w.ResultChan() {
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
	var perInstall []int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := requests.Load()
		if _, err := c.RunInstallPod(ctx, spec, ActionInstall, nil); err != nil {
			b.Fatal(err)
		}
		returned := time.Now()
		perInstall = append(perInstall, requests.Load()-before)
		b.StopTimer()
		// The observer's event may trail our own watch's by a little: wait for it. Only
		// one install pod exists at a time, and the map is cleared between iterations.
		var seenAt time.Time
		for deadline := time.Now().Add(5 * time.Second); seenAt.IsZero() && time.Now().Before(deadline); {
			mu.Lock()
			for _, t := range succeeded {
				seenAt = t
			}
			mu.Unlock()
			if seenAt.IsZero() {
				time.Sleep(5 * time.Millisecond) // benchmark bookkeeping, not the code under test
			}
		}
		if !seenAt.IsZero() {
			latencies = append(latencies, returned.Sub(seenAt))
		}
		mu.Lock()
		clear(succeeded)
		mu.Unlock()
		b.StartTimer()
	}
	b.StopTimer()
	if len(latencies) == 0 {
		b.Fatal("the observer saw no pod succeed")
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		i := int(p * float64(len(latencies)-1))
		return float64(latencies[i].Microseconds()) / 1000
	}
	var total int64
	for _, n := range perInstall {
		total += n
	}
	b.ReportMetric(pct(0.50), "p50-succeeded-to-return-ms")
	b.ReportMetric(pct(0.95), "p95-succeeded-to-return-ms")
	b.ReportMetric(float64(total)/float64(len(perInstall)), "api-requests/install")
}
