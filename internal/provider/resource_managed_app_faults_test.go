package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/faultproxy"
)

// Fault tests (issue 11): the provider reaches the stack's API server through the fault
// proxy (the shared stack has one; only these tests hand its URL to the provider), while
// helm in the install pods and the tests' own checks go to the API server directly. Each
// fault is armed on the provider's wait for the install, upgrade or uninstall pod, and
// each test ends asserting helm's release records and that nothing is left behind.

// podWait selects the provider's list and watch of one install pod: its wait.
func podWait(pod string) faultproxy.Filter {
	return faultproxy.All(faultproxy.Method(http.MethodGet), faultproxy.PathContains("/namespaces/"+installNS+"/pods"),
		faultproxy.Query("fieldSelector", fields.OneTermEqualSelector("metadata.name", pod).String()))
}

func podWatch(pod string) faultproxy.Filter { return faultproxy.All(podWait(pod), faultproxy.Watches) }

// forPod tells whether a logged request was for pod (list or watch).
func forPod(r faultproxy.Request, pod string) bool {
	q, _ := url.ParseQuery(r.Query)
	return r.Method == http.MethodGet && q.Get("fieldSelector") == "metadata.name="+pod
}

// listedAfter tells whether the provider listed pod (answered 200) after t: it came back.
func listedAfter(p *faultproxy.Proxy, pod string, t time.Time) bool {
	for _, r := range p.Requests() {
		if !r.Watch && forPod(r, pod) && r.Status == http.StatusOK && r.Received.After(t) {
			return true
		}
	}
	return false
}

// podRequests describes what the proxy saw of pod since t, for failure messages.
func podRequests(p *faultproxy.Proxy, pod string, since time.Time) string {
	var out []string
	for _, r := range p.Requests() {
		if forPod(r, pod) && !r.Received.Before(since) {
			out = append(out, fmt.Sprintf("%s watch=%v status=%d fault=%q", r.Received.Format("15:04:05.000"), r.Watch, r.Status, r.Fault))
		}
	}
	return strings.Join(out, "; ")
}

// waitPodFinished waits, directly on the API server, until pod has succeeded or failed.
func waitPodFinished(cs kubernetes.Interface, pod string) (corev1.PodPhase, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sel := fields.OneTermEqualSelector("metadata.name", pod).String()
	for ctx.Err() == nil {
		l, err := cs.CoreV1().Pods(installNS).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err == nil && len(l.Items) == 1 {
			if ph := l.Items[0].Status.Phase; ph == corev1.PodSucceeded || ph == corev1.PodFailed {
				return ph, nil
			}
		}
		w, err := cs.CoreV1().Pods(installNS).Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: l.ResourceVersion})
		if err != nil {
			continue
		}
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) {
				w.Stop()
				return p.Status.Phase, nil
			}
		}
	}
	return "", fmt.Errorf("pod %s did not finish", pod)
}

// waitFault is one fault: arm programs it for the provider's wait on pod and returns
// the check that it happened (and that the provider came back), run after the operation.
type waitFault struct {
	name string
	arm  func(t *testing.T, p *faultproxy.Proxy, cs kubernetes.Interface, pod string) func() error
}

