package kube

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
)

const testOwner = "cluster_integration/kube-system/clusterkit"

func TestEnsureRestrictedNamespace_CreatesOwnedObjects(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	c := NewClientForInterface(cs)
	err := c.EnsureRestrictedNamespace(ctx, testOwner, true, RestrictedNamespace{Name: "team-a", ClusterRole: "edit", Labels: map[string]string{"team": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels["team"] != "a" || ns.Labels[LabelManagedBy] != ManagedByValue || ns.Annotations[AnnotationOwner] != testOwner {
		t.Fatalf("namespace metadata: labels %v annotations %v", ns.Labels, ns.Annotations)
	}
	rb, err := cs.RbacV1().RoleBindings("team-a").Get(ctx, "clusterkit-team-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := rbacv1.Subject{Kind: "ServiceAccount", Name: "team-a-service-account", Namespace: "team-a"}
	if rb.RoleRef.Name != "edit" || len(rb.Subjects) != 1 || rb.Subjects[0] != want {
		t.Fatalf("role binding: %+v %+v", rb.RoleRef, rb.Subjects)
	}
	st, err := c.ReadRestrictedNamespace(ctx, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Exists || !st.ServiceAccount || st.ClusterRole != "edit" || st.Labels["team"] != "a" || len(st.Labels) != 1 {
		t.Fatalf("status: %+v", st)
	}
}

func TestEnsureRoleBinding_RoleChangeRecreates(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	c := NewClientForInterface(cs)
	if _, err := c.EnsureRoleBinding(ctx, "ns", "rb", "edit", "sa", testOwner); err != nil {
		t.Fatal(err)
	}
	got, err := c.EnsureRoleBinding(ctx, "ns", "rb", "edit", "sa", testOwner)
	if err != nil || got != Existed {
		t.Fatalf("same binding again: %v %v, want Existed", got, err)
	}
	got, err = c.EnsureRoleBinding(ctx, "ns", "rb", "view", "sa", testOwner)
	if err != nil || got != Updated {
		t.Fatalf("changed role: %v %v, want Updated", got, err)
	}
	rb, _ := cs.RbacV1().RoleBindings("ns").Get(ctx, "rb", metav1.GetOptions{})
	if rb.RoleRef.Name != "view" {
		t.Fatalf("roleRef %s, want view", rb.RoleRef.Name)
	}
	var deletes int
	for _, a := range cs.Actions() {
		if a.GetVerb() == "delete" && a.GetResource().Resource == "rolebindings" {
			deletes++
		}
	}
	if deletes != 1 {
		t.Fatalf("deletes of rolebindings = %d, want 1 (roleRef is immutable)", deletes)
	}
}

func TestDeletes_LeaveForeignObjects(t *testing.T) {
	ctx := context.Background()
	foreign := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}}
	otherOwner := &corev1.ServiceAccount{ObjectMeta: ownedMeta("clusterkit", "kube-system", "eks_cluster/demo", nil)}
	cs := fake.NewClientset(foreign, otherOwner)
	c := NewClientForInterface(cs)
	deleting, err := c.RemoveRestrictedNamespace(ctx, testOwner, "theirs")
	if err != nil || deleting {
		t.Fatalf("foreign namespace: deleting=%v err=%v", deleting, err)
	}
	if err := c.DeleteIdentity(ctx, IntegrationIdentity{Owner: testOwner, Namespace: "kube-system", Name: "clusterkit", RBAC: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "theirs", metav1.GetOptions{}); err != nil {
		t.Fatalf("foreign namespace deleted: %v", err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("kube-system").Get(ctx, "clusterkit", metav1.GetOptions{}); err != nil {
		t.Fatalf("service account of another owner deleted: %v", err)
	}
}

func TestEnsureNamespace_UpdatesOwnLabelsOnly(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	c := NewClientForInterface(cs)
	if _, err := c.EnsureNamespace(ctx, "ns", map[string]string{"a": "1", "b": "2"}, nil, testOwner); err != nil {
		t.Fatal(err)
	}
	// Someone else adds a label; we then drop "b" and change "a".
	ns, _ := cs.CoreV1().Namespaces().Get(ctx, "ns", metav1.GetOptions{})
	ns.Labels["pod-security.kubernetes.io/enforce"] = "baseline"
	if _, err := cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := c.EnsureNamespace(ctx, "ns", map[string]string{"a": "3"}, []string{"a", "b"}, testOwner)
	if err != nil || got != Updated {
		t.Fatalf("got %v err %v, want Updated", got, err)
	}
	ns, _ = cs.CoreV1().Namespaces().Get(ctx, "ns", metav1.GetOptions{})
	want := map[string]string{"a": "3", "pod-security.kubernetes.io/enforce": "baseline", LabelManagedBy: ManagedByValue}
	if len(ns.Labels) != len(want) {
		t.Fatalf("labels %v, want %v", ns.Labels, want)
	}
	for k, v := range want {
		if ns.Labels[k] != v {
			t.Fatalf("labels %v, want %v", ns.Labels, want)
		}
	}
}

func TestAPIError_NeverCarriesServerText(t *testing.T) {
	serverText := "secret internal detail from http://169.254.169.254/latest/meta-data"
	cause := apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "x", errors.New(serverText))
	err := wrap("create namespace x", cause)
	if strings.Contains(err.Error(), "169.254") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error echoes the server: %q", err)
	}
	want := "create namespace x: the API server answered HTTP 403 (the credential lacks permission for this operation)"
	if err.Error() != want {
		t.Fatalf("got %q\nwant %q", err, want)
	}
	if !errors.Is(err, cause) {
		t.Fatal("the cause must stay reachable for the debug log")
	}
}

func TestValidateCAPEM(t *testing.T) {
	cases := map[string]struct {
		in   string
		want string
	}{
		"empty":     {"", "no CA certificate given"},
		"garbage":   {"hello", "no PEM-encoded certificate found"},
		"key block": {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", `"PRIVATE KEY"`},
		"bad der":   {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a valid X.509 certificate"},
	}
	for name, tc := range cases {
		err := ValidateCAPEM([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", name, err, tc.want)
		}
	}
	if err := ValidateCAPEM(testCAPEM(t)); err != nil {
		t.Fatalf("valid CA refused: %v", err)
	}
}
