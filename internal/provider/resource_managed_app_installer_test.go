package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// TestAccManagedApp_OwnServiceAccount: with installer_service_account the install pods
// run as the user's service account, which the provider checks, grants nothing and never
// deletes; the app's own installer, used before the switch, is removed.
func TestAccManagedApp_OwnServiceAccount(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	const name, release, teamSA = "ck-ma-sa", "ck-ma-sa-ns", "team-installer"
	pods := watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, release)
	// The documented setup: the user creates the install namespace (so it outlives the
	// apps) and the service account in it.
	waitGone(t, cs, installNS)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: installNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deleteNamespaceAtEnd(t, cs, installNS)
	binding := "clusterkit-installer-" + installNS + "-" + name
	ownSA := kube.InstallerServiceAccountName(name)

	hcl := func(serviceAccount string) string {
		attr := ""
		if serviceAccount != "" {
			attr = fmt.Sprintf("installer_service_account = %q", serviceAccount)
		}
		return demoChartConfig(name, release, chartsrc.DemoVersion, attr)
	}
	ranAs := func(want string) func(*terraform.State) error {
		return func(*terraform.State) error {
			p, err := pods.created("install-" + name)
			if err != nil {
				return err
			}
			if p.Spec.ServiceAccountName != want {
				return fmt.Errorf("install pod ran as %q, want %q", p.Spec.ServiceAccountName, want)
			}
			return nil
		}
	}
	saExists := func(n string) bool {
		_, err := cs.CoreV1().ServiceAccounts(installNS).Get(ctx, n, metav1.GetOptions{})
		return err == nil
	}
	bindingExists := func() bool {
		_, err := cs.RbacV1().RoleBindings(release).Get(ctx, binding, metav1.GetOptions{})
		return err == nil
	}
	vars := managedAppVars(t, s, nil)
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []tfresource.TestStep{
			{
				// The app's own installer first.
				Config:          hcl(""),
				ConfigVariables: vars,
				Check: tfresource.ComposeTestCheckFunc(ranAs(ownSA), func(*terraform.State) error {
					// Its rights (the role binding) lasted only while its pod ran.
					if !saExists(ownSA) || bindingExists() {
						return fmt.Errorf("the app's own installer: service account %s exists = %v (want true), role binding %s exists = %v (want false)",
							ownSA, saExists(ownSA), binding, bindingExists())
					}
					return nil
				}),
			},
			{
				// The user's service account does not exist yet: the error names the attribute.
				Config:          hcl(teamSA),
				ConfigVariables: vars,
				ExpectError:     regexp.MustCompile(`(?s)installer_service_account.*service\s+account\s+clusterkit-managed-apps/team-installer\s+does\s+not\s+exist`),
			},
			{
				PreConfig: func() {
					sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: teamSA, Namespace: installNS}}
					if _, err := cs.CoreV1().ServiceAccounts(installNS).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
						t.Fatal(err)
					}
					// The user grants their installer what the chart needs: here the
					// release namespace only (helm keeps its records there too).
					rb := &rbacv1.RoleBinding{
						ObjectMeta: metav1.ObjectMeta{Name: teamSA, Namespace: release},
						RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
						Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: teamSA, Namespace: installNS}},
					}
					if _, err := cs.RbacV1().RoleBindings(release).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config:          hcl(teamSA),
				ConfigVariables: vars,
				Check: tfresource.ComposeTestCheckFunc(ranAs(teamSA), func(*terraform.State) error {
					if saExists(ownSA) || bindingExists() {
						return fmt.Errorf("the app's own installer must go once the user's service account is used")
					}
					// helm, running as the user's service account, upgraded the release.
					return expectRelease(cs, release, name, 2, kube.ReleaseDeployed, chartsrc.DemoVersion)
				}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("installer_cluster_admin"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
				},
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if !saExists(teamSA) {
				return fmt.Errorf("destroy deleted the user's service account %s", teamSA)
			}
			ns, err := cs.CoreV1().Namespaces().Get(ctx, installNS, metav1.GetOptions{})
			if err != nil || ns.DeletionTimestamp != nil {
				return fmt.Errorf("destroy deleted the install namespace the user created: %v", err)
			}
			if _, err := cs.CoreV1().ConfigMaps(installNS).Get(ctx, kube.ValuesConfigMapName(name), metav1.GetOptions{}); !kube.IsNotFound(err) {
				return fmt.Errorf("the app's values ConfigMap outlived it: %v", err)
			}
			return pods.expectRan("uninstall-"+name, 1, corev1.PodSucceeded)
		},
	}))
}