// onWaitHeld lets the provider open its watch of pod but withholds the events until
// helm in the pod is done, then calls fault and breaks the stream: the fault lands
// on an open watch while the provider waits, before it can have seen the pod finish, so
// it has to come back to learn the outcome. helm talks to the API server directly and is
// not disturbed.
func onWaitHeld(p *faultproxy.Proxy, cs kubernetes.Interface, pod string, fault func() error) (check func(after func(time.Time) error) error) {
	done := make(chan struct{})
	var at time.Time
	var phase corev1.PodPhase
	var err error
	hold := p.Hold(podWait(pod), 1)
	p.OnRequest(podWatch(pod), func(*http.Request) {
		go func() {
			defer close(done)
			// What the held stream carried is lost with the fault, as with a real one.
			defer hold.Break()
			if phase, err = waitPodFinished(cs, pod); err == nil {
				at, err = time.Now(), fault()
			}
		}()
	})
	return func(after func(time.Time) error) error {
		defer hold.Remove()
		select {
		case <-done:
		case <-time.After(time.Minute):
			return fmt.Errorf("the fault on the wait for %s never happened (the provider never watched it)", pod)
		}
		if err != nil {
			return err
		}
		if phase != corev1.PodSucceeded {
			return fmt.Errorf("pod %s ended %s before the fault", pod, phase)
		}
		if hold.Hits() != 1 {
			return fmt.Errorf("the provider's watch of %s was not held (hits %d)", pod, hold.Hits())
		}
		return after(at)
	}
}

// cameBack checks that the provider listed pod again after t.
func cameBack(p *faultproxy.Proxy, pod, what string) func(time.Time) error {
	return func(t time.Time) error {
		if !listedAfter(p, pod, t) {
			return fmt.Errorf("the provider did not list pod %s again after the %s; its requests for it: %s", pod, what, podRequests(p, pod, t.Add(-time.Minute)))
		}
		return nil
	}
}

// faultReset: every connection of the provider reset (TCP RST), its watch among them.
var faultReset = waitFault{name: "connection reset", arm: func(t *testing.T, p *faultproxy.Proxy, cs kubernetes.Interface, pod string) func() error {
	var n int
	check := onWaitHeld(p, cs, pod, func() error { n = p.ResetAll(); return nil })
	return func() error {
		return check(func(at time.Time) error {
			if n < 1 {
				return fmt.Errorf("the reset during the wait on %s found no connection to reset", pod)
			}
			return cameBack(p, pod, "reset")(at)
		})
	}
}}

// faultOutage: every connection reset and the port closed for 30 s (connection refused),
// as when the API server (or its load balancer) is away.
var faultOutage = waitFault{name: "30 s outage (refused)", arm: func(t *testing.T, p *faultproxy.Proxy, cs kubernetes.Interface, pod string) func() error {
	ended := make(chan error, 1)
	var end time.Time
	over := make(chan struct{})
	check := onWaitHeld(p, cs, pod, func() error {
		go func() {
			defer close(over)
			err := <-p.Outage(30 * time.Second)
			end = time.Now()
			ended <- err
		}()
		return nil
	})
	// Whatever happens to the step, the next test gets the proxy back.
	t.Cleanup(func() {
		select {
		case <-over:
		case <-time.After(time.Minute):
		}
	})
	return func() error {
		return check(func(time.Time) error {
			if err := <-ended; err != nil {
				return err
			}
			return cameBack(p, pod, "outage")(end)
		})
	}
}}

