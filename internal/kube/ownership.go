package kube

import (
	"maps"

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
