package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
)

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
		// The next subtest makes its prerequisites directly, without Install's wait for a
		// terminating install namespace: wait here for the one the last app's uninstall
		// started deleting.
		if ns := spec.WithDefaults().Namespace; expectDeleting(ctx, c, ns) == nil {
			if err := c.WaitNamespaceGone(ctx, ns); err != nil {
				t.Errorf("cleanup: %v", err)
			}
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

// expectDeleting: the namespace is gone or being deleted (an uninstall does not wait for
// the shared install namespace's finalization).
func expectDeleting(ctx context.Context, c *Client, ns string) error {
	got, err := c.Clientset().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if got.DeletionTimestamp == nil {
		return fmt.Errorf("namespace %s is not being deleted", ns)
	}
	return nil
}
