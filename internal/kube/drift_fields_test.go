package kube

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
)

// A release's manifest as helm stores it: what the drift check compares of each object.
const fieldsManifest = `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-app
spec:
  replicas: 2
  template:
    spec:
      initContainers:
      - name: migrate
        image: example.com/migrate:1
      containers:
      - name: app
        image: busybox:1
      - name: sidecar
        image: envoy:1.30
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web-db
spec:
  replicas: 3
  template:
    spec:
      containers: [{name: db, image: "postgres:17"}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web-db
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: web-db}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: web-agent
  namespace: monitoring
spec:
  template:
    spec:
      containers: [{name: agent, image: "agent:2"}]
---
apiVersion: v1
kind: Service
metadata:
  name: web-app
spec:
  type: NodePort
  ports:
  - name: http
    port: 80
    targetPort: http
  - name: metrics
    port: 9090
    protocol: TCP
    nodePort: 30090
---
apiVersion: v1
kind: Service
metadata:
  name: web-plain
spec:
  ports: [{port: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-app
data:
  message: "hello"
  config.yaml: |
    a: 1
---
apiVersion: v1
kind: Secret
metadata:
  name: web-app
data:
  password: c2VjcmV0
stringData:
  token: plain
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: odd
spec:
  replicas: many
  template: "a string"
  ports: 8080
`

func TestManifestFields(t *testing.T) {
	objs, err := manifestObjects(fieldsManifest)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*chartFields{}
	for _, o := range objs {
		byName[o.Kind+"/"+o.Name] = o.fields
	}
	if len(objs) != 9 {
		t.Fatalf("%d objects, want 9", len(objs))
	}
	two := int32(2)
	if f := byName["Deployment/web-app"]; f == nil || f.replicas == nil || *f.replicas != two ||
		!slices.Equal(f.containers, []chartContainer{{name: "app", image: "busybox:1"}, {name: "sidecar", image: "envoy:1.30"}, {name: "migrate", image: "example.com/migrate:1", init: true}}) {
		t.Errorf("Deployment: %+v", f)
	}
	// The release's HPA owns the StatefulSet's replica count: not compared.
	if f := byName["StatefulSet/web-db"]; f == nil || f.replicas != nil || len(f.containers) != 1 {
		t.Errorf("StatefulSet under an HPA: %+v", f)
	}
	if f := byName["DaemonSet/web-agent"]; f == nil || f.replicas != nil || !slices.Equal(f.containers, []chartContainer{{name: "agent", image: "agent:2"}}) {
		t.Errorf("DaemonSet: %+v", f)
	}
	if f := byName["Service/web-app"]; f == nil || f.serviceType != "NodePort" ||
		!slices.Equal(f.ports, []chartPort{{name: "http", port: 80, targetPort: "http"}, {name: "metrics", port: 9090, protocol: "TCP", nodePort: 30090}}) {
		t.Errorf("Service: %+v", f)
	}
	if f := byName["Service/web-plain"]; f == nil || f.serviceType != "" || !slices.Equal(f.ports, []chartPort{{port: 8080}}) {
		t.Errorf("Service without type: %+v", f)
	}
	if f := byName["ConfigMap/web-app"]; f == nil || len(f.data) != 2 || f.data["message"] != hashValue("hello") || f.data["config.yaml"] != hashValue("a: 1\n") {
		t.Errorf("ConfigMap: %+v", f)
	}
	// Nothing of a Secret is kept, and a kind outside the set (of any shape) has no fields.
	for _, k := range []string{"Secret/web-app", "Widget/odd", "HorizontalPodAutoscaler/web-db"} {
		if f := byName[k]; f != nil {
			t.Errorf("%s has fields %+v", k, f)
		}
	}
}

// live objects as the API server returns them, for the chart's objects above.
func liveDeployment(image string, replicas int32, managers ...metav1.ManagedFieldsEntry) *liveObject {
	return liveWorkload(&metav1.ObjectMeta{ManagedFields: managers}, &replicas, &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "migrate", Image: "example.com/migrate:1"}},
		Containers:     []corev1.Container{{Name: "app", Image: image}, {Name: "sidecar", Image: "envoy:1.30"}},
	})
}

