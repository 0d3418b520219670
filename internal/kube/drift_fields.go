package kube

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"go.yaml.in/yaml/v3"
)

// Field drift: a few fields a chart sets and people change by hand (kubectl edit, scale,
// set image), compared between the release's manifest and the live object. Only what the
// manifest states is compared, and only fields the API server does not fill in or
// rewrite itself, so an unchanged object never reads as drift:
//
//   - Deployment, StatefulSet, DaemonSet (apps/v1): the image of each container and init
//     container the manifest lists, by container name (a live image that is the chart's
//     with a digest added, as image-policy webhooks pin them, is the same image);
//     spec.replicas when the manifest sets it, unless an HPA of the same release targets
//     the object or an autoscaler drives it (the controller manager owns its scale).
//   - Service (v1): spec.type when the manifest sets it; each port the manifest lists (by
//     name, or the only port), its port number and, when the manifest states them, its
//     protocol, targetPort and nodePort (the API server defaults the first two and
//     assigns the last).
//   - ConfigMap (v1): each data key the manifest sets, by a hash of its value; keys added
//     live are not the chart's and are ignored. Values are never kept or shown.
//
// Secrets are not compared at all: neither their values nor their hashes are read.
// These kinds are read with one full LIST per kind and namespace (instead of the
// metadata-only LIST of the other kinds), shared by the run like the metadata lists.

// FieldDrift is one object whose fields differ from the chart's.
type FieldDrift struct {
	// Object is the object, its namespace filled in (the release's when the manifest
	// gives none).
	Object ObjectRef
	// Changes say what differs, e.g. "image of container app is busybox:2 (chart:
	// busybox:1)"; never a ConfigMap's value.
	Changes []string
}

// String names the object and its changes for a diagnostic.
func (f FieldDrift) String() string { return f.Object.String() + ": " + strings.Join(f.Changes, "; ") }

// chartFields are the fields of one manifest object that the drift check compares.
type chartFields struct {
	replicas    *int32
	containers  []chartContainer
	serviceType string
	ports       []chartPort
	data        map[string]valueHash // ConfigMap data, by key
}

type chartContainer struct {
	name, image string
	init        bool
}

type chartPort struct {
	name       string
	port       int32
	protocol   string // "" when the manifest does not say
	targetPort string // "" when the manifest does not say
	nodePort   int32  // 0 when the manifest does not say
}

// valueHash is a ConfigMap value's SHA-256, cut short: a comparison, never the value.
type valueHash [16]byte

func hashValue(v string) valueHash {
	s := sha256.Sum256([]byte(v))
	return valueHash(s[:16])
}

// fieldKind: the kinds whose fields are compared (and so read with a full LIST), by
// group and resource, at the version the typed lists read.
func fieldKind(gvr schema.GroupVersionResource) bool {
	switch gvr.GroupResource() {
	case schema.GroupResource{Group: "apps", Resource: "deployments"},
		schema.GroupResource{Group: "apps", Resource: "statefulsets"},
		schema.GroupResource{Group: "apps", Resource: "daemonsets"},
		schema.GroupResource{Resource: "services"},
		schema.GroupResource{Resource: "configmaps"}:
		return gvr.Version == "v1"
	}
	return false
}

// scaleTarget is what an HPA of the manifest scales.
type scaleTarget struct{ kind, namespace, name string }

