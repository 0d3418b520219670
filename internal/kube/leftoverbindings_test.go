package kube

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// leftoverBinding is an installer binding an earlier run could not revoke: a RoleBinding
// in namespace, or a ClusterRoleBinding when namespace is "".
func leftoverBinding(spec InstallSpec, namespace, owner string) runtime.Object {
	meta := ownedMeta(InstallerBindingName(spec), namespace, owner, map[string]string{LabelApp: spec.Name})
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"}
	if namespace == "" {
		ref.Name = "cluster-admin"
		return &rbacv1.ClusterRoleBinding{ObjectMeta: meta, RoleRef: ref}
	}
	return &rbacv1.RoleBinding{ObjectMeta: meta, RoleRef: ref}
}

func installNamespace() runtime.Object {
	return &corev1.Namespace{ObjectMeta: ownedMeta(DefaultInstallNamespace, "", SharedInstallOwner, nil)}
}

// TestInstallRights_LeftoverOfTheOtherKindIsDeleted: an app that switched kinds of rights
// loses the binding of the old kind an earlier run left, found through the run's one list.
func TestInstallRights_LeftoverOfTheOtherKindIsDeleted(t *testing.T) {
	ctx := context.Background()
	admin := testSpec().WithDefaults() // installer_cluster_admin: a ClusterRoleBinding now
	plain := testSpec()
	plain.ClusterAdmin = false
	plain = plain.WithDefaults()
	for _, tc := range []struct {
		name          string
		spec          InstallSpec
		leftoverNS    string // where the old kind lives ("" = cluster scope)
		resource      string
		wantRequested []string
	}{
		{"cluster-admin now, a RoleBinding left", admin, admin.ReleaseNamespace, "rolebindings",
			[]string{"list rolebindings", "get rolebindings", "delete rolebindings"}},
		{"admin in its namespace now, a ClusterRoleBinding left", plain, "", "clusterrolebindings",
			[]string{"list clusterrolebindings", "get clusterrolebindings", "delete clusterrolebindings"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := withUIDs(fake.NewClientset(installNamespace(), leftoverBinding(tc.spec, tc.leftoverNS, tc.spec.Owner)))
			c := NewClientForInterface(cs)
			if err := c.EnsureInstallPrerequisites(ctx, tc.spec); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range verbs(cs, 0) {
				if slices.Contains([]string{"list " + tc.resource, "get " + tc.resource, "delete " + tc.resource}, v) {
					got = append(got, v)
				}
			}
			if !slices.Equal(got, tc.wantRequested) {
				t.Errorf("requests for the old kind: %q, want %q", got, tc.wantRequested)
			}
			if _, err := bindingOfKind(ctx, cs, tc.leftoverNS, InstallerBindingName(tc.spec)); !apierrors.IsNotFound(err) {
				t.Errorf("the leftover binding after the grant: %v, want not found", err)
			}
		})
	}
}

// TestInstallRights_OtherKindListedOncePerRun: the next app of the run checks for its
// leftover in the same list, however long the run takes; only a grant of that kind makes
// the run list again.
func TestInstallRights_OtherKindListedOncePerRun(t *testing.T) {
	ctx := context.Background()
	cs := withUIDs(fake.NewClientset(installNamespace()))
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	c := NewClientForInterface(cs).WithClock(clk)
	lists := func() int {
		n := 0
		for _, v := range verbs(cs, 0) {
			if v == "list clusterrolebindings" {
				n++
			}
		}
		return n
	}
	for i, name := range []string{"a", "b", "c"} {
		spec := testSpec()
		spec.Name, spec.ClusterAdmin, spec.Owner = name, false, "clusterkit_managed_app."+name
		if err := c.EnsureInstallPrerequisites(ctx, spec.WithDefaults()); err != nil {
			t.Fatal(err)
		}
		if got := lists(); got != 1 {
			t.Fatalf("after app %d: %d lists of cluster role bindings, want 1", i+1, got)
		}
		clk.Step(ReleaseCacheMaxAge) // a release list would be made again by now
	}
	// A cluster-admin app's grant changes the cluster-scoped list: the next check lists again.
	admin := testSpec()
	admin.Name, admin.Owner = "d", "clusterkit_managed_app.d"
	if err := c.EnsureInstallPrerequisites(ctx, admin.WithDefaults()); err != nil {
		t.Fatal(err)
	}
	plain := testSpec()
	plain.Name, plain.ClusterAdmin, plain.Owner = "e", false, "clusterkit_managed_app.e"
	if err := c.EnsureInstallPrerequisites(ctx, plain.WithDefaults()); err != nil {
		t.Fatal(err)
	}
	if got := lists(); got != 2 {
		t.Errorf("after a cluster-admin grant: %d lists, want 2", got)
	}
}

// TestInstallRights_LeftoverCheckWithoutListRights: a token that may read bindings but not
// list them still has the leftover found and deleted, by a read of the one binding; and a
// binding of the name that another owner made is kept.
func TestInstallRights_LeftoverCheckWithoutListRights(t *testing.T) {
	ctx := context.Background()
	spec := testSpec().WithDefaults()
	forbidden := func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: rbacv1.GroupName, Resource: "rolebindings"}, "", nil)
	}

	cs := withUIDs(fake.NewClientset(installNamespace(), leftoverBinding(spec, spec.ReleaseNamespace, spec.Owner)))
	cs.PrependReactor("list", "rolebindings", forbidden)
	if err := NewClientForInterface(cs).EnsureInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := bindingOfKind(ctx, cs, spec.ReleaseNamespace, InstallerBindingName(spec)); !apierrors.IsNotFound(err) {
		t.Errorf("leftover after a grant without list rights: %v, want not found", err)
	}

	cs = withUIDs(fake.NewClientset(installNamespace(), leftoverBinding(spec, spec.ReleaseNamespace, "someone-else")))
	if err := NewClientForInterface(cs).EnsureInstallPrerequisites(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := bindingOfKind(ctx, cs, spec.ReleaseNamespace, InstallerBindingName(spec)); err != nil {
		t.Errorf("another owner's binding of the name: %v, want it kept", err)
	}
}

func bindingOfKind(ctx context.Context, cs *fake.Clientset, namespace, name string) (metav1.Object, error) {
	if namespace == "" {
		return cs.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{})
	}
	return cs.RbacV1().RoleBindings(namespace).Get(ctx, name, metav1.GetOptions{})
}
