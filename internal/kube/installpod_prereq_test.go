package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestEnsureInstallPrerequisites(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	c := NewClientForInterface(cs)
	spec := testSpec()
	spec.SensitiveValues = "password: hunter2\n"
	spec.ExtraFiles = map[string]string{"cluster-issuer.yaml": "kind: ClusterIssuer\n"}
	if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, DefaultInstallNamespace, metav1.GetOptions{})
	if err != nil || !Owned(ns, SharedInstallOwner) {
		t.Fatalf("install namespace: %v %+v", err, ns)
	}
	if sa, err := cs.CoreV1().ServiceAccounts(DefaultInstallNamespace).Get(ctx, "installer-ingress-nginx", metav1.GetOptions{}); err != nil || !Owned(sa, spec.Owner) {
		t.Fatalf("installer service account: %v", err)
	}
	crb, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "clusterkit-installer-clusterkit-managed-apps-ingress-nginx", metav1.GetOptions{})
	if err != nil || crb.RoleRef.Name != "cluster-admin" || crb.Subjects[0].Name != "installer-ingress-nginx" ||
		crb.Subjects[0].Namespace != DefaultInstallNamespace || !Owned(crb, spec.Owner) {
		t.Fatalf("cluster role binding: %v %+v", err, crb)
	}
	cm, err := cs.CoreV1().ConfigMaps(DefaultInstallNamespace).Get(ctx, "values-content-configuration-ingress-nginx", metav1.GetOptions{})
	if err != nil || cm.Data["values.yaml"] != spec.Values || cm.Data["cluster-issuer.yaml"] == "" || cm.Labels[LabelApp] != "ingress-nginx" || !Owned(cm, spec.Owner) {
		t.Fatalf("config map: %v %+v", err, cm)
	}
	for k, v := range cm.Data {
		if v == spec.SensitiveValues {
			t.Fatalf("sensitive values in config map key %s", k)
		}
	}
	sec, err := cs.CoreV1().Secrets(DefaultInstallNamespace).Get(ctx, "values-content-secret-ingress-nginx", metav1.GetOptions{})
	if err != nil || string(sec.Data["secret-values.yaml"]) != spec.SensitiveValues || !Owned(sec, spec.Owner) {
		t.Fatalf("secret: %v", err)
	}

	// Idempotent: a second run changes nothing.
	n := len(cs.Actions())
	if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	// The service account's and the binding's creates come first, answered AlreadyExists.
	for _, a := range cs.Actions()[n:] {
		if v, r := a.GetVerb(), a.GetResource().Resource; v != "get" && (v != "create" || r != "serviceaccounts" && r != "clusterrolebindings") {
			t.Errorf("second run did %s %s", v, r)
		}
	}

	// New values update the ConfigMap; no sensitive values delete the stale Secret;
	// no cluster-admin swaps the ClusterRoleBinding for a RoleBinding to admin in the
	// release namespace (which it creates, since the installer may not).
	spec.Values = "controller:\n  replicaCount: 3\n"
	spec.SensitiveValues = ""
	spec.ClusterAdmin = false
	if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	cm, _ = cs.CoreV1().ConfigMaps(DefaultInstallNamespace).Get(ctx, "values-content-configuration-ingress-nginx", metav1.GetOptions{})
	if cm.Data["values.yaml"] != spec.Values {
		t.Error("values not updated")
	}
	if _, err := cs.CoreV1().Secrets(DefaultInstallNamespace).Get(ctx, "values-content-secret-ingress-nginx", metav1.GetOptions{}); !IsNotFound(err) {
		t.Error("stale secret not deleted")
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "clusterkit-installer-clusterkit-managed-apps-ingress-nginx", metav1.GetOptions{}); !IsNotFound(err) {
		t.Error("cluster-admin binding not removed")
	}
	if ns, err := cs.CoreV1().Namespaces().Get(ctx, "ingress", metav1.GetOptions{}); err != nil || !Owned(ns, spec.Owner) {
		t.Errorf("release namespace: %v", err)
	}
	rb, err := cs.RbacV1().RoleBindings("ingress").Get(ctx, "clusterkit-installer-clusterkit-managed-apps-ingress-nginx", metav1.GetOptions{})
	if err != nil || rb.RoleRef.Name != "admin" || rb.RoleRef.Kind != "ClusterRole" ||
		rb.Subjects[0].Namespace != DefaultInstallNamespace || rb.Subjects[0].Name != "installer-ingress-nginx" {
		t.Fatalf("role binding: %v %+v", err, rb)
	}

	// Another resource's config map is not taken over.
	other := spec
	other.Owner = "someone-else"
	var conflict *OwnershipConflictError
	if err := c.EnsureInstallPrerequisites(ctx, other); !errors.As(err, &conflict) || conflict.Owner != spec.Owner {
		t.Fatalf("got %v, want an ownership conflict", err)
	}

	// Delete: the app's objects go; the shared ones go with the last app.
	second := testSpec()
	second.Name, second.Owner = "cert-manager", "other-app"
	if err := c.EnsureInstallPrerequisites(ctx, second); err != nil {
		t.Fatal(err)
	}
	cs.ClearActions()
	if deleting, err := c.DeleteInstallPrerequisites(ctx, spec); err != nil || deleting {
		t.Fatalf("delete first: %v %v", deleting, err)
	}
	// Whether another app remains needs one ConfigMap, not all of them.
	var lists []int64
	for _, a := range cs.Actions() {
		if l, ok := a.(k8stesting.ListActionImpl); ok && l.Resource.Resource == "configmaps" {
			lists = append(lists, l.ListOptions.Limit)
		}
	}
	if !slices.Equal(lists, []int64{1}) {
		t.Errorf("config map lists by the delete: limits %v, want [1]", lists)
	}
	if _, err := cs.CoreV1().ConfigMaps(DefaultInstallNamespace).Get(ctx, "values-content-configuration-ingress-nginx", metav1.GetOptions{}); !IsNotFound(err) {
		t.Error("config map not deleted")
	}
	if _, err := cs.RbacV1().RoleBindings("ingress").Get(ctx, "clusterkit-installer-clusterkit-managed-apps-ingress-nginx", metav1.GetOptions{}); !IsNotFound(err) {
		t.Error("role binding not deleted")
	}
	if _, err := cs.CoreV1().ServiceAccounts(DefaultInstallNamespace).Get(ctx, "installer-ingress-nginx", metav1.GetOptions{}); !IsNotFound(err) {
		t.Error("the app's installer service account goes with the app")
	}
	if _, err := cs.CoreV1().ServiceAccounts(DefaultInstallNamespace).Get(ctx, "installer-cert-manager", metav1.GetOptions{}); err != nil {
		t.Error("another app's installer service account must stay")
	}
	if deleting, err := c.DeleteInstallPrerequisites(ctx, second); err != nil || !deleting {
		t.Fatalf("delete last: %v %v", deleting, err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(DefaultInstallNamespace).Get(ctx, "installer-cert-manager", metav1.GetOptions{}); !IsNotFound(err) {
		t.Error("the last app's installer service account goes with it")
	}
}

func TestEnsureInstallPrerequisites_ForeignConfigMap(t *testing.T) {
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "values-content-configuration-ingress-nginx", Namespace: DefaultInstallNamespace}}
	c := NewClientForInterface(fake.NewClientset(foreign))
	var conflict *OwnershipConflictError
	err := c.EnsureInstallPrerequisites(context.Background(), testSpec())
	if !errors.As(err, &conflict) || conflict.Owner != "" {
		t.Fatalf("got %v", err)
	}
}

