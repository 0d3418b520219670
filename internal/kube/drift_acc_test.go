package kube

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// TestAccMissingObjects: the chart's objects checked against a real API server: none
// missing or changed after the install (the fields the API server defaults, such as a
// Service port's protocol, are no drift), one LIST per kind and namespace shared by later
// checks of the run, an object deleted out of band found missing by the next run, helm's
// upgrade (what the provider plans for it) making it again, and fields edited out of band
// found changed, on objects Helm 4 applied server-side.
func TestAccMissingObjects(t *testing.T) {
	var mu sync.Mutex
	var lists []string
	logf := func(_ context.Context, msg string, fields map[string]any) {
		if fields["verb"] == "GET" && fields["watch"] == nil && strings.Contains(msg, "/acc-drift-app/") {
			mu.Lock()
			lists = append(lists, fields["path"].(string))
			mu.Unlock()
		}
	}
	s, c := startStack(t, logf)
	listed := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := slices.Clone(lists)
		lists = nil
		return out
	}
	ctx := context.Background()
	spec := accSpec(s, "drift-app", "demo", chartsrc.DemoVersion)
	cleanupApp(t, c, spec)
	res, err := c.ManagedApp(spec).Install(ctx, logTo(t))
	if err != nil {
		t.Fatal(err)
	}
	rel, fullname := res.Release, demoFullname(spec.Name)
	want := []ObjectRef{
		{APIVersion: "v1", Kind: "ConfigMap", Name: fullname},
		{APIVersion: "v1", Kind: "Service", Name: fullname},
		{APIVersion: "apps/v1", Kind: "Deployment", Name: fullname},
	}
	if rel == nil || rel.ManifestUnreadable || !sameObjects(rel.Objects, want) {
		t.Fatalf("the release's objects: %+v, want %+v", rel, want)
	}
	_ = listed() // the install's own reads
	d, err := c.CheckObjects(ctx, rel)
	if err != nil || len(d.Missing) != 0 || len(d.Unchecked) != 0 || len(d.Changed) != 0 {
		t.Fatalf("right after the install: %+v %v", d, err)
	}
	got := listed()
	slices.Sort(got)
	wantLists := []string{
		"/api/v1/namespaces/acc-drift-app/configmaps",
		"/api/v1/namespaces/acc-drift-app/services",
		"/apis/apps/v1/namespaces/acc-drift-app/deployments",
	}
	if !slices.Equal(got, wantLists) {
		t.Fatalf("lists %q, want one per kind: %q", got, wantLists)
	}
	if _, err := c.CheckObjects(ctx, rel); err != nil || len(listed()) != 0 {
		t.Fatalf("a second check in the same run lists again (%v)", err)
	}

	// Deleted out of band; the next run (a new client) finds it missing.
	if err := c.Clientset().AppsV1().Deployments(spec.ReleaseNamespace).Delete(ctx, fullname, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	next, err := NewFactory(FactoryOptions{Policy: netguard.Policy{AllowLocal: true}}).
		Client(Connection{Host: s.Host, CAPEM: []byte(s.CAPEM), Token: s.AdminToken})
	if err != nil {
		t.Fatal(err)
	}
	d, err = next.CheckObjects(ctx, rel)
	if err != nil || len(d.Missing) != 1 || d.Missing[0].String() != "Deployment "+spec.ReleaseNamespace+"/"+fullname || len(d.Unchecked) != 0 {
		t.Fatalf("after the Deployment's delete: %+v %v", d, err)
	}
	if s := d.MissingSummary(); s != "Deployment "+spec.ReleaseNamespace+"/"+fullname {
		t.Errorf("summary %q", s)
	}

	// The upgrade makes it again; the run's check after it lists afresh.
	up, err := next.ManagedApp(spec).Install(ctx, logTo(t))
	if err != nil {
		t.Fatal(err)
	}
	if up.Release == nil || up.Release.Revision != 2 {
		t.Fatalf("upgrade: %+v", up.Release)
	}
	d, err = next.CheckObjects(ctx, up.Release)
	if err != nil || len(d.Missing) != 0 {
		t.Fatalf("after the upgrade: %+v %v", d, err)
	}
	if _, err := c.Clientset().AppsV1().Deployments(spec.ReleaseNamespace).Get(ctx, fullname, metav1.GetOptions{}); err != nil {
		t.Fatalf("the upgrade did not make the Deployment again: %v", err)
	}

	// Edited out of band, as kubectl edit would: the Service's type (the API server then
	// assigns a node port, which the chart does not state: no drift) and a ConfigMap value.
	cs := c.Clientset().CoreV1()
	svc, err := cs.Services(spec.ReleaseNamespace).Get(ctx, fullname, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Type = "NodePort"
	if _, err := cs.Services(spec.ReleaseNamespace).Update(ctx, svc, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	cm, err := cs.ConfigMaps(spec.ReleaseNamespace).Get(ctx, fullname, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["message"], cm.Data["added-by-hand"] = "edited-by-hand", "not the chart's"
	if _, err := cs.ConfigMaps(spec.ReleaseNamespace).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	third, err := NewFactory(FactoryOptions{Policy: netguard.Policy{AllowLocal: true}, Log: logf}).
		Client(Connection{Host: s.Host, CAPEM: []byte(s.CAPEM), Token: s.AdminToken})
	if err != nil {
		t.Fatal(err)
	}
	_ = listed()
	d, err = third.CheckObjects(ctx, up.Release)
	if err != nil || len(d.Missing) != 0 || len(d.Unchecked) != 0 {
		t.Fatalf("after the edits: %+v %v", d, err)
	}
	var changed []string
	for _, f := range d.Changed {
		changed = append(changed, f.String())
	}
	ns := spec.ReleaseNamespace
	if wantChanged := []string{
		"ConfigMap " + ns + "/" + fullname + ": data key message differs from the chart",
		"Service " + ns + "/" + fullname + ": type NodePort (chart: ClusterIP)",
	}; !slices.Equal(changed, wantChanged) {
		t.Errorf("changed %q\nwant %q", changed, wantChanged)
	}
	if got := listed(); len(got) != 3 { // the same three paths, full lists (all three kinds are compared)
		t.Errorf("lists %q, want one per kind", got)
	}
}

func sameObjects(a, b []ObjectRef) bool {
	key := func(o ObjectRef) string { return o.APIVersion + "/" + o.Kind + "/" + o.Namespace + "/" + o.Name }
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i] = key(a[i])
	}
	for i := range b {
		kb[i] = key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}
