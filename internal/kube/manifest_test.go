package kube

import (
	"slices"
	"testing"
)

func TestManifestObjects(t *testing.T) {
	manifest := `---
# Source: demo/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-demo
  labels: {app: demo}
data:
  message: "---"
---
# Source: demo/templates/empty.yaml
---
# Source: demo/templates/role.yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: web-demo-reader
rules: []
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-demo
  namespace: other
spec:
  replicas: 1
`
	got, err := manifestObjects(manifest)
	if err != nil {
		t.Fatal(err)
	}
	want := []ObjectRef{
		{APIVersion: "v1", Kind: "ConfigMap", Name: "web-demo"},
		{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "web-demo-reader"},
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "other", Name: "web-demo"},
	}
	if !slices.Equal(refsOnly(got), want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if got[1].fields != nil || got[2].fields == nil || *got[2].fields.replicas != 1 {
		t.Errorf("fields: ClusterRole %+v, Deployment %+v", got[1].fields, got[2].fields)
	}
	if s := want[2].String(); s != "Deployment other/web-demo" {
		t.Errorf("String() = %q", s)
	}

	got, err = manifestObjects("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nkind: [unclosed\n")
	if err == nil || err.Error() != "the release's manifest is not valid YAML" || len(got) != 1 || got[0].Name != "a" {
		t.Errorf("bad YAML: %+v %v", got, err)
	}
	if got, err := manifestObjects(""); err != nil || len(got) != 0 {
		t.Errorf("empty manifest: %+v %v", got, err)
	}
}

// refsOnly drops what the drift check compares, leaving the objects' names.
func refsOnly(objs []ObjectRef) []ObjectRef {
	out := make([]ObjectRef, len(objs))
	for i, o := range objs {
		out[i] = ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
	}
	return out
}

func TestRemovedByDesign(t *testing.T) {
	for _, tc := range []struct {
		o    ObjectRef
		want bool
	}{
		{ObjectRef{APIVersion: "batch/v1", Kind: "Job"}, true},
		{ObjectRef{APIVersion: "v1", Kind: "Pod"}, true},
		{ObjectRef{APIVersion: "batch/v1", Kind: "CronJob"}, false},
		{ObjectRef{APIVersion: "example.com/v1", Kind: "Job"}, false},
		{ObjectRef{APIVersion: "apps/v1", Kind: "Deployment"}, false},
	} {
		if got := removedByDesign(tc.o); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.o, got, tc.want)
		}
	}
}