func TestRunInstallPod_DurationUsesClock(t *testing.T) {
	fc := clocktesting.NewFakeClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	cs := fake.NewClientset()
	finishOnCreate(cs, corev1.PodSucceeded, 0, "Completed")
	cs.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		fc.SetTime(fc.Now().Add(42 * time.Second))
		return false, nil, nil
	})
	res, err := NewClientForInterface(cs).WithClock(fc).RunInstallPod(context.Background(), testSpec(), ActionInstall, nil)
	if err != nil || res.Duration != 42*time.Second {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestEnsureInstallPrerequisites_ExternalServiceAccount(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	c := NewClientForInterface(cs)
	spec := testSpec()
	spec.ClusterAdmin = false

	// First with the provider's own installer: its service account and role binding.
	if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	own := "installer-ingress-nginx"
	binding := InstallerBindingName(spec.WithDefaults())
	if _, err := cs.RbacV1().RoleBindings("ingress").Get(ctx, binding, metav1.GetOptions{}); err != nil {
		t.Fatalf("own binding: %v", err)
	}

	// Then the user's own: missing first, which names it.
	spec.ServiceAccount, spec.ExternalServiceAccount = "team-installer", true
	var missing *InstallerServiceAccountMissingError
	if err := c.EnsureInstallPrerequisites(ctx, spec); !errors.As(err, &missing) ||
		missing.Namespace != DefaultInstallNamespace || missing.Name != "team-installer" {
		t.Fatalf("got %v", err)
	}
	users := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "team-installer", Namespace: DefaultInstallNamespace}}
	if _, err := cs.CoreV1().ServiceAccounts(DefaultInstallNamespace).Create(ctx, users, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	// The app's own installer is gone; the user's service account is left as it was.
	if _, err := cs.CoreV1().ServiceAccounts(DefaultInstallNamespace).Get(ctx, own, metav1.GetOptions{}); !IsNotFound(err) {
		t.Errorf("own installer service account still there: %v", err)
	}
	if _, err := cs.RbacV1().RoleBindings("ingress").Get(ctx, binding, metav1.GetOptions{}); !IsNotFound(err) {
		t.Errorf("own installer binding still there: %v", err)
	}
	crbs, _ := cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	rbs, _ := cs.RbacV1().RoleBindings("").List(ctx, metav1.ListOptions{})
	if len(crbs.Items)+len(rbs.Items) != 0 {
		t.Errorf("the provider grants the user's service account nothing: %d cluster and %d namespaced bindings", len(crbs.Items), len(rbs.Items))
	}
	if p := InstallPod(spec.WithDefaults(), ActionInstall); p.Spec.ServiceAccountName != "team-installer" {
		t.Errorf("pod runs as %q", p.Spec.ServiceAccountName)
	}

	// Uninstalling deletes the app's objects, never the user's service account.
	if _, err := c.DeleteInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(DefaultInstallNamespace).Get(ctx, "team-installer", metav1.GetOptions{}); err != nil {
		t.Errorf("the user's service account was deleted: %v", err)
	}
}

