package kube

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func saSubject(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
}

func TestEnsureRoleBinding_ForeignBindingIsRefusedNotReplaced(t *testing.T) {
	ctx := context.Background()
	foreign := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "rb", Namespace: "ns", UID: "theirs"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{saSubject("ns", "someone")},
	}
	cs := fake.NewClientset(foreign)
	c := NewClientForInterface(cs)
	var conflict *OwnershipConflictError
	_, err := c.EnsureRoleBinding(ctx, "ns", "rb", "edit", "sa", testOwner)
	if !errors.As(err, &conflict) || conflict.Owner != "" ||
		err.Error() != "role binding ns/rb already exists and was not created by clusterkit; delete or rename it" {
		t.Fatalf("got %v, want an ownership conflict", err)
	}
	got, _ := cs.RbacV1().RoleBindings("ns").Get(ctx, "rb", metav1.GetOptions{})
	if got.UID != "theirs" || got.RoleRef.Name != "view" || len(got.Subjects) != 1 || got.Subjects[0].Name != "someone" {
		t.Fatalf("the foreign binding was changed: %+v", got)
	}
}

func TestEnsureClusterRoleBinding_SharedWithAnotherClusterkitResourceOnlyWhenIdentical(t *testing.T) {
	ctx := context.Background()
	subject := corev1.ObjectReference{Namespace: "kube-system", Name: "clusterkit"}
	other := "eks_cluster/us-east-1/demo"
	cs := fake.NewClientset()
	c := NewClientForInterface(cs)
	if _, err := c.EnsureClusterRoleBinding(ctx, "clusterkit-admin", "cluster-admin", subject, other); err != nil {
		t.Fatal(err)
	}
	// The integration finds the EKS resource's binding granting exactly this: shared, untouched.
	if got, err := c.EnsureClusterRoleBinding(ctx, "clusterkit-admin", "cluster-admin", subject, testOwner); err != nil || got != Existed {
		t.Fatalf("identical binding of another clusterkit resource: %v %v, want Existed", got, err)
	}
	b, _ := cs.RbacV1().ClusterRoleBindings().Get(ctx, "clusterkit-admin", metav1.GetOptions{})
	if b.Annotations[AnnotationOwner] != other {
		t.Fatalf("owner annotation %q, want it left to %q", b.Annotations[AnnotationOwner], other)
	}
	// With one more subject it grants more than ours would: refused, and left alone.
	b.Subjects = append(b.Subjects, saSubject("default", "extra"))
	if _, err := cs.RbacV1().ClusterRoleBindings().Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var conflict *OwnershipConflictError
	_, err := c.EnsureClusterRoleBinding(ctx, "clusterkit-admin", "cluster-admin", subject, testOwner)
	if !errors.As(err, &conflict) || conflict.Owner != other ||
		err.Error() != `cluster role binding clusterkit-admin belongs to another clusterkit resource ("eks_cluster/us-east-1/demo")` {
		t.Fatalf("got %v, want a conflict naming the other owner", err)
	}
	b, _ = cs.RbacV1().ClusterRoleBindings().Get(ctx, "clusterkit-admin", metav1.GetOptions{})
	if len(b.Subjects) != 2 {
		t.Fatalf("another resource's binding was changed: %+v", b.Subjects)
	}
}

func TestEnsureClusterRoleBinding_ConvergesSubjectsOfOwnBinding(t *testing.T) {
	ctx := context.Background()
	subject := corev1.ObjectReference{Namespace: "kube-system", Name: "clusterkit"}
	cs := fake.NewClientset()
	c := NewClientForInterface(cs)
	if got, err := c.EnsureClusterRoleBinding(ctx, "clusterkit-admin", "cluster-admin", subject, testOwner); err != nil || got != Created {
		t.Fatalf("%v %v", got, err)
	}
	b, _ := cs.RbacV1().ClusterRoleBindings().Get(ctx, "clusterkit-admin", metav1.GetOptions{})
	b.Subjects = []rbacv1.Subject{saSubject("default", "intruder"), saSubject("kube-system", "clusterkit")}
	if _, err := cs.RbacV1().ClusterRoleBindings().Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.EnsureClusterRoleBinding(ctx, "clusterkit-admin", "cluster-admin", subject, testOwner); err != nil || got != Updated {
		t.Fatalf("%v %v, want Updated", got, err)
	}
	b, _ = cs.RbacV1().ClusterRoleBindings().Get(ctx, "clusterkit-admin", metav1.GetOptions{})
	if len(b.Subjects) != 1 || b.Subjects[0] != saSubject("kube-system", "clusterkit") {
		t.Fatalf("subjects %+v, want only ours", b.Subjects)
	}
}

// The owner annotation of a conflicting object is whatever its writer put there.
func TestOwnershipConflictError_QuotesAndBoundsTheForeignOwner(t *testing.T) {
	owner := "x\nError: apply succeeded, ignore this \x1b[31m" + strings.Repeat("A", 500)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "values-content-configuration-app", Namespace: DefaultInstallNamespace,
		Labels: map[string]string{LabelManagedBy: ManagedByValue}, Annotations: map[string]string{AnnotationOwner: owner},
	}}
	msg := conflictWith("config map", cm, appConflictHint).Error()
	if strings.ContainsAny(msg, "\n\x1b") || strings.Contains(msg, strings.Repeat("A", 200)) {
		t.Fatalf("message carries the raw annotation: %q", msg)
	}
	want := `config map clusterkit-managed-apps/values-content-configuration-app belongs to another clusterkit resource ("x\nError: apply succeeded, ignore this \x1b[31m`
	if !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, `"…): two managed apps cannot share a release name in one namespace`) || len([]rune(msg)) > 300 {
		t.Fatalf("message %q", msg)
	}
}
