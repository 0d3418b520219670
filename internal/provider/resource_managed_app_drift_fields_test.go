package provider

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/faultproxy"
)

// TestAccManagedApp_DriftFieldChanged: fields the chart sets, changed out of band through
// the Kubernetes API as kubectl edit would (a Deployment's image and replica count, a
// ConfigMap's value), are named in the plan's warnings (never the ConfigMap's value) and
// set back by the planned upgrade, by real helm: Helm 3's three-way merge, and Helm 4's
// server-side apply, whose upgrade forces the conflicts with the editor's field manager
// (without it the upgrade and its rollback fail). An app whose configuration changes in
// the same plan gets the same warning, and its upgrade sets the fields back too. Before
// that, its upgrade is applied without a refresh (no drift recorded, so no forced
// conflicts): Helm 4 stops at the edited fields, its rollback too, and the release is
// left failed with revision 1 still deployed; the refresh checks it against both
// revisions, and the upgrade it plans forces the conflicts. The warnings come from what
// the refresh recorded: a plan without refresh sends the API server no request at all
// (counted by a proxy in front of it).
func TestAccManagedApp_DriftFieldChanged(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	proxy := countingProxy(t, s)
	const helm3, helm4, changedApp, ns = "ck-fd-helm3", "ck-fd-helm4", "ck-fd-changed", "ck-drift-fields"
	deleteNamespaceAtEnd(t, cs, ns)
	cfg, err := os.ReadFile("testdata/TestAccManagedApp_DriftFieldChanged/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	w := newTofuWorkdir(t, string(cfg), "TF_VAR_host="+proxy.URL(), "TF_VAR_ca="+s.CAPEM, "TF_VAR_token="+s.Token,
		"TF_VAR_helm3_image="+testenv.Helm3Image, "TF_VAR_chart_mirrors="+os.Getenv("CLUSTERKIT_TEST_CHART_MIRRORS"),
		"TF_VAR_chart_repo="+os.Getenv("CLUSTERKIT_TEST_CHART_REPO_URL"))
	t.Cleanup(func() {
		if _, err := w.run(context.Background(), "destroy", "-auto-approve"); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	ctx := context.Background()
	timed := func(what string, args ...string) string {
		t.Helper()
		start := time.Now()
		out, err := w.run(ctx, args...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s took %s", what, time.Since(start).Round(100*time.Millisecond))
		return flat(out)
	}
	timed("install of the three apps", "apply", "-auto-approve")
	for _, app := range []string{helm3, helm4, changedApp} {
		if err := expectLiveFields(cs, ns, app, "registry.k8s.io/pause:3.10", 2, "from-terraform"); err != nil {
			t.Fatal(err)
		}
		editOutOfBand(t, cs, ns, app, app == helm4)
	}
	newMessage := "-var=changed_message=changed-by-terraform"
	// helm's error: the upgrade's conflict, then the rollback's.
	const stopped = `an error occurred while rolling back the release. original upgrade error: conflict occurred while applying object ` +
		ns + `/` + changedApp + `-demo apps/v1, Kind=Deployment: Apply failed with 2 conflicts: conflicts with "kubectl-edit"`
	if _, err := w.run(ctx, "apply", "-auto-approve", "-refresh=false", newMessage); err == nil || !strings.Contains(err.Error(), stopped) {
		t.Fatalf("the upgrade without forced conflicts: %v; want it and its rollback stopped at the edited fields", err)
	}
	// Revision 2 (the upgrade) superseded by the rollback, revision 3, failed as well.
	if err := expectRelease(cs, ns, changedApp, 3, kube.ReleaseFailed, "0.1.0"); err != nil {
		t.Fatal(err)
	}

	changed := func(app string, cm bool) string {
		s := fmt.Sprintf("Deployment %s/%s-demo: image of container demo is busybox:2 (chart: registry.k8s.io/pause:3.10); replicas 5 (chart: 2)", ns, app)
		if cm { // helm orders a manifest by kind: ConfigMaps before Deployments
			s = fmt.Sprintf("ConfigMap %s/%s-demo: data key message differs from the chart. ", ns, app) + s
		}
		return s
	}
	addr := func(app string) string { return `clusterkit_managed_app.test["` + app + `"]` }
	restore := "Fields of the chart's objects changed outside Terraform | helm's release " + ns + "/%s %s, but fields its chart sets differ on %d of its objects " +
		"(changed outside Terraform, e.g. with kubectl edit, scale or set image): %s. The apply runs helm upgrade, which sets them back."
	const deployed, failed = "is deployed", "failed at revision 3 (its last deployed revision is 1)"
	wantPlan := map[string][]string{
		addr(helm3):      {"update", fmt.Sprintf(restore, helm3, deployed, 1, changed(helm3, false))},
		addr(helm4):      {"update", fmt.Sprintf(restore, helm4, deployed, 2, changed(helm4, true))},
		addr(changedApp): {"update", fmt.Sprintf(restore, changedApp, failed, 1, changed(changedApp, false))},
	}

	// The refresh records the drift (one refresh's requests); a plan without refresh then
	// warns from that record alone.
	before := len(proxy.Requests())
	timed("refresh", "apply", "-refresh-only", "-auto-approve", newMessage)
	refreshRequests := len(proxy.Requests()) - before
	before = len(proxy.Requests())
	plan := planJSON(ctx, t, w, "-refresh=false", newMessage)
	if n := len(proxy.Requests()) - before; n != 0 {
		t.Errorf("a plan without refresh sent %d requests: %s", n, requestsSince(proxy, before))
	}
	if !maps.EqualFunc(plan, wantPlan, slices.Equal) {
		t.Errorf("the plan (without refresh) by resource:\n%q\nwant\n%q", plan, wantPlan)
	}
	before = len(proxy.Requests())
	start := time.Now()
	plan = planJSON(ctx, t, w, newMessage)
	t.Logf("plan took %s, %d requests (the refresh alone: %d)", time.Since(start).Round(100*time.Millisecond), len(proxy.Requests())-before, refreshRequests)
	if !maps.EqualFunc(plan, wantPlan, slices.Equal) {
		t.Errorf("the plan's changes and warnings by resource:\n%q\nwant\n%q", plan, wantPlan)
	}

	timed("apply of the three upgrades", "apply", "-auto-approve", newMessage)
	for app, message := range map[string]string{helm3: "from-terraform", helm4: "from-terraform", changedApp: "changed-by-terraform"} {
		if err := expectLiveFields(cs, ns, app, "registry.k8s.io/pause:3.10", 2, message); err != nil {
			t.Errorf("after the upgrade: %v", err)
		}
		revision := 2
		if app == changedApp {
			revision = 4 // after the failed upgrade (2) and rollback (3)
		}
		if err := expectRelease(cs, ns, app, revision, kube.ReleaseDeployed, "0.1.0"); err != nil {
			t.Error(err)
		}
	}
	// Helm 4's forced apply took the fields back: the editor's field manager owns none of
	// the Deployment's spec any more.
	for _, app := range []string{helm4, changedApp} {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, app+"-demo", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range d.ManagedFields {
			if mf.Manager == "kubectl-edit" && mf.FieldsV1 != nil && strings.Contains(mf.FieldsV1.GetRawString(), `"f:spec"`) {
				t.Errorf("%s: kubectl-edit still owns fields of the spec: %s", app, mf.FieldsV1.GetRawString())
			}
		}
	}

	// Nothing drifts any more.
	start = time.Now()
	plan = planJSON(ctx, t, w, newMessage)
	t.Logf("plan after the apply took %s", time.Since(start).Round(100*time.Millisecond))
	if len(plan) != 0 {
		t.Errorf("the plan after the apply: %q, want no change and no warning", plan)
	}
}

// countingProxy is a pass-through proxy in front of the stack's API server: its log
// counts the provider's requests (install pods reach the API server directly).
func countingProxy(t *testing.T, s testStack) *faultproxy.Proxy {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(accStack.Dir, "pki", "apiserver.crt"), filepath.Join(accStack.Dir, "pki", "apiserver.key"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.Start(faultproxy.Options{Target: s.Host, TargetCAPEM: []byte(s.CAPEM), Cert: cert})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func requestsSince(p *faultproxy.Proxy, i int) string {
	var out []string
	for _, r := range p.Requests()[i:] {
		out = append(out, r.Method+" "+r.Path)
	}
	return strings.Join(out, ", ")
}

// planJSON runs plan -json and returns, by resource address, its planned action (if
// any) and then its warnings ("summary | detail"), as the CLI reports them one by one
// (in human output, OpenTofu folds warnings of the same summary together). A ConfigMap
// value set out of band must appear nowhere in the output.
func planJSON(ctx context.Context, t *testing.T, w *tofuWorkdir, args ...string) map[string][]string {
	t.Helper()
	out, err := w.run(ctx, append([]string{"plan", "-json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("edited-by-hand")) {
		t.Errorf("the plan shows a ConfigMap's value:\n%s", out)
	}
	got := map[string][]string{}
	for _, line := range bytes.Split(out, []byte("\n")) {
		var msg struct {
			Type   string `json:"type"`
			Change struct {
				Resource struct {
					Addr string `json:"addr"`
				} `json:"resource"`
				Action string `json:"action"`
			} `json:"change"`
			Diagnostic struct {
				Severity, Summary, Detail, Address string
			} `json:"diagnostic"`
		}
		if json.Unmarshal(line, &msg) != nil {
			continue
		}
		switch {
		case msg.Type == "planned_change":
			got[msg.Change.Resource.Addr] = append([]string{msg.Change.Action}, got[msg.Change.Resource.Addr]...)
		case msg.Type == "diagnostic" && msg.Diagnostic.Address != "":
			got[msg.Diagnostic.Address] = append(got[msg.Diagnostic.Address], msg.Diagnostic.Summary+" | "+msg.Diagnostic.Detail)
		}
	}
	return got
}

// editOutOfBand changes app's Deployment as kubectl edit would (image, replicas), and,
// with configMap, a value of its ConfigMap.
func editOutOfBand(t *testing.T, cs kubernetes.Interface, ns, app string, configMap bool) {
	t.Helper()
	ctx := context.Background()
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, app+"-demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	replicas := int32(5)
	d.Spec.Replicas = &replicas
	d.Spec.Template.Spec.Containers[0].Image = "busybox:2"
	if _, err := cs.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	if !configMap {
		return
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, app+"-demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["message"] = "edited-by-hand"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
}

// expectLiveFields checks app's Deployment image and replicas and its ConfigMap's message.
func expectLiveFields(cs kubernetes.Interface, ns, app, image string, replicas int32, message string) error {
	ctx := context.Background()
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, app+"-demo", metav1.GetOptions{})
	if err != nil {
		return err
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != image || d.Spec.Replicas == nil || *d.Spec.Replicas != replicas {
		return fmt.Errorf("deployment %s/%s-demo: image %s, replicas %v; want %s, %d", ns, app, got, d.Spec.Replicas, image, replicas)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, app+"-demo", metav1.GetOptions{})
	if err != nil {
		return err
	}
	if cm.Data["message"] != message {
		return fmt.Errorf("config map %s/%s-demo: message %q, want %q", ns, app, cm.Data["message"], message)
	}
	return nil
}