func TestInstallSpecValidate_ExternalServiceAccount(t *testing.T) {
	spec := testSpec()
	spec.ExternalServiceAccount, spec.ServiceAccount = true, "team-installer"
	if err := spec.WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), "cluster-admin is granted only to the provider's own installer") {
		t.Errorf("cluster-admin with a user's service account: %v", err)
	}
	spec.ClusterAdmin = false
	if err := spec.WithDefaults().Validate(); err != nil {
		t.Errorf("valid: %v", err)
	}
	spec.ServiceAccount = "installer-ingress-nginx"
	if err := spec.WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), "the provider's own installer for this app") {
		t.Errorf("reserved name: %v", err)
	}
}

// withUIDs makes the fake clientset act as the API server does on UIDs: a create gets a
// fresh one, and a delete whose UID precondition does not match is refused with 409.
func withUIDs(cs *fake.Clientset) *fake.Clientset {
	var next int
	cs.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if m, err := meta.Accessor(a.(k8stesting.CreateAction).GetObject()); err == nil && m.GetUID() == "" {
			next++
			m.SetUID(types.UID(fmt.Sprintf("uid-%d", next)))
		}
		return false, nil, nil
	})
	cs.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteAction)
		pre := d.GetDeleteOptions().Preconditions
		if pre == nil || pre.UID == nil {
			return false, nil, nil
		}
		obj, gerr := cs.Tracker().Get(d.GetResource(), d.GetNamespace(), d.GetName())
		if gerr != nil { // the tracker's own delete answers NotFound
			return false, nil, nil //nolint:nilerr
		}
		if m, err := meta.Accessor(obj); err == nil && m.GetUID() != *pre.UID {
			return true, nil, apierrors.NewConflict(d.GetResource().GroupResource(), d.GetName(), errors.New("precondition failed: UID"))
		}
		return false, nil, nil
	})
	return cs
}

// verbs lists the actions after the first n as "verb resource".
func verbs(cs *fake.Clientset, n int) []string {
	var out []string
	for _, a := range cs.Actions()[n:] {
		out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
	}
	return out
}

