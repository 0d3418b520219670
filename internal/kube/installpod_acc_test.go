package kube

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// The install pods run for real here: the stack's node agent executes every pod with a
// helm image as a process running real helm (Helm 4, or Helm 3 for testenv.Helm3Image)
// against the stack's chart sources, and kwok fakes the charts' own pods.

// startStack starts a stack with the node agent and the chart sources (TF_ACC=1 only).
func startStack(tb testing.TB, log LogFunc) (*testenv.Stack, *Client) {
	tb.Helper()
	if os.Getenv("TF_ACC") == "" {
		tb.Skip("needs the local stack: TF_ACC=1")
	}
	t0 := time.Now()
	s, err := testenv.Start(context.Background(), testenv.Options{Log: tb.Logf, NodeAgent: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Stop() })
	if s.Charts == nil || s.Charts.RepoURL == "" || s.Charts.OCIPublicRegistry == "" {
		tb.Fatalf("the stack has no chart sources: %+v", s.Charts)
	}
	tb.Logf("stack with node agent and chart sources up in %s", time.Since(t0).Round(time.Millisecond))
	c, err := NewFactory(FactoryOptions{Policy: netguard.Policy{AllowLocal: true}, Log: log}).
		Client(Connection{Host: s.Host, CAPEM: []byte(s.CAPEM), Token: s.AdminToken})
	if err != nil {
		tb.Fatal(err)
	}
	return s, c
}

func logTo(t *testing.T) func(string) { return func(l string) { t.Log(l) } }

// accSpec installs chart@version from the stack's HTTP repository as release name in the
// release namespace "acc-<name>" (helm creates it: the installer is cluster-admin).
func accSpec(s *testenv.Stack, name, chart, version string) InstallSpec {
	return InstallSpec{
		Name: name, ReleaseNamespace: "acc-" + name,
		Repository: s.Charts.RepoURL, Chart: chart, Version: version,
		Timeout: time.Minute, Owner: "acc-test", ClusterAdmin: true, KeepFailedPod: true,
	}
}

// demoFullname is the demo chart's fullname rule for a release without an override.
func demoFullname(release string) string {
	if strings.Contains(release, "demo") {
		return release
	}
	return release + "-demo"
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

// cleanupApp uninstalls the app when the (sub)test ends, as the provider's destroy does,
// and deletes its release namespace (which Uninstall leaves alone on purpose).
func cleanupApp(t *testing.T, c *Client, spec InstallSpec) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		rel, err := c.FindRelease(ctx, spec.ReleaseNamespace, spec.Name)
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		opts := UninstallOptions{Timeout: 2 * time.Minute, Settle: 100 * time.Millisecond, FailedInstall: rel == nil}
		if _, err := c.ManagedApp(spec).Uninstall(ctx, opts, logTo(t)); err != nil {
			t.Errorf("cleanup: uninstall %s: %v", spec.Name, err)
		}
		err = c.Clientset().CoreV1().Namespaces().Delete(ctx, spec.ReleaseNamespace, metav1.DeleteOptions{})
		if err != nil && !IsNotFound(err) {
			t.Errorf("cleanup: delete namespace %s: %v", spec.ReleaseNamespace, err)
		}
	})
}

// chartObjects names the live Deployments, Services and ConfigMaps of a release (the
// demo chart labels them app.kubernetes.io/instance=<release>).
func chartObjects(t *testing.T, c *Client, ns, release string) []string {
	t.Helper()
	ctx := context.Background()
	cs := c.Clientset()
	opts := metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + release}
	var names []string
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		names = append(names, "Deployment/"+d.Name)
	}
	svcs, err := cs.CoreV1().Services(ns).List(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs.Items {
		names = append(names, "Service/"+s.Name)
	}
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		names = append(names, "ConfigMap/"+cm.Name)
	}
	slices.Sort(names)
	return names
}