// manifestFields reads the compared fields of one manifest document (spec and data as
// YAML nodes; apiVersion and kind decide what is read). A field of an unexpected shape
// is left out: the apply would have failed on it anyway. HPAs return their target.
func manifestFields(apiVersion, kind string, spec, data *yaml.Node) (*chartFields, *scaleTarget) {
	gv, _ := schema.ParseGroupVersion(apiVersion)
	switch {
	case gv.Group == "apps" && gv.Version == "v1" && (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet"):
		var s struct {
			Replicas yaml.Node `yaml:"replicas"`
			Template struct {
				Spec struct {
					Containers     []yaml.Node `yaml:"containers"`
					InitContainers []yaml.Node `yaml:"initContainers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		}
		if spec.Kind == 0 || spec.Decode(&s) != nil {
			return nil, nil
		}
		f := &chartFields{}
		if s.Replicas.Kind == yaml.ScalarNode && kind != "DaemonSet" {
			var r int32
			if s.Replicas.Decode(&r) == nil {
				f.replicas = &r
			}
		}
		for i, list := range [][]yaml.Node{s.Template.Spec.Containers, s.Template.Spec.InitContainers} {
			for _, n := range list {
				var c struct{ Name, Image string }
				if n.Decode(&c) == nil && c.Name != "" && c.Image != "" {
					f.containers = append(f.containers, chartContainer{name: c.Name, image: c.Image, init: i == 1})
				}
			}
		}
		return f, nil
	case gv.Group == "" && gv.Version == "v1" && kind == "Service":
		var s struct {
			Type  yaml.Node   `yaml:"type"`
			Ports []yaml.Node `yaml:"ports"`
		}
		if spec.Kind == 0 || spec.Decode(&s) != nil {
			return nil, nil
		}
		f := &chartFields{}
		if s.Type.Kind == yaml.ScalarNode {
			f.serviceType = s.Type.Value
		}
		for _, n := range s.Ports {
			var p struct {
				Name       string    `yaml:"name"`
				Port       int32     `yaml:"port"`
				Protocol   string    `yaml:"protocol"`
				TargetPort yaml.Node `yaml:"targetPort"`
				NodePort   int32     `yaml:"nodePort"`
			}
			if n.Decode(&p) != nil || p.Port == 0 {
				continue
			}
			cp := chartPort{name: p.Name, port: p.Port, protocol: p.Protocol, nodePort: p.NodePort}
			if p.TargetPort.Kind == yaml.ScalarNode {
				cp.targetPort = p.TargetPort.Value
			}
			f.ports = append(f.ports, cp)
		}
		return f, nil
	case gv.Group == "" && gv.Version == "v1" && kind == "ConfigMap":
		var d map[string]string
		if data.Kind == 0 || data.Decode(&d) != nil || len(d) == 0 {
			return nil, nil
		}
		f := &chartFields{data: make(map[string]valueHash, len(d))}
		for k, v := range d {
			f.data[k] = hashValue(v)
		}
		return f, nil
	case gv.Group == "autoscaling" && kind == "HorizontalPodAutoscaler":
		var s struct {
			ScaleTargetRef struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Name       string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
		}
		if spec.Kind == 0 || spec.Decode(&s) != nil || s.ScaleTargetRef.Name == "" {
			return nil, nil
		}
		return nil, &scaleTarget{kind: s.ScaleTargetRef.Kind, name: s.ScaleTargetRef.Name}
	}
	return nil, nil
}

// dropAutoscaledReplicas: an HPA of the release owns its target's replica count.
func dropAutoscaledReplicas(objs []ObjectRef, hpas []scaleTarget) {
	for _, t := range hpas {
		for i := range objs {
			o := &objs[i]
			if o.fields != nil && o.fields.replicas != nil && o.Kind == t.kind && o.Name == t.name && o.Namespace == t.namespace {
				f := *o.fields
				f.replicas = nil
				o.fields = &f
			}
		}
	}
}

// liveObject is what the drift check keeps of one listed object of a field kind.
type liveObject struct {
	replicas    *int32
	containers  map[string]string // image by container name
	inits       map[string]string
	serviceType string
	ports       []corev1.ServicePort
	data        map[string]valueHash
	// autoscaled: the controller manager sets its replica count through the scale
	// subresource (an HPA).
	autoscaled bool
}

func liveMeta(m *metav1.ObjectMeta) liveObject {
	var l liveObject
	for _, mf := range m.ManagedFields {
		if mf.Manager == "kube-controller-manager" && mf.Subresource == "scale" {
			l.autoscaled = true
		}
	}
	return l
}

func liveWorkload(m *metav1.ObjectMeta, replicas *int32, pod *corev1.PodSpec) *liveObject {
	l := liveMeta(m)
	l.replicas = replicas
	l.containers, l.inits = map[string]string{}, map[string]string{}
	for _, c := range pod.Containers {
		l.containers[c.Name] = c.Image
	}
	for _, c := range pod.InitContainers {
		l.inits[c.Name] = c.Image
	}
	return &l
}

// listLiveObjects is one full LIST of a field kind in ns, kept as liveObjects by name.
func (c *Client) listLiveObjects(ctx context.Context, gvr schema.GroupVersionResource, ns string) (map[string]*liveObject, error) {
	op := "list " + gvr.Resource
	if ns != "" {
		op += " in " + ns
	}
	var out map[string]*liveObject
	err := c.retryCall(ctx, op, readAttempts, nil, func() error {
		opts := metav1.ListOptions{}
		out = map[string]*liveObject{}
		switch gvr.Resource {
		case "deployments":
			l, err := c.cs.AppsV1().Deployments(ns).List(ctx, opts)
			if err != nil {
				return err
			}
			for i := range l.Items {
				o := &l.Items[i]
				out[o.Name] = liveWorkload(&o.ObjectMeta, o.Spec.Replicas, &o.Spec.Template.Spec)
			}
		case "statefulsets":
			l, err := c.cs.AppsV1().StatefulSets(ns).List(ctx, opts)
			if err != nil {
				return err
			}
			for i := range l.Items {
				o := &l.Items[i]
				out[o.Name] = liveWorkload(&o.ObjectMeta, o.Spec.Replicas, &o.Spec.Template.Spec)
			}
		case "daemonsets":
			l, err := c.cs.AppsV1().DaemonSets(ns).List(ctx, opts)
			if err != nil {
				return err
			}
			for i := range l.Items {
				o := &l.Items[i]
				out[o.Name] = liveWorkload(&o.ObjectMeta, nil, &o.Spec.Template.Spec)
			}
		case "services":
			l, err := c.cs.CoreV1().Services(ns).List(ctx, opts)
			if err != nil {
				return err
			}
			for i := range l.Items {
				o := &l.Items[i]
				lo := liveMeta(&o.ObjectMeta)
				lo.serviceType, lo.ports = string(o.Spec.Type), o.Spec.Ports
				out[o.Name] = &lo
			}
		case "configmaps":
			l, err := c.cs.CoreV1().ConfigMaps(ns).List(ctx, opts)
			if err != nil {
				return err
			}
			for i := range l.Items {
				o := &l.Items[i]
				lo := liveMeta(&o.ObjectMeta)
				lo.data = make(map[string]valueHash, len(o.Data))
				for k, v := range o.Data {
					lo.data[k] = hashValue(v)
				}
				out[o.Name] = &lo
			}
		}
		return nil
	})
	if IsNotFound(err) { // the namespace is gone: nothing of it exists
		return map[string]*liveObject{}, nil
	}
	return out, wrap(op, err)
}

// liveObjects is the run's full list of a field kind in ns, made on first use.
func (c *Client) liveObjects(ctx context.Context, gvr schema.GroupVersionResource, ns string) (map[string]*liveObject, error) {
	l, err := c.kinds.fullLists().get(ctx, c.clock, gvr.String()+"\x00"+ns, func() (map[string]*liveObject, error) {
		return c.listLiveObjects(ctx, gvr, ns)
	})
	if err != nil {
		return nil, err
	}
	return l.val, nil
}

// fullLists are the run's full lists of the field kinds (made on first use; kindMapper is
// the per-run state the client's copies share).
func (k *kindMapper) fullLists() *runLists[map[string]*liveObject] {
	k.fullOnce.Do(func() { k.full = newRunLists[map[string]*liveObject](ReleaseCacheMaxAge) })
	return k.full
}

// kindMapperFull is kindMapper's share of the field check (embedded there).
type kindMapperFull struct {
	fullOnce sync.Once
	full     *runLists[map[string]*liveObject]
}

// compareFields says what of want differs on live, in a fixed order.
func compareFields(want *chartFields, live *liveObject) []string {
	if want == nil || live == nil {
		return nil
	}
	var out []string
	for _, c := range want.containers {
		images, what := live.containers, "container"
		if c.init {
			images, what = live.inits, "init container"
		}
		got, ok := images[c.name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s %s is gone (chart: image %s)", what, c.name, c.image))
		case !sameImage(c.image, got):
			out = append(out, fmt.Sprintf("image of %s %s is %s (chart: %s)", what, c.name, got, c.image))
		}
	}
	if want.replicas != nil && !live.autoscaled {
		switch {
		case live.replicas == nil:
			out = append(out, fmt.Sprintf("replicas unset (chart: %d)", *want.replicas))
		case *live.replicas != *want.replicas:
			out = append(out, fmt.Sprintf("replicas %d (chart: %d)", *live.replicas, *want.replicas))
		}
	}
	if want.serviceType != "" && live.serviceType != want.serviceType {
		out = append(out, fmt.Sprintf("type %s (chart: %s)", live.serviceType, want.serviceType))
	}
	for _, p := range want.ports {
		out = append(out, comparePort(p, want.ports, live.ports)...)
	}
	for _, k := range slices.Sorted(maps.Keys(want.data)) {
		got, ok := live.data[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("data key %s is missing", k))
		case got != want.data[k]:
			out = append(out, fmt.Sprintf("data key %s differs from the chart", k))
		}
	}
	return out
}

// sameImage: equal, or live is the chart's image pinned to a digest (name:tag@sha256:...
// or name@sha256:... for a chart's name without tag).
func sameImage(chart, live string) bool {
	if chart == live {
		return true
	}
	base, _, ok := strings.Cut(live, "@")
	return ok && !strings.Contains(chart, "@") && base == chart
}

// comparePort compares one of the manifest's Service ports with the live ports: found by
// name, or, for the manifest's only port unnamed, the live Service's only port (else the
// one with its number).
func comparePort(p chartPort, all []chartPort, live []corev1.ServicePort) []string {
	label := p.name
	var got *corev1.ServicePort
	switch {
	case p.name != "":
		for i := range live {
			if live[i].Name == p.name {
				got = &live[i]
			}
		}
	case len(all) == 1 && len(live) == 1:
		got, label = &live[0], strconv.Itoa(int(p.port))
	default:
		label = strconv.Itoa(int(p.port))
		for i := range live {
			if live[i].Port == p.port && (p.protocol == "" || string(live[i].Protocol) == p.protocol) {
				got = &live[i]
			}
		}
	}
	if got == nil {
		return []string{fmt.Sprintf("port %s is gone (chart: %d)", label, p.port)}
	}
	var out []string
	if got.Port != p.port {
		out = append(out, fmt.Sprintf("port %s is %d (chart: %d)", label, got.Port, p.port))
	}
	if p.protocol != "" && string(got.Protocol) != p.protocol {
		out = append(out, fmt.Sprintf("protocol of port %s is %s (chart: %s)", label, got.Protocol, p.protocol))
	}
	if p.targetPort != "" && got.TargetPort.String() != p.targetPort {
		out = append(out, fmt.Sprintf("targetPort of port %s is %s (chart: %s)", label, got.TargetPort.String(), p.targetPort))
	}
	if p.nodePort != 0 && got.NodePort != p.nodePort {
		out = append(out, fmt.Sprintf("nodePort of port %s is %d (chart: %d)", label, got.NodePort, p.nodePort))
	}
	return out
}