// apiServerDown: the kube-apiserver stopped, kept down for down, and started again (every
// client's connections and watches broken, connections refused meanwhile). down 0 is a
// plain restart (a few seconds down).
func apiServerDown(name string, down time.Duration) waitFault {
	return waitFault{name: name, arm: func(t *testing.T, p *faultproxy.Proxy, cs kubernetes.Interface, pod string) func() error {
		started := make(chan error, 1)
		up := make(chan struct{})
		check := onWaitHeld(p, cs, pod, func() error {
			if err := accStack.StopAPIServer(); err != nil {
				return err
			}
			go func() {
				defer close(up)
				<-time.After(down)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				started <- accStack.StartAPIServer(ctx)
			}()
			return nil
		})
		// The next step or test gets a stack whose components are back from their
		// reconnect back-off: a pod that starts late outlasts the hold of the next wait.
		settle := func() error {
			select {
			case <-up:
			case <-time.After(3 * time.Minute):
				return errors.New("the kube-apiserver was not started again")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			start := time.Now()
			if err := accStack.WaitSettled(ctx); err != nil {
				return fmt.Errorf("the stack did not settle after the restart: %w", err)
			}
			t.Logf("the stack ran a pod again %s after the kube-apiserver was back", time.Since(start).Round(100*time.Millisecond))
			return nil
		}
		t.Cleanup(func() {
			if err := settle(); err != nil {
				t.Error(err)
			}
		})
		return func() error {
			return check(func(at time.Time) error {
				if err := <-started; err != nil {
					return fmt.Errorf("starting the kube-apiserver again: %w", err)
				}
				if err := cameBack(p, pod, "restart")(at); err != nil {
					return err
				}
				return settle()
			})
		}
	}}
}

var (
	faultRestart = apiServerDown("kube-apiserver restart", 0)
	faultDown    = apiServerDown("kube-apiserver down 30 s", 30*time.Second)
)

// faultRule arms a proxy rule on the pod's wait; the check wants at least min hits.
func faultRule(name string, min int, rule func(p *faultproxy.Proxy, pod string) *faultproxy.Rule) waitFault {
	return waitFault{name: name, arm: func(t *testing.T, p *faultproxy.Proxy, _ kubernetes.Interface, pod string) func() error {
		r := rule(p, pod)
		return func() error {
			defer r.Remove()
			if r.Hits() < min {
				return fmt.Errorf("%s: %d of the wait's requests for %s hit, want at least %d", name, r.Hits(), pod, min)
			}
			t.Logf("%s: %d of the wait's requests for %s hit", name, r.Hits(), pod)
			return nil
		}
	}}
}

var (
	faultWatchCut = faultRule("watch cut mid-event", 1, func(p *faultproxy.Proxy, pod string) *faultproxy.Rule {
		return p.CutWatches(podWait(pod), 2, 1, true)
	})
	fault5xx = faultRule("503 burst (no Retry-After)", 3, func(p *faultproxy.Proxy, pod string) *faultproxy.Rule {
		return p.Respond(podWait(pod), 3, http.StatusServiceUnavailable, 0)
	})
	fault429 = faultRule("429 burst (Retry-After 1 s)", 4, func(p *faultproxy.Proxy, pod string) *faultproxy.Rule {
		return p.Respond(podWait(pod), 4, http.StatusTooManyRequests, time.Second)
	})
)

// faultBlackhole: every connection reset, then new ones accepted but never answered (no
// TLS handshake) for 30 s, as when packets to the API server are dropped.
var faultBlackhole = waitFault{name: "30 s blackhole", arm: func(t *testing.T, p *faultproxy.Proxy, cs kubernetes.Interface, pod string) func() error {
	over := make(chan struct{})
	var end time.Time
	check := onWaitHeld(p, cs, pod, func() error {
		go func() {
			<-p.Blackhole(30 * time.Second)
			end = time.Now()
			close(over)
		}()
		return nil
	})
	t.Cleanup(func() {
		select {
		case <-over:
		case <-time.After(time.Minute):
		}
	})
	return func() error {
		return check(func(time.Time) error {
			<-over
			return cameBack(p, pod, "blackhole")(end)
		})
	}
}}

var (
	// The client gives up on the stalled request after its request timeout (30 s).
	faultStall = faultRule("45 s stall of one request", 1, func(p *faultproxy.Proxy, pod string) *faultproxy.Rule {
		return p.Stall(podWait(pod), 1, 45*time.Second)
	})
	fault500 = faultRule("500 burst (no Retry-After)", 5, func(p *faultproxy.Proxy, pod string) *faultproxy.Rule {
		return p.Respond(podWait(pod), 5, http.StatusInternalServerError, 0)
	})
)

func TestAccManagedApp_FaultStalls(t *testing.T) {
	testFaultsInWaits(t, "ck-fault-stalls", faultStall, faultBlackhole, fault500)
}

func TestAccManagedApp_FaultReset(t *testing.T) {
	testFaultsInWaits(t, "ck-fault-reset", faultReset, faultReset, faultReset)
}

func TestAccManagedApp_FaultOutage(t *testing.T) {
	testFaultsInWaits(t, "ck-fault-outage", faultOutage, faultOutage, faultOutage)
}

func TestAccManagedApp_FaultAPIServerRestart(t *testing.T) {
	testFaultsInWaits(t, "ck-fault-restart", faultRestart, faultRestart, faultRestart)
}

// The upgrade waits in the same RunInstallPod as the install, and each 30 s stop costs
// the stack ~80 s to settle, so the upgrade meets a cheap fault here; FaultOutage keeps a
// 30 s outage under every operation.
func TestAccManagedApp_FaultAPIServerDown(t *testing.T) {
	testFaultsInWaits(t, "ck-fault-down", faultDown, faultWatchCut, faultDown)
}

func TestAccManagedApp_FaultStreams(t *testing.T) {
	testFaultsInWaits(t, "ck-fault-streams", faultWatchCut, fault5xx, fault429)
}

// expectNoInstallObjects checks that the app's install objects are gone after destroy:
// the shared install namespace (its last app went: gone or being deleted), and any
// service account, binding or role binding the app owned. The release namespace stays,
// by design.
func expectNoInstallObjects(cs kubernetes.Interface, owner, releaseNS string) error {
	ctx := context.Background()
	if err := expectDeleting(cs, installNS); err != nil {
		return err
	}
	left, err := ownedIdentities(ctx, cs, owner)
	if err != nil {
		return err
	}
	sel := metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=" + kube.ManagedByValue}
	rbs, err := cs.RbacV1().RoleBindings(releaseNS).List(ctx, sel)
	if err != nil {
		return err
	}
	for _, o := range rbs.Items {
		left = append(left, "rolebinding/"+o.Namespace+"/"+o.Name)
	}
	if len(left) > 0 {
		return fmt.Errorf("objects of %s left after destroy: %v", owner, left)
	}
	return nil
}

// removeLeftoversIfFailed: a failed fault test's destroy may have failed too (during the
// fault), leaving the app's install objects; they would fail the next test that expects
// the shared install namespace gone. Runs after the faults' own cleanups (which wait for
// an outage or restart to end).
func removeLeftoversIfFailed(t *testing.T, cs kubernetes.Interface, name string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx := context.Background()
		_ = cs.RbacV1().ClusterRoleBindings().Delete(ctx, "clusterkit-installer-"+installNS+"-"+name, metav1.DeleteOptions{})
		if err := cs.CoreV1().Namespaces().Delete(ctx, installNS, metav1.DeleteOptions{}); err == nil {
			waitGone(t, cs, installNS)
		}
	})
}

