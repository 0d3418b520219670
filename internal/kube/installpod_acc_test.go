package kube

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
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
		// Waited counts from RunInstallPod's start, a moment after the deadline was set,
		// and the end can be seen at once: it may fall a hair short of 3s.
		const waitedSlack = 250 * time.Millisecond
		_, err := c.RunInstallPod(ctx, spec, ActionInstall, logTo(t))
		var timeout *InstallTimeoutError
		if !errors.As(err, &timeout) || !errors.Is(err, context.DeadlineExceeded) || !timeout.PodDeleted || timeout.Phase != corev1.PodRunning ||
			timeout.Pod != "install-slow-app" || timeout.Waited < 3*time.Second-waitedSlack {
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
		// The GETs of waitGone can see the new pod gone before the watch delivers its
		// DELETED event: give the watch a moment to catch up.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			n := len(seen)
			mu.Unlock()
			if n >= 3 {
				break
			}
		}
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

	installerRightsAcc(t, s, c)

	// Installers are isolated: a custom chart's installer holds admin only in its own release
	// namespace, so it reaches neither another app's values Secret nor its installer.
	t.Run("an app's installer reaches neither another app's values nor its installer", func(t *testing.T) {
		ctx := context.Background()
		specs := map[string]InstallSpec{}
		for _, name := range []string{"iso-a", "iso-b"} {
			spec := accSpec(s, name, "demo", chartsrc.DemoVersion)
			// The default release namespace (it was the install namespace itself once).
			spec.ClusterAdmin, spec.SensitiveValues, spec.ReleaseNamespace = false, "message: "+name+"-secret\n", ""
			spec = spec.WithDefaults()
			if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
				t.Fatal(err)
			}
			specs[name] = spec
		}
		defer func() {
			for _, spec := range specs {
				if _, err := c.DeleteInstallPrerequisites(ctx, spec); err != nil {
					t.Error(err)
				}
				_ = c.Clientset().CoreV1().Namespaces().Delete(ctx, spec.ReleaseNamespace, metav1.DeleteOptions{})
			}
		}()
		user := "system:serviceaccount:" + DefaultInstallNamespace + ":" + InstallerServiceAccountName("iso-a")
		can := func(verb, resource, ns, name string) bool {
			t.Helper()
			sar, err := c.Clientset().AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + DefaultInstallNamespace},
					ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Resource: resource, Namespace: ns, Name: name}},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return sar.Status.Allowed
		}
		for _, denied := range [][4]string{
			{"get", "secrets", DefaultInstallNamespace, ValuesSecretName("iso-b")},
			{"list", "secrets", DefaultInstallNamespace, ""},
			{"create", "pods", DefaultInstallNamespace, ""},
			{"create", "serviceaccounts/token", DefaultInstallNamespace, InstallerServiceAccountName("iso-b")},
			{"get", "secrets", specs["iso-b"].ReleaseNamespace, ""},
			{"create", "rolebindings", DefaultInstallNamespace, ""},
		} {
			if can(denied[0], denied[1], denied[2], denied[3]) {
				t.Errorf("installer of iso-a may %s %s %s/%s", denied[0], denied[1], denied[2], denied[3])
			}
		}
		// What it needs: its own release namespace (helm keeps its records there).
		for _, allowed := range [][2]string{{"get", "secrets"}, {"create", "configmaps"}} {
			if !can(allowed[0], allowed[1], specs["iso-a"].ReleaseNamespace, "") {
				t.Errorf("installer of iso-a may not %s %s in its release namespace", allowed[0], allowed[1])
			}
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
		// The app's own objects in the install namespace, and its binding if one is left.
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
		// No binding: the installer holds its rights only while a pod runs.
		if got := ownObjects(a); len(got) != 3 {
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
		// The last app's uninstall starts deleting the shared namespace and does not wait.
		if err := expectDeleting(ctx, c, ns); err != nil {
			t.Fatalf("the install namespace after the last app: %v", err)
		}
	})

	t.Run("an install waits out the shared install namespace while the last app's destroy deletes it", func(t *testing.T) {
		ctx := context.Background()
		if err := c.WaitNamespaceGone(ctx, ns); err != nil {
			t.Fatal(err)
		}
		// Made as by an earlier install of the run, so this client remembers it: the
		// install below learns it is terminating from the API server's refusal of a create.
		if err := c.ensureNamespaceOnce(ctx, ns, SharedInstallOwner); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.namespaces.get(ns); !ok {
			t.Fatal("the install namespace is not remembered")
		}
		// A finalizer of our own holds the namespace in Terminating for 3 s.
		hold := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hold", Namespace: ns, Finalizers: []string{"testenv.clusterkit.dev/hold"}}}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, hold, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		old, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		released := make(chan error, 1)
		time.AfterFunc(3*time.Second, func() { // the namespace controller then finishes the delete
			patch := []byte(`{"metadata":{"finalizers":null}}`)
			_, err := cs.CoreV1().ConfigMaps(ns).Patch(context.Background(), "hold", types.MergePatchType, patch, metav1.PatchOptions{})
			released <- err
		})
		spec := accSpec(s, "after-destroy", "demo", chartsrc.DemoVersion)
		t.Cleanup(func() {
			_ = cs.CoreV1().Namespaces().Delete(context.Background(), spec.ReleaseNamespace, metav1.DeleteOptions{})
		})
		res, err := c.ManagedApp(spec).Install(ctx, logTo(t))
		if rerr := <-released; rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil {
			t.Fatalf("install while the install namespace was terminating: %v", err)
		}
		if res.Release == nil || res.Release.Status != ReleaseDeployed || res.Release.Revision != 1 {
			t.Fatalf("release %+v", res.Release)
		}
		now, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil || now.UID == old.UID || now.DeletionTimestamp != nil || !Owned(now, SharedInstallOwner) {
			t.Fatalf("install namespace after the install: %v %+v (old uid %s)", err, now, old.UID)
		}
		if _, err := c.ManagedApp(spec).Uninstall(ctx, UninstallOptions{Timeout: time.Minute}, logTo(t)); err != nil {
			t.Fatal(err)
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
		var term *NamespaceTerminatingError
		t.Log(err)
		if !errors.As(err, &term) || term.Name != rel || err.Error() != "namespace "+rel+" is being deleted: wait until it is gone, then apply again" {
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
