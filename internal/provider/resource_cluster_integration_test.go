package provider

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

const integrationAddr = "clusterkit_cluster_integration.test"

func integrationVars(s testStack, extra config.Variables) config.Variables {
	v := config.Variables{
		"host":  config.StringVariable(s.Host),
		"ca":    config.StringVariable(s.CAPEM),
		"token": config.StringVariable(s.Token),
	}
	for k, val := range extra {
		v[k] = val
	}
	return v
}

const integrationVarsHCL = `
variable "host" { type = string }
variable "ca" { type = string }
variable "token" {
  type      = string
  sensitive = true
}
`

func TestAccClusterIntegration_Lifecycle(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	owner := "cluster_integration/kube-system/ck-lifecycle"
	var firstBindingUID string

	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			return expectNothingOwned(cs, owner, "ck-life-a", "ck-life-b", "ck-life-c")
		},
		Steps: []resource.TestStep{
			{
				ConfigDirectory: config.StaticDirectory("testdata/TestAccClusterIntegration_Lifecycle/create"),
				ConfigVariables: integrationVars(s, nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("id"), knownvalue.StringExact("kube-system/ck-lifecycle@"+s.Host)),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("authorization_type"), knownvalue.StringExact("rbac")),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("namespaces").AtMapKey("ck-life-a").AtMapKey("role"), knownvalue.StringExact("edit")),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("namespaces").AtMapKey("ck-life-b").AtMapKey("role"), knownvalue.StringExact("view")),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("namespaces").AtMapKey("ck-life-a").AtMapKey("service_account_name"), knownvalue.StringExact("ck-life-a-service-account")),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("cluster_connection").AtMapKey("host"), knownvalue.StringExact(s.Host)),
					statecheck.ExpectSensitiveValue(integrationAddr, tfjsonpath.New("token")),
					statecheck.ExpectKnownOutputValue("team_a_service_account", knownvalue.StringExact("ck-life-a-service-account")),
				},
				Check: func(*terraform.State) error {
					if err := expectServiceAccount(cs, "kube-system", "ck-lifecycle", owner); err != nil {
						return err
					}
					if err := expectClusterRoleBinding(cs, "ck-lifecycle-admin", "cluster-admin", "kube-system", "ck-lifecycle"); err != nil {
						return err
					}
					if err := expectRestrictedNamespace(cs, "ck-life-a", "edit", owner, map[string]string{"team": "a"}); err != nil {
						return err
					}
					uid, err := roleBindingUID(cs, "ck-life-b")
					firstBindingUID = uid
					if err != nil {
						return err
					}
					return expectRestrictedNamespace(cs, "ck-life-b", "view", owner, nil)
				},
			},
			{
				// An import block: the plan after the import writes the credential and CA
				// from the configuration (they cannot be read back from any cluster) and
				// adopts the namespaces, so it is an update, and nothing is replaced.
				ResourceName:       integrationAddr,
				ImportState:        true,
				ImportStateKind:    resource.ImportBlockWithID,
				ImportStateId:      "kube-system/ck-lifecycle@" + s.Host,
				ExpectNonEmptyPlan: true,
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("id"), knownvalue.StringExact("kube-system/ck-lifecycle@"+s.Host)),
						plancheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("namespaces").AtMapKey("ck-life-a").AtMapKey("service_account_name"), knownvalue.StringExact("ck-life-a-service-account")),
					},
				},
				ConfigDirectory: config.StaticDirectory("testdata/TestAccClusterIntegration_Lifecycle/create"),
				ConfigVariables: integrationVars(s, nil),
			},
			{
				// Remove ck-life-a, change ck-life-b's role and labels, add ck-life-c.
				ConfigDirectory: config.StaticDirectory("testdata/TestAccClusterIntegration_Lifecycle/update"),
				ConfigVariables: integrationVars(s, nil),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("namespaces").AtMapKey("ck-life-b").AtMapKey("role"), knownvalue.StringExact("edit")),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("namespaces"), knownvalue.MapSizeExact(2)),
				},
				Check: func(*terraform.State) error {
					if err := expectGone(cs, "ck-life-a"); err != nil {
						return err
					}
					if err := expectRestrictedNamespace(cs, "ck-life-b", "edit", owner, map[string]string{"tier": "two"}); err != nil {
						return err
					}
					ns, _ := cs.CoreV1().Namespaces().Get(context.Background(), "ck-life-b", metav1.GetOptions{})
					if _, ok := ns.Labels["team"]; ok {
						return fmt.Errorf("label team should have been removed from ck-life-b, labels: %v", ns.Labels)
					}
					uid, err := roleBindingUID(cs, "ck-life-b")
					if err != nil {
						return err
					}
					if uid == firstBindingUID {
						return fmt.Errorf("role binding of ck-life-b kept UID %s: a roleRef change must recreate it", uid)
					}
					return expectRestrictedNamespace(cs, "ck-life-c", "edit", owner, nil)
				},
			},
		},
	}))
}