// faultRow logs one row of the fault table (fault × operation → outcome, duration).
func faultRow(t *testing.T, f waitFault, op string, start time.Time, err error) error {
	outcome := "pass"
	if err != nil {
		outcome = "FAIL: " + err.Error()
	}
	t.Logf("fault table | %s | %s | %s | %s", f.name, op, outcome, time.Since(start).Round(100*time.Millisecond))
	return err
}

// testFaultsInWaits installs, upgrades and uninstalls a custom-chart app through the
// fault proxy, with one fault armed on each operation's wait.
func testFaultsInWaits(t *testing.T, name string, install, upgrade, uninstall waitFault) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	p := accStack.FaultProxy()
	if p == nil {
		t.Fatal("the stack has no fault proxy (testenv.Options.FaultProxy)")
	}
	t.Cleanup(p.Clear)
	deleteNamespaceAtEnd(t, cs, name)
	removeLeftoversIfFailed(t, cs, name)
	installPod, uninstallPod := kube.InstallPodName(name, kube.ActionInstall), kube.InstallPodName(name, kube.ActionUninstall)
	owner := "managed_app/" + name + "/" + name
	vars := func(replicas int) config.Variables {
		v := managedAppVars(t, s, config.Variables{"name": config.StringVariable(name), "replicas": config.IntegerVariable(replicas)})
		v["host"] = config.StringVariable(accStack.ProxyHost)
		return v
	}
	// The true state after an install or upgrade: helm's records revision 1..n, the
	// latest deployed (none pending), the chart's objects as configured, no pod left.
	expectDeployed := func(revision int, replicas int32) error {
		if err := expectRelease(cs, name, name, revision, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
			return err
		}
		var want []string
		for i := 1; i <= revision; i++ {
			want = append(want, fmt.Sprintf("sh.helm.release.v1.%s.v%d", name, i))
		}
		if got, err := releaseSecrets(cs, name, name); err != nil || !slices.Equal(got, want) {
			return fmt.Errorf("release records %v (%v), want %v", got, err, want)
		}
		if err := expectDeployment(cs, name, name+"-demo", replicas, nil); err != nil {
			return err
		}
		_, err := cs.CoreV1().Pods(installNS).Get(context.Background(), installPod, metav1.GetOptions{})
		return expectAbsent("install pod", err)
	}
	// The fault armed last: its operation, when, and its check; logged once as a row.
	var cur struct {
		f      waitFault
		op     string
		start  time.Time
		check  func() error
		pod    string
		logged bool
	}
	// flush logs the row of a fault whose step failed before its check ran.
	flush := func() {
		if cur.check != nil && !cur.logged {
			cur.logged = true
			_ = faultRow(t, cur.f, cur.op, cur.start, fmt.Errorf("the operation failed (see the step's or the destroy's error above); the provider's requests for %s: %s",
				cur.pod, podRequests(p, cur.pod, cur.start)))
		}
	}
	arm := func(f waitFault, op, pod string) {
		flush()
		cur.f, cur.op, cur.start, cur.check, cur.pod, cur.logged = f, op, time.Now(), f.arm(t, p, cs, pod), pod, false
	}
	row := func(err error) error {
		cur.logged = true
		return faultRow(t, cur.f, cur.op, cur.start, err)
	}
	// A failed step can fail the destroy too, and then CheckDestroy never runs: the rows
	// not logged by then are logged here.
	t.Cleanup(func() {
		flush()
		ops := []string{"install", "upgrade", "uninstall"}
		for i, f := range []waitFault{install, upgrade, uninstall} {
			if i > slices.Index(ops, cur.op) {
				t.Logf("fault table | %s | %s | not run: an earlier step failed | -", f.name, ops[i])
			}
		}
	})
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if cur.op != "uninstall" { // an earlier step failed (its row is logged at the end)
				return expectChartGone(cs, name, name)
			}
			err := cur.check()
			if err == nil {
				err = expectChartGone(cs, name, name)
			}
			if err == nil {
				_, gerr := cs.CoreV1().Pods(installNS).Get(context.Background(), uninstallPod, metav1.GetOptions{})
				err = expectAbsent("uninstall pod", gerr)
			}
			if err == nil {
				err = expectNoInstallObjects(cs, owner, name)
			}
			return row(err)
		},
		Steps: []tfresource.TestStep{
			{
				PreConfig:       func() { arm(install, "install", installPod) },
				ConfigDirectory: config.StaticDirectory("testdata/TestAccManagedApp_Faults"),
				ConfigVariables: vars(1),
				Check: func(*terraform.State) error {
					err := cur.check()
					if err == nil {
						err = expectDeployed(1, 1)
					}
					return row(err)
				},
			},
			{
				PreConfig:       func() { arm(upgrade, "upgrade", installPod) },
				ConfigDirectory: config.StaticDirectory("testdata/TestAccManagedApp_Faults"),
				ConfigVariables: vars(2),
				Check: func(*terraform.State) error {
					err := cur.check()
					if err == nil {
						err = expectDeployed(2, 2)
					}
					if err := row(err); err != nil {
						return err
					}
					// The destroy that follows this step meets the uninstall fault.
					arm(uninstall, "uninstall", uninstallPod)
					return nil
				},
			},
		},
	}))
}