// TestInstallRights_RequestsOfANewApp: a new app's install objects are created without a
// read first, and the rights given for its pod are taken back with one DELETE by UID.
func TestInstallRights_RequestsOfANewApp(t *testing.T) {
	ctx := context.Background()
	cs := withUIDs(fake.NewClientset(&corev1.Namespace{ObjectMeta: ownedMeta(DefaultInstallNamespace, "", SharedInstallOwner, nil)}))
	c := NewClientForInterface(cs)
	spec := testSpec().WithDefaults()
	spec.SensitiveValues = "password: hunter2\n"
	if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"get namespaces", "create serviceaccounts", "create clusterrolebindings",
		"list rolebindings", // the other kind of binding, left from a switch of installer_cluster_admin: one list per run
		"create configmaps", "create secrets",
	}
	if got := verbs(cs, 0); !slices.Equal(got, want) {
		t.Errorf("a new app's prerequisites:\n got  %q\n want %q", got, want)
	}
	n := len(cs.Actions())
	if err := c.revokeInstallRights(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got := verbs(cs, n); !slices.Equal(got, []string{"delete clusterrolebindings"}) {
		t.Errorf("revoke after this run's grant: %q, want one delete", got)
	}
	del := cs.Actions()[n].(k8stesting.DeleteAction)
	if pre := del.GetDeleteOptions().Preconditions; pre == nil || pre.UID == nil || *pre.UID == "" {
		t.Errorf("the delete has no UID precondition: %+v", del.GetDeleteOptions())
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, InstallerBindingName(spec), metav1.GetOptions{}); !IsNotFound(err) {
		t.Errorf("binding after revoke: %v, want not found", err)
	}

	// Revoked in this run: the destroy's clean-up that follows asks nothing more.
	n = len(cs.Actions())
	if err := c.revokeInstallRights(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got := verbs(cs, n); len(got) != 0 {
		t.Errorf("revoke after this run's revoke: %q, want no request", got)
	}

	// An existing app (its service account there): the binding, absent between pods, is
	// created first; the values objects are read and compared before any write. The
	// install namespace and the other kind's bindings are known from the first ensure of the run.
	n = len(cs.Actions())
	if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"create serviceaccounts", "create clusterrolebindings",
		"get configmaps", "get secrets",
	}
	if got := verbs(cs, n); !slices.Equal(got, want) {
		t.Errorf("an existing app's prerequisites:\n got  %q\n want %q", got, want)
	}

	// Without this client's memory (another run), a revoke reads both kinds.
	other := NewClientForInterface(cs)
	n = len(cs.Actions())
	if err := other.revokeInstallRights(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got := verbs(cs, n); !slices.Equal(got, []string{"get clusterrolebindings", "delete clusterrolebindings", "get rolebindings"}) {
		t.Errorf("revoke of an earlier run's grant: %q", got)
	}
}

// TestInstallRights_FailedGrantIsStillRevoked: a grant whose ensure failed after the
// binding was made is not covered by an earlier revoke's memory: the next revoke deletes it.
func TestInstallRights_FailedGrantIsStillRevoked(t *testing.T) {
	ctx := context.Background()
	cs := withUIDs(fake.NewClientset())
	c := NewClientForInterface(cs)
	spec := testSpec().WithDefaults()
	if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := c.revokeInstallRights(ctx, spec); err != nil {
		t.Fatal(err)
	}
	// The next ensure (the app now without cluster-admin) makes its RoleBinding, then fails
	// on the other kind's clean-up: the run's first look at cluster role bindings (its
	// list, then its read).
	spec.ClusterAdmin = false
	for _, verb := range []string{"list", "get"} {
		cs.PrependReactor(verb, "clusterrolebindings", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, errors.New("connection reset")
		})
	}
	if err := c.EnsureInstallPrerequisites(ctx, spec); err == nil {
		t.Fatal("ensure succeeded, want the injected error")
	}
	cs.ReactionChain = cs.ReactionChain[2:]
	if _, err := cs.RbacV1().RoleBindings(spec.ReleaseNamespace).Get(ctx, InstallerBindingName(spec), metav1.GetOptions{}); err != nil {
		t.Fatalf("the failed ensure made no binding (%v): the test needs one", err)
	}
	if err := c.revokeInstallRights(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(spec.ReleaseNamespace).Get(ctx, InstallerBindingName(spec), metav1.GetOptions{}); !IsNotFound(err) {
		t.Errorf("binding after the revoke: %v, want not found", err)
	}
}

// TestInstallRights_RevokeOfAReplacedBinding: a binding replaced since the grant (another
// UID) is still found and deleted when it is the app's, and left when it is not.
func TestInstallRights_RevokeOfAReplacedBinding(t *testing.T) {
	ctx := context.Background()
	cs := withUIDs(fake.NewClientset())
	c := NewClientForInterface(cs)
	spec := testSpec().WithDefaults()
	if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	name := InstallerBindingName(spec)
	crb, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	crb.UID = "replaced"
	if _, err := cs.RbacV1().ClusterRoleBindings().Update(ctx, crb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	n := len(cs.Actions())
	if err := c.revokeInstallRights(ctx, spec); err != nil {
		t.Fatal(err)
	}
	want := []string{"delete clusterrolebindings", "get clusterrolebindings", "delete clusterrolebindings", "get rolebindings"}
	if got := verbs(cs, n); !slices.Equal(got, want) {
		t.Errorf("revoke of a replaced binding: %q, want %q", got, want)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{}); !IsNotFound(err) {
		t.Errorf("the app's replaced binding after revoke: %v, want not found", err)
	}

	// Another owner's binding under the name (made after the grant) is left alone.
	if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	crb, err = cs.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	crb.UID, crb.Annotations[AnnotationOwner] = "foreign", "someone-else"
	if _, err := cs.RbacV1().ClusterRoleBindings().Update(ctx, crb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.revokeInstallRights(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{}); err != nil {
		t.Errorf("another owner's binding after revoke: %v, want it kept", err)
	}
}
