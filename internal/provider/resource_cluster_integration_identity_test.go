package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// integrationUIDs are the UIDs of what the integration made, to tell adopted from made again.
func integrationUIDs(cs kubernetes.Interface) (map[string]string, error) {
	ctx := context.Background()
	out := map[string]string{}
	sa, err := cs.CoreV1().ServiceAccounts("kube-system").Get(ctx, "ck-ident", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	out["serviceaccount kube-system/ck-ident"] = string(sa.UID)
	crb, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "ck-ident-admin", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	out["clusterrolebinding ck-ident-admin"] = string(crb.UID)
	for _, ns := range []string{"ck-ident-a", "ck-ident-b"} {
		n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		out["namespace "+ns] = string(n.UID)
		uid, err := roleBindingUID(cs, ns)
		if err != nil {
			return nil, err
		}
		out["rolebinding "+ns] = uid
	}
	return out, nil
}

// Import by identity through OpenTofu (needsResourceIdentity): the identity Create stores
// (host, service account namespace and name); an import block built from it (the planned
// identity is the same); then the integration, dropped from state with its objects left in
// the cluster, is adopted by an import block written by hand that gives only the host and
// the service account's name (the namespace defaults to kube-system): the apply records the
// token and CA from the configuration (an in-place update that keeps every object, same
// UIDs) and the next plan is empty.
func TestAccClusterIntegration_ImportByIdentity(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	owner := "cluster_integration/kube-system/ck-ident"
	identity := map[string]knownvalue.Check{
		"host":                      knownvalue.StringExact(s.Host),
		"service_account_namespace": knownvalue.StringExact("kube-system"),
		"service_account_name":      knownvalue.StringExact("ck-ident"),
	}
	create := config.StaticDirectory("testdata/TestAccClusterIntegration_ImportByIdentity/create")
	var uids map[string]string
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck:               func() { testAccPreCheck(t) },
		TerraformVersionChecks: needsResourceIdentity,
		CheckDestroy: func(*terraform.State) error {
			return expectNothingOwned(cs, owner, "ck-ident-a", "ck-ident-b")
		},
		Steps: []resource.TestStep{
			{
				ConfigDirectory: create,
				ConfigVariables: integrationVars(s, nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentity(integrationAddr, identity),
					statecheck.ExpectIdentityValueMatchesState(integrationAddr, tfjsonpath.New("host")),
					statecheck.ExpectIdentityValueMatchesState(integrationAddr, tfjsonpath.New("service_account_name")),
				},
				Check: func(*terraform.State) (err error) {
					uids, err = integrationUIDs(cs)
					return err
				},
			},
			{
				// terraform-plugin-testing writes import { identity = {...} } from the
				// state's identity and checks the plan keeps it.
				ResourceName:       integrationAddr,
				ImportState:        true,
				ImportStateKind:    resource.ImportBlockWithResourceIdentity,
				ExpectNonEmptyPlan: true, // the token and CA come from the configuration
				ConfigDirectory:    create,
				ConfigVariables:    integrationVars(s, nil),
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("id"), knownvalue.StringExact("kube-system/ck-ident@"+s.Host)),
						plancheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("namespaces").AtMapKey("ck-ident-b").AtMapKey("role"), knownvalue.StringExact("view")),
					},
				},
			},
			{
				// Out of the state, still in the cluster.
				ConfigDirectory: config.StaticDirectory("testdata/TestAccClusterIntegration_ImportByIdentity/forget"),
				ConfigVariables: integrationVars(s, nil),
				Check: func(st *terraform.State) error {
					if _, ok := st.RootModule().Resources[integrationAddr]; ok {
						return fmt.Errorf("%s is still in the state", integrationAddr)
					}
					return expectServiceAccount(cs, "kube-system", "ck-ident", owner)
				},
			},
			{
				ConfigDirectory: config.StaticDirectory("testdata/TestAccClusterIntegration_ImportByIdentity/import"),
				ConfigVariables: integrationVars(s, nil),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("id"), knownvalue.StringExact("kube-system/ck-ident@"+s.Host)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentity(integrationAddr, identity),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("namespaces").AtMapKey("ck-ident-a").AtMapKey("role"), knownvalue.StringExact("edit")),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("namespaces").AtMapKey("ck-ident-b").AtMapKey("role"), knownvalue.StringExact("view")),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("cluster_connection").AtMapKey("host"), knownvalue.StringExact(s.Host)),
					statecheck.ExpectSensitiveValue(integrationAddr, tfjsonpath.New("token")),
				},
				Check: func(*terraform.State) error {
					after, err := integrationUIDs(cs)
					if err != nil {
						return err
					}
					for k, uid := range uids {
						if after[k] != uid {
							return fmt.Errorf("%s has UID %s, was %s: the import's apply made it again instead of adopting it", k, after[k], uid)
						}
					}
					if err := expectRestrictedNamespace(cs, "ck-ident-a", "edit", owner, map[string]string{"team": "a"}); err != nil {
						return err
					}
					return expectRestrictedNamespace(cs, "ck-ident-b", "view", owner, nil)
				},
			},
		},
	}))
}