func liveService(typ corev1.ServiceType, ports ...corev1.ServicePort) *liveObject {
	return &liveObject{serviceType: string(typ), ports: ports}
}

func TestCompareFields(t *testing.T) {
	objs, err := manifestObjects(fieldsManifest)
	if err != nil {
		t.Fatal(err)
	}
	chart := map[string]*chartFields{}
	for _, o := range objs {
		chart[o.Kind+"/"+o.Name] = o.fields
	}
	// Ports as the API server keeps them: protocol defaulted, targetPort defaulted to the
	// port when the chart gives none, node ports assigned.
	http := corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http"), NodePort: 31234}
	metrics := corev1.ServicePort{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9090), NodePort: 30090}
	cm := func(data map[string]string) *liveObject {
		l := &liveObject{data: map[string]valueHash{}}
		for k, v := range data {
			l.data[k] = hashValue(v)
		}
		return l
	}
	autoscaler := metav1.ManagedFieldsEntry{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "scale"}
	for _, tc := range []struct {
		name, object string
		live         *liveObject
		want         []string
	}{
		{"unchanged", "Deployment/web-app", liveDeployment("busybox:1", 2), nil},
		{"pinned to a digest by a webhook", "Deployment/web-app", liveDeployment("busybox:1@sha256:0123abcd", 2), nil},
		{"image and replicas changed", "Deployment/web-app", liveDeployment("busybox:2", 5),
			[]string{"image of container app is busybox:2 (chart: busybox:1)", "replicas 5 (chart: 2)"}},
		{"another image with a digest", "Deployment/web-app", liveDeployment("busybox:2@sha256:0123abcd", 2),
			[]string{"image of container app is busybox:2@sha256:0123abcd (chart: busybox:1)"}},
		{"scaled by an autoscaler outside the release", "Deployment/web-app", liveDeployment("busybox:1", 7, autoscaler), nil},
		{"containers renamed", "Deployment/web-app", liveWorkload(&metav1.ObjectMeta{}, new(int32(2)), &corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "busybox:1"}, {Name: "proxy", Image: "envoy:1.30"}},
		}), []string{"container sidecar is gone (chart: image envoy:1.30)", "init container migrate is gone (chart: image example.com/migrate:1)"}},
		{"init container image", "Deployment/web-app", liveWorkload(&metav1.ObjectMeta{}, new(int32(2)), &corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "migrate", Image: "example.com/migrate:0"}},
			Containers:     []corev1.Container{{Name: "app", Image: "busybox:1"}, {Name: "sidecar", Image: "envoy:1.30"}},
		}), []string{"image of init container migrate is example.com/migrate:0 (chart: example.com/migrate:1)"}},
		{"HPA of the release scales it", "StatefulSet/web-db", liveWorkload(&metav1.ObjectMeta{}, new(int32(9)), &corev1.PodSpec{
			Containers: []corev1.Container{{Name: "db", Image: "postgres:17"}},
		}), nil},
		{"daemon set", "DaemonSet/web-agent", liveWorkload(&metav1.ObjectMeta{}, nil, &corev1.PodSpec{
			Containers: []corev1.Container{{Name: "agent", Image: "agent:3"}},
		}), []string{"image of container agent is agent:3 (chart: agent:2)"}},
		{"service as defaulted", "Service/web-app", liveService(corev1.ServiceTypeNodePort, http, metrics), nil},
		{"service edited", "Service/web-app", liveService(corev1.ServiceTypeLoadBalancer,
			corev1.ServicePort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080), NodePort: 31234},
			corev1.ServicePort{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(9090), NodePort: 30091}),
			[]string{"type LoadBalancer (chart: NodePort)", "port http is 8080 (chart: 80)", "targetPort of port http is 8080 (chart: http)",
				"protocol of port metrics is UDP (chart: TCP)", "nodePort of port metrics is 30091 (chart: 30090)"}},
		{"service port removed", "Service/web-app", liveService(corev1.ServiceTypeNodePort, http), []string{"port metrics is gone (chart: 9090)"}},
		{"no type in the chart: the default is no drift", "Service/web-plain", liveService(corev1.ServiceTypeClusterIP,
			corev1.ServicePort{Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}), nil},
		{"the only unnamed port renumbered", "Service/web-plain", liveService(corev1.ServiceTypeClusterIP,
			corev1.ServicePort{Port: 8081, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}), []string{"port 8080 is 8081 (chart: 8080)"}},
		{"config map with a key added live", "ConfigMap/web-app", cm(map[string]string{"message": "hello", "config.yaml": "a: 1\n", "extra": "x"}), nil},
		{"config map edited", "ConfigMap/web-app", cm(map[string]string{"message": "hello from a laptop"}),
			[]string{"data key config.yaml is missing", "data key message differs from the chart"}},
	} {
		got := compareFields(chart[tc.object], tc.live)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q\nwant %q", tc.name, got, tc.want)
		}
		for _, s := range got {
			if strings.Contains(s, "hello") {
				t.Errorf("%s: a ConfigMap value in %q", tc.name, s)
			}
		}
	}
	if got := compareFields(nil, liveDeployment("x", 1)); got != nil {
		t.Errorf("no fields of the chart: %q", got)
	}
}

