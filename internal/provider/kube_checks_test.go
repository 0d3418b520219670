package provider

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// Checks that look at the cluster itself, not at Terraform state.

func expectOwned(kind, name string, labels, annotations map[string]string, owner string) error {
	if labels[kube.LabelManagedBy] != kube.ManagedByValue || annotations[kube.AnnotationOwner] != owner {
		return fmt.Errorf("%s %s: want label %s=%s and owner %q, got labels %v annotations %v",
			kind, name, kube.LabelManagedBy, kube.ManagedByValue, owner, labels, annotations)
	}
	return nil
}

func expectServiceAccount(cs kubernetes.Interface, ns, name, owner string) error {
	sa, err := cs.CoreV1().ServiceAccounts(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("service account %s/%s: %w", ns, name, err)
	}
	return expectOwned("service account", ns+"/"+name, sa.Labels, sa.Annotations, owner)
}

func expectClusterRoleBinding(cs kubernetes.Interface, name, role, saNamespace, saName string) error {
	b, err := cs.RbacV1().ClusterRoleBindings().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cluster role binding %s: %w", name, err)
	}
	if b.RoleRef.Name != role || len(b.Subjects) != 1 || b.Subjects[0].Name != saName || b.Subjects[0].Namespace != saNamespace {
		return fmt.Errorf("cluster role binding %s: roleRef %s subjects %v, want %s -> %s/%s", name, b.RoleRef.Name, b.Subjects, role, saNamespace, saName)
	}
	return nil
}

func expectRestrictedNamespace(cs kubernetes.Interface, name, role, owner string, labels map[string]string) error {
	ctx := context.Background()
	ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	if err := expectOwned("namespace", name, ns.Labels, ns.Annotations, owner); err != nil {
		return err
	}
	for k, v := range labels {
		if ns.Labels[k] != v {
			return fmt.Errorf("namespace %s: label %s=%q, want %q (labels %v)", name, k, ns.Labels[k], v, ns.Labels)
		}
	}
	if err := expectServiceAccount(cs, name, name+"-service-account", owner); err != nil {
		return err
	}
	b, err := cs.RbacV1().RoleBindings(name).Get(ctx, "clusterkit-"+name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("role binding %s/clusterkit-%s: %w", name, name, err)
	}
	if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != role {
		return fmt.Errorf("role binding in %s: roleRef %s/%s, want ClusterRole/%s", name, b.RoleRef.Kind, b.RoleRef.Name, role)
	}
	if len(b.Subjects) != 1 || b.Subjects[0].Name != name+"-service-account" || b.Subjects[0].Namespace != name {
		return fmt.Errorf("role binding in %s: subjects %v", name, b.Subjects)
	}
	return nil
}

func roleBindingUID(cs kubernetes.Interface, ns string) (string, error) {
	b, err := cs.RbacV1().RoleBindings(ns).Get(context.Background(), "clusterkit-"+ns, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return string(b.UID), nil
}

// expectGone accepts a namespace that no longer exists (the resource waits for that).
func expectGone(cs kubernetes.Interface, ns string) error {
	_, err := cs.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err == nil {
		return fmt.Errorf("namespace %s still exists", ns)
	}
	if !kube.IsNotFound(err) {
		return err
	}
	return nil
}

// expectDeleting: the namespace is gone or being deleted. A managed app's destroy starts
// deleting the shared install namespace after the last app and does not wait for its
// finalization (the next install waits it out).
func expectDeleting(cs kubernetes.Interface, ns string) error {
	got, err := cs.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if kube.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if got.DeletionTimestamp == nil {
		return fmt.Errorf("namespace %s still exists and is not being deleted", ns)
	}
	return nil
}

func waitGone(t testing.TB, cs kubernetes.Interface, ns string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		return expectGone(cs, ns) == nil, nil
	})
	if err != nil {
		t.Fatalf("namespace %s was not deleted: %v", ns, err)
	}
}

// expectNothingOwned checks that no namespace, service account or binding with the
// owner annotation is left, and that the listed namespaces are gone.
func expectNothingOwned(cs kubernetes.Interface, owner string, namespaces ...string) error {
	ctx := context.Background()
	for _, ns := range namespaces {
		if err := expectGone(cs, ns); err != nil {
			return err
		}
	}
	sel := metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=" + kube.ManagedByValue}
	var left []string
	nss, err := cs.CoreV1().Namespaces().List(ctx, sel)
	if err != nil {
		return err
	}
	for _, o := range nss.Items {
		if o.Annotations[kube.AnnotationOwner] == owner && o.DeletionTimestamp == nil {
			left = append(left, "namespace/"+o.Name)
		}
	}
	more, err := ownedIdentities(ctx, cs, owner)
	if err != nil {
		return err
	}
	if left = append(left, more...); len(left) > 0 {
		return fmt.Errorf("objects owned by %s left after destroy: %v", owner, left)
	}
	return nil
}

// ownedIdentities names the service accounts and cluster role bindings, anywhere, that
// clusterkit made for owner.
func ownedIdentities(ctx context.Context, cs kubernetes.Interface, owner string) ([]string, error) {
	sel := metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=" + kube.ManagedByValue}
	var left []string
	sas, err := cs.CoreV1().ServiceAccounts("").List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range sas.Items {
		if o.Annotations[kube.AnnotationOwner] == owner {
			left = append(left, "serviceaccount/"+o.Namespace+"/"+o.Name)
		}
	}
	crbs, err := cs.RbacV1().ClusterRoleBindings().List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range crbs.Items {
		if o.Annotations[kube.AnnotationOwner] == owner {
			left = append(left, "clusterrolebinding/"+o.Name)
		}
	}
	return left, nil
}