// releaseSecrets names helm's release Secrets of a release.
func releaseSecrets(t *testing.T, c *Client, ns, release string) []string {
	t.Helper()
	list, err := c.Clientset().CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=" + release})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.Items {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// checkDemo checks the live demo objects of a release: replicas (spec and ready) and the
// ConfigMap's message and chart version.
func checkDemo(t *testing.T, c *Client, ns, release string, replicas int32, message, chartVersion string) {
	t.Helper()
	ctx := context.Background()
	name := demoFullname(release)
	d, err := c.Clientset().AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != replicas || d.Status.ReadyReplicas != replicas {
		t.Fatalf("deployment %s/%s: want %d replicas ready, spec %v status %+v", ns, name, replicas, d.Spec.Replicas, d.Status)
	}
	cm, err := c.Clientset().CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["message"] != message || cm.Data["chartVersion"] != chartVersion {
		t.Fatalf("config map %s/%s: want message %q, chart %s; got %v", ns, name, message, chartVersion, cm.Data)
	}
}

// checkRelease checks helm's own record of the release.
func checkRelease(t *testing.T, c *Client, ns, name string, revision int, chart, version string) *Release {
	t.Helper()
	r, err := c.FindRelease(context.Background(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	if r == nil || r.Name != name || r.Namespace != ns || r.Revision != revision || r.Status != ReleaseDeployed ||
		r.ChartName != chart || r.ChartVersion != version || r.LastDeployed.IsZero() {
		t.Fatalf("release %s/%s: want revision %d deployed of %s %s, got %+v", ns, name, revision, chart, version, r)
	}
	return r
}

// installFails runs an install that must fail in helm and returns the error and the log
// lines that reached logf.
func installFails(t *testing.T, c *Client, spec InstallSpec) (*InstallFailedError, []string) {
	t.Helper()
	ctx := context.Background()
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
	t.Logf("termination message: %q", failed.Message)
	t.Logf("log lines: %q", lines)
	pod := InstallPodName(spec.Name, ActionInstall)
	if failed.ExitCode != 1 || failed.Reason != "Error" || !failed.PodKept || failed.Pod != pod ||
		failed.LogsCommand != "kubectl logs -n clusterkit-managed-apps "+pod {
		t.Fatalf("%+v", failed)
	}
	p, err := c.Clientset().CoreV1().Pods(DefaultInstallNamespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil || p.Status.Phase != corev1.PodFailed || p.DeletionTimestamp != nil {
		t.Fatalf("the failed pod is kept: %v", err)
	}
	// The script's own last line follows helm's error.
	if !strings.HasSuffix(failed.Message, "clusterkit: helm upgrade --install failed") {
		t.Fatalf("termination message %q lacks the script's last line", failed.Message)
	}
	// helm's "Error:" line reached logf, is in the termination message and is the
	// diagnostic's HelmError.
	errLine := errorLine(lines)
	if errLine == "" || !strings.Contains(failed.Message, errLine+"\n") || !strings.HasPrefix(failed.HelmError, errLine) {
		t.Fatalf("helm's error line %q: termination message %q, HelmError %q", errLine, failed.Message, failed.HelmError)
	}
	return failed, lines
}

// errorLine is helm's "Error: ..." line among the log lines, "" when there is none.
func errorLine(lines []string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, "Error: ") {
			return l
		}
	}
	return ""
}

// noDeployedRelease checks that helm's rollback on failure left no release behind: the
// failed first install was uninstalled, so no record remains at all.
func noDeployedRelease(t *testing.T, c *Client, spec InstallSpec) {
	t.Helper()
	r, err := c.FindRelease(context.Background(), spec.ReleaseNamespace, spec.Name)
	if err != nil || r != nil {
		t.Fatalf("after a failed first install with rollback on failure: release %+v, %v (want none)", r, err)
	}
	if got := releaseSecrets(t, c, spec.ReleaseNamespace, spec.Name); len(got) != 0 {
		t.Fatalf("release secrets left: %v", got)
	}
}

func TestAccInstallPod(t *testing.T) {
	s, c := startStack(t, nil)
	cs := c.Clientset()
	ns := DefaultInstallNamespace

	t.Run("install from the HTTP repository succeeds, the pod is removed, an upgrade is revision 2", func(t *testing.T) {
		ctx := context.Background()
		spec := accSpec(s, "http-app", "demo", chartsrc.DemoVersion)
		// Sensitive values go to helm after the values: their message wins.
		spec.Values = "replicaCount: 2\nmessage: from-values\n"
		spec.SensitiveValues = "message: from-secret\n"
		cleanupApp(t, c, spec)
		if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
			t.Fatal(err)
		}
		res, err := c.RunInstallPod(ctx, spec, ActionInstall, logTo(t))
		if err != nil {
			t.Fatal(err)
		}
		if res.Pod != "install-http-app" || res.Namespace != ns || res.Action != ActionInstall || res.Duration <= 0 {
			t.Fatalf("%+v", res)
		}
		t.Logf("install pod succeeded after %s", res.Duration)
		waitGone(t, c, ns, "install-http-app")
		checkRelease(t, c, spec.ReleaseNamespace, spec.Name, 1, "demo", chartsrc.DemoVersion)
		checkDemo(t, c, spec.ReleaseNamespace, spec.Name, 2, "from-secret", chartsrc.DemoVersion)
		if got, want := chartObjects(t, c, spec.ReleaseNamespace, spec.Name), []string{
			"ConfigMap/http-app-demo", "Deployment/http-app-demo", "Service/http-app-demo"}; !slices.Equal(got, want) {
			t.Fatalf("chart objects %v, want %v", got, want)
		}

		spec.Version = chartsrc.DemoUpgradeVersion
		spec.Values = "replicaCount: 3\n"
		up, err := c.ManagedApp(spec).Install(ctx, logTo(t))
		if err != nil {
			t.Fatal(err)
		}
		if up.Release == nil || up.Release.Revision != 2 || up.Release.Status != ReleaseDeployed || up.Release.ChartVersion != chartsrc.DemoUpgradeVersion {
			t.Fatalf("upgrade: %+v", up)
		}
		t.Logf("upgrade pod succeeded after %s", up.Pod.Duration)
		checkRelease(t, c, spec.ReleaseNamespace, spec.Name, 2, "demo", chartsrc.DemoUpgradeVersion)
		checkDemo(t, c, spec.ReleaseNamespace, spec.Name, 3, "from-secret", chartsrc.DemoUpgradeVersion)
		if got := releaseSecrets(t, c, spec.ReleaseNamespace, spec.Name); !slices.Equal(got, []string{
			ReleaseSecretName(spec.Name, 1), ReleaseSecretName(spec.Name, 2)}) {
			t.Fatalf("release secrets %v", got)
		}
	})

	// The provider has no repository credentials yet: the public OCI repository only.
	t.Run("install from the OCI registry succeeds", func(t *testing.T) {
		ctx := context.Background()
		spec := accSpec(s, "oci-app", "demo", chartsrc.DemoUpgradeVersion)
		spec.Repository = s.Charts.OCIPublicRegistry
		spec.Values = "message: from-oci\n"
		cleanupApp(t, c, spec)
		res, err := c.ManagedApp(spec).Install(ctx, logTo(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("install pod succeeded after %s", res.Pod.Duration)
		waitGone(t, c, ns, "install-oci-app")
		checkRelease(t, c, spec.ReleaseNamespace, spec.Name, 1, "demo", chartsrc.DemoUpgradeVersion)
		checkDemo(t, c, spec.ReleaseNamespace, spec.Name, 1, "from-oci", chartsrc.DemoUpgradeVersion)
	})

	t.Run("a failing pre-install hook fails the install, the pod is kept, nothing stays deployed", func(t *testing.T) {
		spec := accSpec(s, "hook-app", "hook-fails", "0.1.0")
		cleanupApp(t, c, spec)
		failed, _ := installFails(t, c, spec)
		// What helm 4.3 prints: the hook Job's failure, and that the release was purged.
		const want = "Error: release hook-app failed, and has been uninstalled due to rollback-on-failure being set: " +
			"failed pre-install: resource Job/acc-hook-app/hook-app-pre-install not ready. status: Failed"
		if !strings.HasPrefix(failed.HelmError, want) {
			t.Errorf("helm's error line %q, want it to start with %q", failed.HelmError, want)
		}
		noDeployedRelease(t, c, spec)
		// The hook failed first: the chart's ConfigMap was never made.
		if _, err := cs.CoreV1().ConfigMaps(spec.ReleaseNamespace).Get(context.Background(), "hook-app-hook-fails", metav1.GetOptions{}); !IsNotFound(err) {
			t.Errorf("the chart's config map: %v (want not found)", err)
		}
	})

	t.Run("a value the chart rejects fails the install with the chart's message", func(t *testing.T) {
		spec := accSpec(s, "values-app", "demo", chartsrc.DemoVersion)
		spec.Values = "replicaCount: two\n"
		cleanupApp(t, c, spec)
		failed, _ := installFails(t, c, spec)
		// Rendering fails before helm stores anything.
		const want = "Error: execution error at (demo/templates/deployment.yaml:9:15): " + chartsrc.DemoBadValueError + `, got "two"`
		if failed.HelmError != want {
			t.Fatalf("helm's error line %q, want %q", failed.HelmError, want)
		}
		noDeployedRelease(t, c, spec)
	})

	t.Run("helm's own timeout fails the install", func(t *testing.T) {
		spec := accSpec(s, "wait-app", "never-ready", "0.1.0")
		spec.Timeout = 5 * time.Second
		cleanupApp(t, c, spec)
		t0 := time.Now()
		failed, lines := installFails(t, c, spec)
		took := time.Since(t0)
		t.Logf("helm gave up after %s (--timeout %s)", took.Round(time.Millisecond), spec.Timeout)
		// helm 4.3 prints the Deployment it waited for on the Error: line and the cause,
		// "context deadline exceeded", on a line of its own after it (a joined error).
		const want = "Error: release wait-app failed, and has been uninstalled due to rollback-on-failure being set: " +
			"resource Deployment/acc-wait-app/wait-app-never-ready not ready. status: InProgress, message: Available: 0/1"
		if failed.HelmError != want+"; context deadline exceeded" || !strings.Contains(failed.Message, want+"\ncontext deadline exceeded\n") ||
			!slices.Contains(lines, "context deadline exceeded") {
			t.Fatalf("helm's error line %q, termination message %q: want %q and then context deadline exceeded", failed.HelmError, failed.Message, want)
		}
		if took < spec.Timeout || took > spec.Timeout+30*time.Second {
			t.Fatalf("helm gave up after %s with --timeout %s", took, spec.Timeout)
		}
		noDeployedRelease(t, c, spec)
	})

	t.Run("the caller's deadline deletes the pod", func(t *testing.T) {
		spec := accSpec(s, "slow-app", "never-ready", "0.1.0")
		cleanupApp(t, c, spec)
		if err := c.EnsureInstallPrerequisites(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := c.RunInstallPod(ctx, spec, ActionInstall, logTo(t))
		var timeout *InstallTimeoutError
		if !errors.As(err, &timeout) || !errors.Is(err, context.DeadlineExceeded) || !timeout.PodDeleted || timeout.Phase != corev1.PodRunning ||
			timeout.Pod != "install-slow-app" || timeout.Waited < 3*time.Second {
			t.Fatalf("got %v (%+v)", err, timeout)
		}
		t.Logf("error: %v", err)
		t0 := time.Now()
		waitGone(t, c, ns, "install-slow-app")
		t.Logf("pod gone %s after the deadline (helm had SIGTERM)", time.Since(t0).Round(time.Millisecond))
		// The script passed SIGTERM on to helm, which rolled its install back (uninstalled
		// it) within the grace period: no release and no chart object is left.
		if r, err := c.FindRelease(context.Background(), spec.ReleaseNamespace, spec.Name); r != nil || err != nil {
			t.Fatalf("release after the cancelled install: %+v %v", r, err)
		}
		if got := chartObjects(t, c, spec.ReleaseNamespace, spec.Name); len(got) != 0 {
			t.Fatalf("chart objects after the cancelled install: %v", got)
		}
	})

	t.Run("a leftover pod is replaced", func(t *testing.T) {
		ctx := context.Background()
		// The leftover runs a real helm that waits (long) for pods that never get ready.
		old := accSpec(s, "again-app", "never-ready", "0.1.0")
		old.Timeout = 10 * time.Minute
		spec := accSpec(s, "again-app", "demo", chartsrc.DemoVersion)
		cleanupApp(t, c, spec)
		if err := c.EnsureInstallPrerequisites(ctx, old); err != nil {
			t.Fatal(err)
		}
		oldPod, err := cs.CoreV1().Pods(ns).Create(ctx, InstallPod(old, ActionInstall), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// helm is really at work once its release record says pending-install.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			r, err := c.FindRelease(ctx, old.ReleaseNamespace, old.Name)
			if err != nil {
				t.Fatal(err)
			}
			if r != nil && r.Status == ReleasePendingInstall && r.ChartName == "never-ready" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the leftover's helm never started its install: %+v", r)
			}
		}
		var mu sync.Mutex
		var seen []string
		w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: oldPod.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for ev := range w.ResultChan() {
				if p, ok := ev.Object.(*corev1.Pod); ok && p.Name == "install-again-app" && (ev.Type == watch.Added || ev.Type == watch.Deleted) {
					mu.Lock()
					seen = append(seen, string(ev.Type)+":"+string(p.UID))
					mu.Unlock()
				}
			}
		}()
		if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
			t.Fatal(err)
		}
		res, err := c.RunInstallPod(ctx, spec, ActionInstall, logTo(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("replaced and installed after %s", res.Duration)
		waitGone(t, c, ns, "install-again-app")
		w.Stop()
		mu.Lock()
		defer mu.Unlock()
		if len(seen) < 3 || seen[0] != "DELETED:"+string(oldPod.UID) || !strings.HasPrefix(seen[1], "ADDED:") || seen[1] == "ADDED:"+string(oldPod.UID) {
			t.Fatalf("events %v: the old pod must be gone before the new one is created", seen)
		}
		checkRelease(t, c, spec.ReleaseNamespace, spec.Name, 1, "demo", chartsrc.DemoVersion)
		checkDemo(t, c, spec.ReleaseNamespace, spec.Name, 1, "hello from demo", chartsrc.DemoVersion)
		if got := chartObjects(t, c, spec.ReleaseNamespace, spec.Name); slices.Contains(got, "Deployment/again-app-never-ready") {
			t.Fatalf("the leftover's chart is still there: %v", got)
		}
	})

	t.Run("Helm 3 installs the same chart", func(t *testing.T) {
		ctx := context.Background()
		spec := accSpec(s, "helm3-app", "demo", chartsrc.DemoVersion)
		spec.Image = testenv.Helm3Image
		spec.Values = "replicaCount: 2\n"
		cleanupApp(t, c, spec)
		var lines []string
		res, err := c.ManagedApp(spec).Install(ctx, func(l string) { lines = append(lines, l) })
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("Helm 3 install pod succeeded after %s", res.Pod.Duration)
		checkRelease(t, c, spec.ReleaseNamespace, spec.Name, 1, "demo", chartsrc.DemoVersion)
		checkDemo(t, c, spec.ReleaseNamespace, spec.Name, 2, "hello from demo", chartsrc.DemoVersion)
	})

	t.Run("an image the node cannot pull ends the wait at once with the image named", func(t *testing.T) {
		spec := accSpec(s, "noimage-app", "demo", chartsrc.DemoVersion)
		spec.Image = "registry.example.com/mirror/helm:9.9.9" // an image the node agent does not have
		cleanupApp(t, c, spec)
		if err := c.EnsureInstallPrerequisites(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		// The provider would wait minutes for the pod's deadline; it must not need to.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		t0 := time.Now()
		_, err := c.RunInstallPod(ctx, spec, ActionInstall, logTo(t))
		took := time.Since(t0)
		var pull *ImagePullError
		if !errors.As(err, &pull) || pull.Image != spec.Image || pull.Reason != "ImagePullBackOff" || !pull.PodDeleted ||
			pull.Pod != "install-noimage-app" || pull.Action != ActionInstall || ctx.Err() != nil ||
			err.Error() != `install pod clusterkit-managed-apps/install-noimage-app cannot start: the node cannot pull image "registry.example.com/mirror/helm:9.9.9" (ImagePullBackOff); the pod was deleted` {
			t.Fatalf("after %s: got %v (%+v)", took, err, pull)
		}
		var timeout *InstallTimeoutError
		if errors.As(err, &timeout) {
			t.Fatalf("a pull failure is not a timeout: %v", err)
		}
		t.Logf("error after %s: %v", took.Round(time.Millisecond), err)
		waitGone(t, c, ns, "install-noimage-app")
	})

	t.Run("release records written like helm are read back", func(t *testing.T) {
		ctx := context.Background()
		if _, err := c.EnsureNamespace(ctx, "acc-ok", nil, nil, "acc-test"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := c.DeleteNamespace(context.Background(), "acc-ok", "acc-test"); err != nil {
				t.Error(err)
			}
		})
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

	t.Run("uninstall removes the chart, the release records and the app's objects, and the shared ones after the last app", func(t *testing.T) {
		ctx := context.Background()
		a, b := accSpec(s, "gone-a", "demo", chartsrc.DemoVersion), accSpec(s, "gone-b", "demo", chartsrc.DemoVersion)
		a.SensitiveValues = "message: a-secret\n"
		for _, spec := range []InstallSpec{a, b} {
			t.Cleanup(func() {
				_ = cs.CoreV1().Namespaces().Delete(context.Background(), spec.ReleaseNamespace, metav1.DeleteOptions{})
			})
			if _, err := c.ManagedApp(spec).Install(ctx, logTo(t)); err != nil {
				t.Fatal(err)
			}
			if got := chartObjects(t, c, spec.ReleaseNamespace, spec.Name); len(got) != 3 {
				t.Fatalf("%s: chart objects %v", spec.Name, got)
			}
			if got := releaseSecrets(t, c, spec.ReleaseNamespace, spec.Name); len(got) != 1 {
				t.Fatalf("%s: release secrets %v", spec.Name, got)
			}
		}
		// The app's own objects in the install namespace, and its binding.
		ownObjects := func(spec InstallSpec) []string {
			var left []string
			if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, ValuesConfigMapName(spec.Name), metav1.GetOptions{}); !IsNotFound(err) {
				left = append(left, "ConfigMap/"+ValuesConfigMapName(spec.Name))
			}
			if _, err := cs.CoreV1().Secrets(ns).Get(ctx, ValuesSecretName(spec.Name), metav1.GetOptions{}); !IsNotFound(err) {
				left = append(left, "Secret/"+ValuesSecretName(spec.Name))
			}
			if _, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, InstallerServiceAccountName(spec.Name), metav1.GetOptions{}); !IsNotFound(err) {
				left = append(left, "ServiceAccount/"+InstallerServiceAccountName(spec.Name))
			}
			if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, InstallerBindingName(spec.WithDefaults()), metav1.GetOptions{}); !IsNotFound(err) {
				left = append(left, "ClusterRoleBinding/"+InstallerBindingName(spec.WithDefaults()))
			}
			for _, action := range []Action{ActionInstall, ActionUninstall} {
				if _, err := cs.CoreV1().Pods(ns).Get(ctx, InstallPodName(spec.Name, action), metav1.GetOptions{}); !IsNotFound(err) {
					left = append(left, "Pod/"+InstallPodName(spec.Name, action))
				}
			}
			return left
		}
		if got := ownObjects(a); len(got) != 4 {
			t.Fatalf("before the uninstall, app a has %v", got)
		}
		uninstall := func(spec InstallSpec) {
			t.Helper()
			res, err := c.ManagedApp(spec).Uninstall(ctx, UninstallOptions{Timeout: time.Minute, Settle: 100 * time.Millisecond}, logTo(t))
			if err != nil {
				t.Fatalf("%s: %v", spec.Name, err)
			}
			if res.Pod.Pod != "uninstall-"+spec.Name {
				t.Fatalf("%s: %+v", spec.Name, res)
			}
			t.Logf("%s: uninstall pod succeeded after %s", spec.Name, res.Pod.Duration)
			waitGone(t, c, ns, "uninstall-"+spec.Name)
			if got := chartObjects(t, c, spec.ReleaseNamespace, spec.Name); len(got) != 0 {
				t.Fatalf("%s: chart objects left: %v", spec.Name, got)
			}
			if got := releaseSecrets(t, c, spec.ReleaseNamespace, spec.Name); len(got) != 0 {
				t.Fatalf("%s: release secrets left: %v", spec.Name, got)
			}
			if r, err := c.FindRelease(ctx, spec.ReleaseNamespace, spec.Name); r != nil || err != nil {
				t.Fatalf("%s: release %+v %v", spec.Name, r, err)
			}
			if got := ownObjects(spec); len(got) != 0 {
				t.Fatalf("%s: the app's objects left: %v", spec.Name, got)
			}
		}
		uninstall(a)
		nsObj, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil || nsObj.DeletionTimestamp != nil {
			t.Fatalf("the install namespace must stay while app b is there: %v %v", err, nsObj.DeletionTimestamp)
		}
		checkDemo(t, c, b.ReleaseNamespace, b.Name, 1, "hello from demo", chartsrc.DemoVersion)
		uninstall(b)
		// Uninstall waits until the shared namespace is gone.
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !IsNotFound(err) {
			t.Fatalf("the install namespace must be gone after the last app: %v", err)
		}
	})

	t.Run("a terminating release namespace is reported as such, not as missing permission", func(t *testing.T) {
		ctx := context.Background()
		const rel = "acc-terminating"
		// This one is about the release namespace only: the shared install namespace is
		// gone after the subtest above.
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
			if err := c.WaitNamespaceGone(ctx, rel); err != nil {
				t.Error(err)
			}
		}()
		if err := cs.CoreV1().Namespaces().Delete(ctx, rel, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		spec := accSpec(s, "terminating", "demo", chartsrc.DemoVersion)
		spec.ReleaseNamespace = rel
		spec.ClusterAdmin = false // the binding goes into the release namespace
		err := c.EnsureInstallPrerequisites(ctx, spec)
		var apiErr *APIError
		t.Log(err)
		if !errors.As(err, &apiErr) || apiErr.Status != 403 || !strings.Contains(apiErr.Op, rel+"/") ||
			!strings.HasSuffix(err.Error(), "(the namespace is being deleted: wait until it is gone, then apply again)") {
			t.Fatalf("got %v", err)
		}
		deleting, err := c.DeleteInstallPrerequisites(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if deleting {
			if err := c.WaitNamespaceGone(ctx, ns); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// percentile of sorted durations, in milliseconds.
func percentileMS(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(p*float64(len(sorted)-1))].Microseconds()) / 1000
}

// BenchmarkRunInstallPod: b.N real upgrades of the demo chart (each with a new message, so
// helm rolls the Deployment and waits for it) against the local stack. An independent
// watch sees each install pod appear and succeed; reported are the p50/p95 of pod created
// -> Succeeded (helm's run, with the node agent's start) and of Succeeded -> RunInstallPod
// returned (the provider's own overhead), and API requests per RunInstallPod.
//
//	TF_ACC=1 go test ./internal/kube/ -run '^$' -bench RunInstallPod -benchtime 20x
func BenchmarkRunInstallPod(b *testing.B) {
	var requests atomic.Int64
	s, c := startStack(b, func(context.Context, string, map[string]any) { requests.Add(1) })
	observer, err := NewFactory(FactoryOptions{Policy: netguard.Policy{AllowLocal: true}}).
		Client(Connection{Host: s.Host, CAPEM: []byte(s.CAPEM), Token: s.AdminToken})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	spec := InstallSpec{
		Name: "bench", ReleaseNamespace: "acc-bench",
		Repository: s.Charts.RepoURL, Chart: "demo", Version: chartsrc.DemoVersion,
		Values:  "message: first\n",
		Timeout: time.Minute, Owner: "acc-test", ClusterAdmin: true, KeepFailedPod: true,
	}
	// Revision 1 outside the measurement: every measured run is an upgrade.
	if _, err := c.ManagedApp(spec).Install(ctx, nil); err != nil {
		b.Fatal(err)
	}

	type seen struct{ added, succeeded time.Time }
	var mu sync.Mutex
	pods := map[types.UID]*seen{}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	w, err := observer.Clientset().CoreV1().Pods(DefaultInstallNamespace).Watch(wctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			now := time.Now()
			mu.Lock()
			st := pods[p.UID]
			if st == nil && ev.Type == watch.Added {
				st = &seen{added: now}
				pods[p.UID] = st
			}
			// A pod seen first when it was deleted (the last iteration's) is not counted.
			if st != nil && p.Status.Phase == corev1.PodSucceeded && st.succeeded.IsZero() {
				st.succeeded = now
			}
			mu.Unlock()
		}
	}()

	counted := map[types.UID]bool{}
	var helmRun, overhead, total []time.Duration
	var perInstall []int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		spec.Values = fmt.Sprintf("message: iteration-%d\n", i)
		if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		before := requests.Load()
		res, err := c.RunInstallPod(ctx, spec, ActionInstall, nil)
		if err != nil {
			b.Fatal(err)
		}
		returned := time.Now()
		perInstall = append(perInstall, requests.Load()-before)
		b.StopTimer()
		total = append(total, res.Duration)
		// The observer's events may trail our own watch's by a little: wait for them. Only
		// one install pod exists at a time; those of earlier iterations are counted already.
		var got seen
		for deadline := time.Now().Add(5 * time.Second); got.succeeded.IsZero() && time.Now().Before(deadline); {
			mu.Lock()
			for uid, st := range pods {
				if !st.succeeded.IsZero() && !counted[uid] {
					got = *st
					counted[uid] = true
				}
			}
			mu.Unlock()
			if got.succeeded.IsZero() {
				time.Sleep(5 * time.Millisecond) // benchmark bookkeeping, not the code under test
			}
		}
		if got.succeeded.IsZero() || got.added.IsZero() {
			b.Fatalf("iteration %d: the observer saw the pod %+v", i, got)
		}
		helmRun = append(helmRun, got.succeeded.Sub(got.added))
		overhead = append(overhead, returned.Sub(got.succeeded))
		b.StartTimer()
	}
	b.StopTimer()
	r, err := c.FindRelease(ctx, spec.ReleaseNamespace, spec.Name)
	if err != nil || r == nil || r.Revision != b.N+1 || r.Status != ReleaseDeployed {
		b.Fatalf("after %d upgrades: release %+v %v", b.N, r, err)
	}
	for _, d := range [][]time.Duration{helmRun, overhead, total} {
		slices.Sort(d)
	}
	var sum int64
	for _, n := range perInstall {
		sum += n
	}
	b.ReportMetric(percentileMS(helmRun, 0.50), "p50-created-to-succeeded-ms")
	b.ReportMetric(percentileMS(helmRun, 0.95), "p95-created-to-succeeded-ms")
	b.ReportMetric(percentileMS(overhead, 0.50), "p50-succeeded-to-return-ms")
	b.ReportMetric(percentileMS(overhead, 0.95), "p95-succeeded-to-return-ms")
	b.ReportMetric(percentileMS(total, 0.50), "p50-run-to-succeeded-ms")
	b.ReportMetric(float64(sum)/float64(len(perInstall)), "api-requests/install")
}
