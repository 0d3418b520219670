package kube

import (
	"context"
	"errors"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// canI asks the API server's authorizer (a SubjectAccessReview, what `kubectl auth can-i
// --as` does) whether service account namespace/name may do verb on resource.
// canI asks the API server whether the service account namespace/name may do verb on
// resource. The RBAC authorizer reads bindings from a watch-fed cache, so a change made just
// before is seen a moment later: the question is asked again until the answer is want or 5 s
// have passed, and the last answer is returned.
func canI(t *testing.T, c *Client, want bool, namespace, name, verb, resource, inNamespace string) bool {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sar, err := c.Clientset().AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User:               "system:serviceaccount:" + namespace + ":" + name,
				Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Resource: resource, Namespace: inNamespace},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed == want || time.Now().After(deadline) {
			return sar.Status.Allowed
		}
		time.Sleep(100 * time.Millisecond) // the authorizer's cache catching up, not the code under test
	}
}

// installerRightsAcc: an installer holds its app's rights only while its pod runs, and a
// binding clusterkit relies on grants exactly what it says (subtests of TestAccInstallPod).
func installerRightsAcc(t *testing.T, s *testenv.Stack, c *Client) {
	cs := c.Clientset()
	rightsGone := func(t *testing.T, spec InstallSpec) {
		t.Helper()
		spec = spec.WithDefaults()
		ctx := context.Background()
		sa := InstallerServiceAccountName(spec.Name)
		if _, err := cs.CoreV1().ServiceAccounts(DefaultInstallNamespace).Get(ctx, sa, metav1.GetOptions{}); err != nil {
			t.Fatalf("the installer service account stays for the next pod: %v", err)
		}
		if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, InstallerBindingName(spec), metav1.GetOptions{}); !IsNotFound(err) {
			t.Errorf("cluster role binding %s after the pod: %v (want not found)", InstallerBindingName(spec), err)
		}
		if _, err := cs.RbacV1().RoleBindings(spec.ReleaseNamespace).Get(ctx, InstallerBindingName(spec), metav1.GetOptions{}); !IsNotFound(err) {
			t.Errorf("role binding %s/%s after the pod: %v (want not found)", spec.ReleaseNamespace, InstallerBindingName(spec), err)
		}
		for _, denied := range [][3]string{
			{"list", "secrets", ""},
			{"create", "namespaces", ""},
			{"get", "secrets", spec.ReleaseNamespace},
			{"create", "deployments", spec.ReleaseNamespace},
			{"get", "secrets", DefaultInstallNamespace},
		} {
			if canI(t, c, false, DefaultInstallNamespace, sa, denied[0], denied[1], denied[2]) {
				t.Errorf("after its pod, the installer of %s may still %s %s in %q", spec.Name, denied[0], denied[1], denied[2])
			}
		}
	}

	t.Run("a cluster-admin installer holds its rights only while its pod runs, for install, upgrade and a failure", func(t *testing.T) {
		ctx := context.Background()
		// accSpec leaves the release namespace to helm: only cluster-wide rights create it,
		// so the install succeeding shows the rights were there during the run.
		spec := accSpec(s, "rights-admin", "demo", chartsrc.DemoVersion)
		cleanupApp(t, c, spec)
		if _, err := c.ManagedApp(spec).Install(ctx, logTo(t)); err != nil {
			t.Fatal(err)
		}
		checkRelease(t, c, spec.ReleaseNamespace, spec.Name, 1, "demo", chartsrc.DemoVersion)
		rightsGone(t, spec)

		spec.Version = chartsrc.DemoUpgradeVersion
		if _, err := c.ManagedApp(spec).Install(ctx, logTo(t)); err != nil {
			t.Fatal(err)
		}
		checkRelease(t, c, spec.ReleaseNamespace, spec.Name, 2, "demo", chartsrc.DemoUpgradeVersion)
		rightsGone(t, spec)

		failing := accSpec(s, "rights-hook", "hook-fails", "0.1.0")
		failing.KeepFailedPod = false
		cleanupApp(t, c, failing)
		var failed *InstallFailedError
		if _, err := c.ManagedApp(failing).Install(ctx, logTo(t)); !errors.As(err, &failed) {
			t.Fatalf("got %v, want the hook's failure", err)
		}
		rightsGone(t, failing)
	})

	t.Run("a custom chart's installer holds admin in its release namespace only while its pod runs", func(t *testing.T) {
		ctx := context.Background()
		spec := accSpec(s, "rights-custom", "demo", chartsrc.DemoVersion)
		spec.ClusterAdmin = false
		cleanupApp(t, c, spec)
		if _, err := c.ManagedApp(spec).Install(ctx, logTo(t)); err != nil {
			t.Fatal(err)
		}
		checkRelease(t, c, spec.ReleaseNamespace, spec.Name, 1, "demo", chartsrc.DemoVersion)
		rightsGone(t, spec)
	})

	t.Run("subjects added out of band to an owned binding are removed; a foreign binding is refused", func(t *testing.T) {
		ctx := context.Background()
		const owner, binding = "acc-test/rights", "ck-acc-rights-admin"
		for _, sa := range []string{"ck-rights-ours", "ck-rights-intruder"} {
			if _, err := c.EnsureServiceAccount(ctx, "default", sa, owner); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding, metav1.DeleteOptions{})
			for _, sa := range []string{"ck-rights-ours", "ck-rights-intruder"} {
				_ = cs.CoreV1().ServiceAccounts("default").Delete(context.Background(), sa, metav1.DeleteOptions{})
			}
		})
		ours := corev1.ObjectReference{Namespace: "default", Name: "ck-rights-ours"}
		if _, err := c.EnsureClusterRoleBinding(ctx, binding, "cluster-admin", ours, owner); err != nil {
			t.Fatal(err)
		}
		b, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, binding, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: "ck-rights-intruder"})
		if _, err := cs.RbacV1().ClusterRoleBindings().Update(ctx, b, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if !canI(t, c, true, "default", "ck-rights-intruder", "list", "secrets", "") {
			t.Fatal("the out-of-band subject should hold cluster-admin before the binding is ensured again")
		}
		if got, err := c.EnsureClusterRoleBinding(ctx, binding, "cluster-admin", ours, owner); err != nil || got != Updated {
			t.Fatalf("ensure again: %v %v, want Updated", got, err)
		}
		if canI(t, c, false, "default", "ck-rights-intruder", "list", "secrets", "") {
			t.Error("the out-of-band subject still holds cluster-admin")
		}
		if !canI(t, c, true, "default", "ck-rights-ours", "list", "secrets", "") {
			t.Error("our service account lost its binding")
		}

		// Someone else's binding of the same name and role is not taken for ours.
		if err := cs.RbacV1().ClusterRoleBindings().Delete(ctx, binding, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		foreign := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: binding},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: "ck-rights-intruder"}},
		}
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var conflict *OwnershipConflictError
		if _, err := c.EnsureClusterRoleBinding(ctx, binding, "cluster-admin", ours, owner); !errors.As(err, &conflict) ||
			err.Error() != "cluster role binding "+binding+" already exists and was not created by clusterkit; delete or rename it" {
			t.Fatalf("got %v, want an ownership conflict", err)
		}
	})
}
