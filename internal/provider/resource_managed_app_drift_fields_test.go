package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
)

// TestAccManagedApp_DriftFieldChanged: fields the chart sets, changed out of band through
// the Kubernetes API as kubectl edit would (a Deployment's image and replica count, a
// ConfigMap's value), are named in the plan's warnings (never the ConfigMap's value) and
// set back by the planned upgrade, by real helm: Helm 3's three-way merge, and Helm 4's
// server-side apply when it forces conflicts (take_ownership). Helm 4 without it would
// fail on the conflict: its app is only warned about, not upgraded, and keeps the edit.
func TestAccManagedApp_DriftFieldChanged(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const helm3, forced, plain, ns = "ck-fd-helm3", "ck-fd-forced", "ck-fd-plain", "ck-drift-fields"
	deleteNamespaceAtEnd(t, cs, ns)
	cfg, err := os.ReadFile("testdata/TestAccManagedApp_DriftFieldChanged/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	w := newTofuWorkdir(t, string(cfg), "TF_VAR_host="+s.Host, "TF_VAR_ca="+s.CAPEM, "TF_VAR_token="+s.Token,
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
	for _, app := range []string{helm3, forced, plain} {
		if err := expectLiveFields(cs, ns, app, "registry.k8s.io/pause:3.10", 2, "from-terraform"); err != nil {
			t.Fatal(err)
		}
		editOutOfBand(t, cs, ns, app, app == forced)
	}

	changed := func(app string, cm bool) string {
		s := fmt.Sprintf("Deployment %s/%s-demo: image of container demo is busybox:2 (chart: registry.k8s.io/pause:3.10); replicas 5 (chart: 2)", ns, app)
		if cm { // helm orders a manifest by kind: ConfigMaps before Deployments
			s = fmt.Sprintf("ConfigMap %s/%s-demo: data key message differs from the chart. ", ns, app) + s
		}
		return s
	}
	addr := func(app string) string { return `clusterkit_managed_app.test["` + app + `"]` }
	restore := "Fields of the chart's objects changed outside Terraform | helm's release " + ns + "/%s is deployed, but fields its chart sets differ on %d of its objects " +
		"(changed outside Terraform, e.g. with kubectl edit, scale or set image): %s. The apply runs helm upgrade, which sets them back."
	conflict := "Fields changed outside Terraform are not planned back | helm's release " + ns + "/" + plain + " is deployed, but fields its chart sets differ " +
		"on 1 of its objects (changed outside Terraform): " + changed(plain, false) + ". " + kube.ServerSideConflictNote + " So no upgrade is planned for them, " +
		"and an upgrade planned for another reason fails on them the same way. Set take_ownership = true to have the upgrade force them back to the chart's values, " +
		"or set them back by hand."
	start := time.Now()
	plan := planJSON(ctx, t, w)
	t.Logf("plan took %s", time.Since(start).Round(100*time.Millisecond))
	wantPlan := map[string][]string{
		addr(helm3):  {"update", fmt.Sprintf(restore, helm3, 1, changed(helm3, false))},
		addr(forced): {"update", fmt.Sprintf(restore, forced, 2, changed(forced, true))},
		addr(plain):  {conflict},
	}
	if !maps.EqualFunc(plan, wantPlan, slices.Equal) {
		t.Errorf("the plan's changes and warnings by resource:\n%q\nwant\n%q", plan, wantPlan)
	}

	timed("apply of the two upgrades", "apply", "-auto-approve")
	for _, app := range []string{helm3, forced} {
		if err := expectLiveFields(cs, ns, app, "registry.k8s.io/pause:3.10", 2, "from-terraform"); err != nil {
			t.Errorf("after the upgrade: %v", err)
		}
		if err := expectRelease(cs, ns, app, 2, kube.ReleaseDeployed, "0.1.0"); err != nil {
			t.Error(err)
		}
	}
	if err := expectLiveFields(cs, ns, plain, "busybox:2", 5, "from-terraform"); err != nil {
		t.Errorf("the app not upgraded: %v", err)
	}
	if err := expectRelease(cs, ns, plain, 1, kube.ReleaseDeployed, "0.1.0"); err != nil {
		t.Error(err)
	}

	// The upgraded apps no longer drift; the other still warns and is still not upgraded.
	start = time.Now()
	plan = planJSON(ctx, t, w)
	t.Logf("plan after the apply took %s", time.Since(start).Round(100*time.Millisecond))
	if want := map[string][]string{addr(plain): {conflict}}; !maps.EqualFunc(plan, want, slices.Equal) {
		t.Errorf("the plan after the apply:\n%q\nwant\n%q", plan, want)
	}
}

// planJSON runs plan -json and returns, by resource address, its planned action (if
// any) and then its warnings ("summary | detail"), as the CLI reports them one by one
// (in human output, OpenTofu folds warnings of the same summary together). A ConfigMap
// value set out of band must appear nowhere in the output.
func planJSON(ctx context.Context, t *testing.T, w *tofuWorkdir) map[string][]string {
	t.Helper()
	out, err := w.run(ctx, "plan", "-json")
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