func TestAccClusterIntegration_Drift(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	owner := "cluster_integration/kube-system/ck-drift"
	vars := integrationVars(s, nil)
	dir := config.StaticDirectory("testdata/TestAccClusterIntegration_Drift")
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck:     func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error { return expectNothingOwned(cs, owner, "ck-drift-a", "ck-drift-b") },
		Steps: []resource.TestStep{
			{ConfigDirectory: dir, ConfigVariables: vars},
			{
				// Delete a namespace and a RoleBinding behind Terraform's back.
				PreConfig: func() {
					ctx := context.Background()
					if err := cs.CoreV1().Namespaces().Delete(ctx, "ck-drift-a", metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
					if err := cs.RbacV1().RoleBindings("ck-drift-b").Delete(ctx, "clusterkit-ck-drift-b", metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
					waitGone(t, cs, "ck-drift-a")
				},
				ConfigDirectory:    dir,
				ConfigVariables:    vars,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				ConfigDirectory: dir,
				ConfigVariables: vars,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("namespaces").AtMapKey("ck-drift-b").AtMapKey("role"), knownvalue.StringExact("edit")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					if err := expectRestrictedNamespace(cs, "ck-drift-a", "edit", owner, nil); err != nil {
						return err
					}
					return expectRestrictedNamespace(cs, "ck-drift-b", "edit", owner, nil)
				},
			},
		},
	}))
}

func TestAccClusterIntegration_ABAC(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	owner := "cluster_integration/kube-system/ck-abac"
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck:     func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error { return expectNothingOwned(cs, owner, "ck-abac-a") },
		Steps: []resource.TestStep{{
			ConfigDirectory: config.StaticDirectory("testdata/TestAccClusterIntegration_ABAC"),
			ConfigVariables: integrationVars(s, nil),
			Check: func(*terraform.State) error {
				ctx := context.Background()
				if err := expectServiceAccount(cs, "kube-system", "ck-abac", owner); err != nil {
					return err
				}
				if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "ck-abac-admin", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					return fmt.Errorf("abac must create no ClusterRoleBinding, got err=%v", err)
				}
				if _, err := cs.RbacV1().RoleBindings("ck-abac-a").Get(ctx, "clusterkit-ck-abac-a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					return fmt.Errorf("abac must create no RoleBinding, got err=%v", err)
				}
				_, err := cs.CoreV1().ServiceAccounts("ck-abac-a").Get(ctx, "ck-abac-a-service-account", metav1.GetOptions{})
				return err
			},
		}},
	}))
}

// An existing namespace is adopted, not taken over: destroy leaves it where it was.
func TestAccClusterIntegration_AdoptsExisting(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ck-adopt-existing"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(ctx, "ck-adopt-existing", metav1.DeleteOptions{}) })
	owner := "cluster_integration/kube-system/ck-adopt"
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			ns, err := cs.CoreV1().Namespaces().Get(ctx, "ck-adopt-existing", metav1.GetOptions{})
			if err != nil || ns.DeletionTimestamp != nil {
				return fmt.Errorf("adopted namespace must survive destroy: err=%v", err)
			}
			if _, err := cs.CoreV1().ServiceAccounts("ck-adopt-existing").Get(ctx, "ck-adopt-existing-service-account", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("the service account the integration created must be gone, err=%v", err)
			}
			return expectNothingOwned(cs, owner)
		},
		Steps: []resource.TestStep{{
			ConfigDirectory: config.StaticDirectory("testdata/TestAccClusterIntegration_AdoptsExisting"),
			ConfigVariables: integrationVars(s, nil),
			Check: func(*terraform.State) error {
				_, err := cs.RbacV1().RoleBindings("ck-adopt-existing").Get(ctx, "clusterkit-ck-adopt-existing", metav1.GetOptions{})
				return err
			},
		}},
	}))
}