// fieldsStack is a fake cluster for CheckObjects: the typed objects, a metadata-only
// client and discovery for the kinds of fieldsManifest.
func fieldsStack(t *testing.T, objects []runtime.Object, partial ...runtime.Object) (*Client, *fake.Clientset, *metadatafake.FakeMetadataClient) {
	t.Helper()
	cs := fake.NewClientset(objects...)
	cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "services", Kind: "Service", Namespaced: true, Verbs: metav1.Verbs{"list"}},
			{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: metav1.Verbs{"list"}},
			{Name: "secrets", Kind: "Secret", Namespaced: true, Verbs: metav1.Verbs{"list"}},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", Kind: "Deployment", Namespaced: true, Verbs: metav1.Verbs{"list"}},
			{Name: "statefulsets", Kind: "StatefulSet", Namespaced: true, Verbs: metav1.Verbs{"list"}},
			{Name: "daemonsets", Kind: "DaemonSet", Namespaced: true, Verbs: metav1.Verbs{"list"}},
		}},
		{GroupVersion: "autoscaling/v2", APIResources: []metav1.APIResource{
			{Name: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler", Namespaced: true, Verbs: metav1.Verbs{"list"}},
		}},
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "clusterroles", Kind: "ClusterRole", Verbs: metav1.Verbs{"list"}},
		}},
	}
	scheme := runtime.NewScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mc := metadatafake.NewSimpleMetadataClient(scheme, partial...)
	c := NewClientForInterface(cs)
	c.meta = mc
	return c, cs, mc
}

func partialMeta(apiVersion, kind, ns, name string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}, ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

