package provider

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// Import by identity through OpenTofu (needsResourceIdentity): the identity Create stores
// (account of the provisioning role, region, name); an import block built from it (the
// planned identity is the same); then the stack, dropped from state and kept in AWS, is
// adopted by an import block written by hand: with the wrong account the plan refuses it,
// with the right one the apply records the role and external ID from the configuration
// (an in-place update that changes nothing in AWS) and the next plan is empty.
func TestAccEKSCluster_ImportByIdentity(t *testing.T) {
	s := stackFromEnv(t)
	name := "ck-acc-ident"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	identity := map[string]knownvalue.Check{
		"account_id": knownvalue.StringExact("222222222222"),
		"region":     knownvalue.StringExact("us-east-1"),
		"name":       knownvalue.StringExact(name),
	}
	importDir := config.StaticDirectory("testdata/TestAccEKSCluster_ImportByIdentity/import")
	var stackID string
	var creates, updates int
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck:               func() { testAccPreCheck(t) },
		TerraformVersionChecks: needsResourceIdentity,
		CheckDestroy: func(*terraform.State) error {
			if info, ok := accStack.AWS.Stack(name); !ok || info.Status != "DELETE_COMPLETE" {
				return fmt.Errorf("stack after destroy: %q", info.Status)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				ConfigDirectory: eksConfig,
				ConfigVariables: eksVars(name, nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentity(eksAddr, identity),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("provision_role_arn"), knownvalue.StringExact("arn:aws:iam::222222222222:role/clusterkit-provisioner")),
					statecheck.ExpectIdentityValueMatchesState(eksAddr, tfjsonpath.New("name")),
					statecheck.ExpectIdentityValueMatchesState(eksAddr, tfjsonpath.New("region")),
				},
				Check: func(st *terraform.State) error {
					stackID = st.RootModule().Resources[eksAddr].Primary.Attributes["stack_id"]
					creates, updates = countCalls("CreateStack", name), countCalls("UpdateStack", name)
					return nil
				},
			},
			{
				// terraform-plugin-testing writes import { identity = {...} } from the
				// state's identity and checks the plan keeps it.
				ResourceName:       eksAddr,
				ImportState:        true,
				ImportStateKind:    resource.ImportBlockWithResourceIdentity,
				ExpectNonEmptyPlan: true, // the role and external ID come from the configuration
				ConfigDirectory:    eksConfig,
				ConfigVariables:    eksVars(name, nil),
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(eksAddr, tfjsonpath.New("id"), knownvalue.StringExact("us-east-1/"+name)),
						plancheck.ExpectKnownValue(eksAddr, tfjsonpath.New("provision_role_arn"), knownvalue.StringExact("arn:aws:iam::222222222222:role/clusterkit-provisioner")),
					},
				},
			},
			{
				// Out of the state, still in AWS.
				ConfigDirectory: config.StaticDirectory("testdata/TestAccEKSCluster_ImportByIdentity/forget"),
				ConfigVariables: eksVars(name, nil),
				Check: func(st *terraform.State) error {
					if _, ok := st.RootModule().Resources[eksAddr]; ok {
						return fmt.Errorf("%s is still in the state", eksAddr)
					}
					if info, _ := accStack.AWS.Stack(name); info.Status != "CREATE_COMPLETE" || info.StackID != stackID {
						return fmt.Errorf("stack %s is %s, want %s CREATE_COMPLETE", info.StackID, info.Status, stackID)
					}
					return nil
				},
			},
			{
				ConfigDirectory: importDir,
				ConfigVariables: eksVars(name, config.Variables{"import_account": config.StringVariable("333333333333")}),
				ExpectError:     regexp.MustCompile(`(?s)Provisioning role in another account than the import.*imported from AWS\s+account\s+333333333333,\s+but\s+provision_role_arn\s+is\s+a\s+role\s+of\s+account\s+222222222222`),
			},
			{
				ConfigDirectory: importDir,
				ConfigVariables: eksVars(name, config.Variables{"import_account": config.StringVariable("222222222222")}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(eksAddr, tfjsonpath.New("id"), knownvalue.StringExact("us-east-1/"+name)),
					},
					// After the apply: no change planned (terraform-plugin-testing also
					// fails a non-empty plan here on its own).
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentity(eksAddr, identity),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("stack_id"), knownvalue.StringFunc(func(v string) error {
						if v != stackID {
							return fmt.Errorf("stack_id %s, want the first step's %s", v, stackID)
						}
						return nil
					})),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("CREATE_COMPLETE")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("endpoint"), knownvalue.StringExact(s.Host)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("node_count"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("cluster_connection").AtMapKey("eks").AtMapKey("role_arn"), knownvalue.StringExact("arn:aws:iam::222222222222:role/clusterkit-provisioner")),
				},
				Check: resource.ComposeTestCheckFunc(noTemporaryCredentials, func(*terraform.State) error {
					// Adopted: no second stack, no stack update.
					if c, u := countCalls("CreateStack", name)-creates, countCalls("UpdateStack", name)-updates; c != 0 || u != 0 {
						return fmt.Errorf("the import's apply made %d CreateStack and %d UpdateStack calls, want none", c, u)
					}
					return nil
				}),
			},
		},
	}))
}