// Without allow_local_requests the provider refuses a loopback or metadata host at plan
// time, before any connection.
func TestAccClusterIntegration_RefusesLocalHosts(t *testing.T) {
	s := stackFromEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })

	cases := map[string]struct{ host, want string }{
		"loopback": {"https://" + ln.Addr().String(), `(?s)Cluster URL refused.*loopback.*allow_local_requests`},
		"metadata": {"https://169.254.169.254", `(?s)Cluster URL refused.*link-local`},
		"private":  {"https://10.1.2.3:6443", `(?s)Cluster URL refused.*private`},
		"ipv6":     {"https://[::1]:6443", `(?s)Cluster URL refused.*loopback`},
		"http":     {"http://k8s.example.com", `(?s)Cluster URL refused.*https`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resource.Test(t, withProviderPerStep(resource.TestCase{
				PreCheck: func() { testAccPreCheck(t) },
				Steps: []resource.TestStep{{
					ConfigDirectory: config.StaticDirectory("testdata/TestAccClusterIntegration_RefusesLocalHosts"),
					ConfigVariables: integrationVars(s, config.Variables{"host": config.StringVariable(tc.host)}),
					PlanOnly:        true,
					ExpectError:     regexp.MustCompile(tc.want),
				}},
			}))
		})
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the refused loopback host received %d connections, want 0", n)
	}
}

func TestAccClusterIntegration_InvalidConfig(t *testing.T) {
	s := stackFromEnv(t)
	cases := map[string]struct {
		namespaces string
		ca         string
		want       string
	}{
		"reserved namespace": {`{ "clusterkit-managed-apps" = {} }`, s.CAPEM, `(?s)clusterkit-managed-apps.*reserved`},
		"not a DNS label":    {`{ "Team_A" = {} }`, s.CAPEM, `(?s)"Team_A" is\s+not\s+a\s+DNS-1123\s+label`},
		"too long":           {fmt.Sprintf(`{ "%s" = {} }`, longName(64)), s.CAPEM, `(?s)is\s+not\s+a\s+DNS-1123\s+label`},
		"bad label":          {`{ "ck-bad" = { labels = { "bad key!" = "x" } } }`, s.CAPEM, `(?s)Invalid namespace label.*bad key!`},
		"cluster-admin role": {`{ "ck-bad" = { role = "cluster-admin" } }`, s.CAPEM, `(?s)role`},
		"bad PEM":            {`{}`, "not a certificate", `(?s)cluster_ca_certificate.*PEM`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resource.Test(t, withProviderPerStep(resource.TestCase{
				PreCheck: func() { testAccPreCheck(t) },
				Steps: []resource.TestStep{{
					Config: providerLocal + integrationVarsHCL + `
resource "clusterkit_cluster_integration" "test" {
  host                   = var.host
  cluster_ca_certificate = var.ca
  token                  = var.token
  namespaces             = ` + tc.namespaces + `
}`,
					ConfigVariables: integrationVars(s, config.Variables{"ca": config.StringVariable(tc.ca)}),
					PlanOnly:        true,
					ExpectError:     regexp.MustCompile(tc.want),
				}},
			}))
		})
	}
}

func longName(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

// TestAccClusterIntegration_EKSConnection registers a cluster made in the same apply by
// passing its cluster_connection: the integration authenticates with EKS tokens through
// the customer role, and stores no token.
func TestAccClusterIntegration_EKSConnection(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	name := "ck-acc-integ"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	owner := "cluster_integration/kube-system/ck-eks-integration"
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			return expectNothingOwned(cs, owner, "ck-eks-team")
		},
		Steps: []resource.TestStep{{
			ConfigDirectory: config.TestNameDirectory(),
			ConfigVariables: eksVars(name, nil),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("host"), knownvalue.StringExact(s.Host)),
				statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("token"), knownvalue.Null()),
				statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("cluster_connection").AtMapKey("eks").AtMapKey("cluster_name"), knownvalue.StringExact(name)),
			},
			Check: resource.ComposeTestCheckFunc(noTemporaryCredentials, func(*terraform.State) error {
				if err := expectServiceAccount(cs, "kube-system", "ck-eks-integration", owner); err != nil {
					return err
				}
				return expectRestrictedNamespace(cs, "ck-eks-team", "edit", owner, nil)
			}),
		}, {
			// A node count change updates the cluster in place; the integration that took its
			// cluster_connection must not be replaced (or even touched).
			ConfigDirectory: config.TestNameDirectory(),
			ConfigVariables: eksVars(name, config.Variables{"node_count": config.IntegerVariable(3)}),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("clusterkit_eks_cluster.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionNoop),
				},
			},
		}},
	}))
}
