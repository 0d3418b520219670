package kube

import (
	"maps"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// LabelManagedBy marks every object clusterkit creates.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is LabelManagedBy's value.
	ManagedByValue = "clusterkit"
	// AnnotationOwner names the resource that created an object. Only that resource
	// deletes it; another resource finding it adopts it and leaves it alone on destroy.
	AnnotationOwner = "clusterkit.dev/owner"
)

// Owned reports whether obj was created by owner.
func Owned(obj metav1.Object, owner string) bool {
	return obj.GetLabels()[LabelManagedBy] == ManagedByValue && obj.GetAnnotations()[AnnotationOwner] == owner
}

func ownedMeta(name, namespace, owner string, extraLabels map[string]string) metav1.ObjectMeta {
	labels := maps.Clone(extraLabels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedByValue
	return metav1.ObjectMeta{
		Name:        name,
		Namespace:   namespace,
		Labels:      labels,
		Annotations: map[string]string{AnnotationOwner: owner},
	}
}

// madeByClusterkit: some clusterkit resource created obj (perhaps another one).
func madeByClusterkit(obj metav1.Object) bool {
	return obj.GetLabels()[LabelManagedBy] == ManagedByValue
}

// OwnershipConflictError: an object a resource needs exists but belongs to someone else
// (another resource, or nothing of clusterkit's), so it is neither adopted nor changed.
type OwnershipConflictError struct {
	Kind, Namespace, Name string
	// Owner is the other owner's annotation as the cluster holds it ("" when clusterkit
	// did not make the object). Anyone who can write the object chose it, so Error quotes
	// and bounds it.
	Owner string
	// Hint says what usually causes the conflict, in the caller's terms; optional.
	Hint string
}

func (e *OwnershipConflictError) Error() string {
	what := e.Kind + " " + e.Name
	if e.Namespace != "" {
		what = e.Kind + " " + e.Namespace + "/" + e.Name
	}
	var msg string
	if e.Owner == "" {
		msg = what + " already exists and was not created by clusterkit; delete or rename it"
	} else {
		msg = what + " belongs to another clusterkit resource (" + quoteBounded(e.Owner, maxQuotedOwner) + ")"
	}
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

// maxQuotedOwner bounds a foreign owner annotation in messages; ours are
// "<resource type>/<namespace>/<name>", well under it.
const maxQuotedOwner = 120

// quoteBounded shows text that came from the cluster: at most max runes, quoted with
// control characters escaped, so it can neither forge lines nor flood a diagnostic.
func quoteBounded(s string, max int) string {
	if r := []rune(s); len(r) > max {
		return strconv.Quote(string(r[:max])) + "…"
	}
	return strconv.Quote(s)
}

// conflictWith describes obj, found where a resource of owner's wanted its own.
func conflictWith(kind string, obj metav1.Object, hint string) *OwnershipConflictError {
	e := &OwnershipConflictError{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Hint: hint}
	if madeByClusterkit(obj) {
		e.Owner = obj.GetAnnotations()[AnnotationOwner]
	}
	return e
}
