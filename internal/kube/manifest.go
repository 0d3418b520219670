package kube

import (
	"errors"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ObjectRef names one object of a release's manifest. Namespace is as the manifest gives
// it: empty for a cluster-scoped object and for a namespaced one helm put into the
// release namespace.
type ObjectRef struct {
	APIVersion, Kind, Namespace, Name string
	// fields are what the drift check compares of the object (drift_fields.go); nil
	// for kinds it does not compare.
	fields *chartFields
}

// String is how a diagnostic names the object, e.g. "Deployment web/web-demo".
func (o ObjectRef) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// maxManifestObjects bounds what a (large, or hostile) release record can make the drift
// check read.
const maxManifestObjects = 5000

// manifestObjects lists the objects of helm's rendered manifest (YAML documents, as
// stored in the release record; hooks are kept apart by helm and are not in it), with
// the few fields the drift check compares (manifestFields; a Secret's data is never
// read). A document without kind or name (an empty one, a comment) is skipped; one that
// is not YAML ends the list with an error, keeping what came before.
func manifestObjects(manifest string) ([]ObjectRef, error) {
	var out []ObjectRef
	var hpas []scaleTarget
	dec := yaml.NewDecoder(strings.NewReader(manifest))
	for len(out) < maxManifestObjects {
		var doc struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name      string `yaml:"name"`
				Namespace string `yaml:"namespace"`
			} `yaml:"metadata"`
			// Kept as nodes: only the compared kinds' are decoded further.
			Spec yaml.Node `yaml:"spec"`
			Data yaml.Node `yaml:"data"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			dropAutoscaledReplicas(out, hpas)
			return out, errors.New("the release's manifest is not valid YAML")
		}
		if doc.Kind == "" || doc.Metadata.Name == "" || doc.APIVersion == "" {
			continue
		}
		fields, hpa := manifestFields(doc.APIVersion, doc.Kind, &doc.Spec, &doc.Data)
		if hpa != nil {
			hpa.namespace = doc.Metadata.Namespace
			hpas = append(hpas, *hpa)
		}
		out = append(out, ObjectRef{APIVersion: doc.APIVersion, Kind: doc.Kind, Namespace: doc.Metadata.Namespace, Name: doc.Metadata.Name, fields: fields})
	}
	dropAutoscaledReplicas(out, hpas)
	return out, nil
}