// CheckObjects against a fake cluster: the compared kinds read with one full LIST per kind
// and namespace, the rest metadata-only, both shared by later checks of the run; an
// object without namespace in the release namespace; a Secret never read in full.
func TestCheckObjects_Fields(t *testing.T) {
	const ns = "web"
	manifest := fieldsManifest + `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: web-reader
  namespace: web
`
	objs, err := manifestObjects(manifest)
	if err != nil {
		t.Fatal(err)
	}
	rel := &Release{Name: "web", Namespace: ns, Objects: objs}
	image := func(img string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "migrate", Image: "example.com/migrate:1"}},
			Containers:     []corev1.Container{{Name: "app", Image: img}, {Name: "sidecar", Image: "envoy:1.30"}},
		}}
	}
	helmSSA := []metav1.ManagedFieldsEntry{{Manager: "helm", Operation: metav1.ManagedFieldsOperationApply}, {Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate}}
	typed := []runtime.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-app", ManagedFields: helmSSA},
			Spec: appsv1.DeploymentSpec{Replicas: new(int32(5)), Template: image("busybox:2")}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-db"},
			Spec: appsv1.StatefulSetSpec{Replicas: new(int32(4)), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "postgres:17"}}}}}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: "web-agent"},
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent:2"}}}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-app"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http"), NodePort: 31000},
			{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9090), NodePort: 30090}}}},
		// web-plain was deleted.
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-app"}, Data: map[string]string{"message": "edited", "config.yaml": "a: 1\n"}},
		// Another namespace's object of the same name is not the chart's.
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "web-plain"}},
	}
	c, cs, mc := fieldsStack(t, typed,
		partialMeta("v1", "Secret", ns, "web-app"),
		partialMeta("autoscaling/v2", "HorizontalPodAutoscaler", ns, "web-db"),
		partialMeta("example.com/v1", "Widget", ns, "odd"),
		partialMeta("rbac.authorization.k8s.io/v1", "ClusterRole", "", "web-reader"))
	ctx := context.Background()
	d, err := c.CheckObjects(ctx, rel)
	if err != nil {
		t.Fatal(err)
	}
	var missing, changed []string
	for _, o := range d.Missing {
		missing = append(missing, o.String())
	}
	for _, f := range d.Changed {
		changed = append(changed, f.String())
	}
	// Widget's kind is not served: missing.
	if want := []string{"Service web/web-plain", "Widget odd"}; !slices.Equal(missing, want) {
		t.Errorf("missing %q, want %q", missing, want)
	}
	want := []string{
		"Deployment web/web-app: image of container app is busybox:2 (chart: busybox:1); replicas 5 (chart: 2)",
		"ConfigMap web/web-app: data key message differs from the chart",
	}
	if !slices.Equal(changed, want) {
		t.Errorf("changed %q\nwant %q", changed, want)
	}
	if s := d.ChangedSummary(); s != strings.Join(want, ". ") {
		t.Errorf("summary %q", s)
	}
	if len(d.Unchecked) != 0 {
		t.Errorf("unchecked %+v", d.Unchecked)
	}
	var full, meta []string
	for _, a := range cs.Actions() {
		if a.GetVerb() == "list" {
			full = append(full, a.GetResource().Resource+" in "+a.GetNamespace())
		}
	}
	for _, a := range mc.Actions() {
		meta = append(meta, a.GetVerb()+" "+a.GetResource().Resource+" in "+a.GetNamespace())
	}
	slices.Sort(full)
	slices.Sort(meta)
	if want := []string{"configmaps in web", "daemonsets in monitoring", "deployments in web", "services in web", "statefulsets in web"}; !slices.Equal(full, want) {
		t.Errorf("full lists %q, want %q", full, want)
	}
	if want := []string{"list clusterroles in ", "list horizontalpodautoscalers in web", "list secrets in web"}; !slices.Equal(meta, want) {
		t.Errorf("metadata lists %q, want %q", meta, want)
	}

	// The run's next check (another app in the same namespaces) lists nothing again.
	n, m := len(cs.Actions()), len(mc.Actions())
	if _, err := c.CheckObjects(ctx, rel); err != nil || len(cs.Actions()) != n || len(mc.Actions()) != m {
		t.Errorf("a second check listed again: %v, %d typed and %d metadata requests more", err, len(cs.Actions())-n, len(mc.Actions())-m)
	}
	// An install in the namespace forgets its lists (and the cluster-scoped ones).
	c.forgetObjectLists(ns)
	if _, err := c.CheckObjects(ctx, rel); err != nil {
		t.Fatal(err)
	}
	if got, want := len(cs.Actions())-n, 4; got != want { // configmaps, deployments, services, statefulsets in web
		t.Errorf("after forgetting %s: %d full lists, want %d", ns, got, want)
	}
	if got, want := len(mc.Actions())-m, 3; got != want {
		t.Errorf("after forgetting %s: %d metadata lists, want %d", ns, got, want)
	}
}
