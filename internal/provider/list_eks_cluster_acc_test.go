package provider

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// eksListConfigHeader is the user's part of the configuration the generated blocks go
// into (query writes only import and resource blocks): the provider as the other EKS
// tests configure it, and the variable of what the user fills in, the external ID.
const eksListConfigHeader = `terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

variable "aws_endpoint" { type = string }
variable "access_key" { type = string }
variable "secret_key" {
  type      = string
  sensitive = true
}
variable "external_id" {
  type      = string
  sensitive = true
}

provider "clusterkit" {
  region               = "us-east-1"
  access_key           = var.access_key
  secret_key           = var.secret_key
  allow_local_requests = true # the emulated EKS endpoint is the local kube-apiserver

  endpoints {
    sts            = var.aws_endpoint
    cloudformation = var.aws_endpoint
    eks            = var.aws_endpoint
  }
}

`

// eksListServer is a protocol server configured as the acceptance tests' provider blocks
// configure theirs: the stack's emulated AWS, the platform's keys.
func eksListServer(t *testing.T) tfprotov6.ProviderServer {
	t.Helper()
	a := accStack.AWSConfig
	srv := newTestServer(t)
	resp, err := srv.ConfigureProvider(context.Background(), &tfprotov6.ConfigureProviderRequest{Config: providerConfig(t, srv, map[string]tftypes.Value{
		"region": str("us-east-1"), "access_key": str(a.AccessKeyID), "secret_key": str(a.SecretKey),
		"allow_local_requests": tftypes.NewValue(tftypes.Bool, true),
	}, map[string]string{"sts": accStack.AWSEndpoint, "cloudformation": accStack.AWSEndpoint, "eks": accStack.AWSEndpoint})})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("configure: %v %q", err, diagStrings(resp.Diagnostics))
	}
	return srv
}

// TestAccEKSCluster_ListGeneratedConfig (OpenTofu: needsResourceIdentity; no CLI here runs
// `terraform query`): OpenTofu creates a cluster and then forgets it (removed, destroy =
// false); the list, called through the protocol server in process, finds its stack; the
// configuration `terraform query -generate-config-out` writes from that result
// (generatedConfig: an import block by the result's identity, the eks_cluster block of
// every attribute a user may set, from the result) goes, with the one thing a user fills
// in, the external ID (sensitive, never in a result), into a fresh working directory.
//
// The import's plan is an in-place update, and not "no change": a state imported by
// identity holds only id, region and name, because Read cannot assume the provisioning
// role before the configuration supplies it and the external ID (neither is in an
// identity). So the plan checks that the update records exactly what the list gave
// (every listed attribute planned as listed), and the apply that it changes nothing in AWS
// (no CreateStack, no UpdateStack), leaves the state the list described, with the list's
// identity; the plan after is empty.
func TestAccEKSCluster_ListGeneratedConfig(t *testing.T) {
	s := stackFromEnv(t)
	const name = "ck-acc-listgen"
	const addr = "clusterkit_eks_cluster.listed_0"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	var stackID string
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck:               func() { testAccPreCheck(t) },
		TerraformVersionChecks: needsResourceIdentity,
		Steps: []resource.TestStep{
			{
				ConfigDirectory: eksConfig,
				ConfigVariables: eksVars(name, nil),
				Check: func(st *terraform.State) error {
					stackID = st.RootModule().Resources[eksAddr].Primary.Attributes["stack_id"]
					return nil
				},
			},
			{
				ConfigDirectory: config.StaticDirectory("testdata/TestAccEKSCluster_ListGeneratedConfig/forget"),
				ConfigVariables: eksVars(name, nil),
			},
		},
	}))
	if info, ok := accStack.AWS.Stack(name); !ok || info.Status != "CREATE_COMPLETE" || info.StackID != stackID {
		t.Fatalf("after the removed block: stack %s %q, want %s CREATE_COMPLETE", info.StackID, info.Status, stackID)
	}

	srv := eksListServer(t)
	a := accStack.AWSConfig
	_, got := callList(t, srv, "clusterkit_eks_cluster", map[string]tftypes.Value{
		"provision_role_arn": str(a.RoleARN), "external_id": str(a.ExternalID),
	}, true, 1000)
	var r *listed
	for i := range got { // the emulator holds the other tests' stacks too
		if len(got[i].diags) > 0 {
			t.Fatalf("list result diagnostics %q", got[i].diags)
		}
		if got[i].identity["name"] == name {
			if r != nil {
				t.Fatalf("two results for %s: %+v", name, got)
			}
			r = &got[i]
		}
	}
	if r == nil {
		t.Fatalf("the list has no result for %s among %d", name, len(got))
	}
	if want := map[string]string{"account_id": "222222222222", "region": "us-east-1", "name": name}; !sameStrings(r.identity, want) {
		t.Fatalf("identity %v, want %v", r.identity, want)
	}
	if got := tfString(t, r.resource["stack_id"]); got != stackID {
		t.Fatalf("listed stack_id %s, want %s", got, stackID)
	}
	cfg := eksListConfigHeader + generatedConfig(t, resourceSchema(t, srv, "clusterkit_eks_cluster"), "clusterkit_eks_cluster", "listed_0", *r,
		map[string]string{"external_id": "var.external_id"})
	t.Logf("generated configuration:\n%s", cfg)

	vars := config.Variables{
		"aws_endpoint": config.StringVariable(accStack.AWSEndpoint),
		"access_key":   config.StringVariable(a.AccessKeyID),
		"secret_key":   config.StringVariable(a.SecretKey),
		"external_id":  config.StringVariable(a.ExternalID),
	}
	// What the list cannot give: the external ID (filled in), and session_name, which a
	// stack does not record (null in the result and the configuration): the import's
	// apply gives it the default, clusterkit-<name>, checked below.
	notListed := []string{"external_id", "session_name"}
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
		Steps: []resource.TestStep{{
			PreConfig:       func() { creates, updates = countCalls("CreateStack", name), countCalls("UpdateStack", name) },
			Config:          cfg,
			ConfigVariables: vars,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					importedOnly{addr: addr, attrs: []string{"id", "name", "region"}},
					// The stack's outputs and status are read again by the apply.
					plannedAsListed{addr: addr, listed: r.resource, skip: notListed, unknown: []string{"node_instance_role_arn", "stack_id", "status"}},
				},
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectIdentity(addr, map[string]knownvalue.Check{
					"account_id": knownvalue.StringExact("222222222222"), "region": knownvalue.StringExact("us-east-1"), "name": knownvalue.StringExact(name),
				}),
				stateAsListed{addr: addr, listed: r.resource, skip: notListed},
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("endpoint"), knownvalue.StringExact(s.Host)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("session_name"), knownvalue.StringExact("clusterkit-"+name)),
			},
			Check: resource.ComposeTestCheckFunc(noTemporaryCredentials, func(*terraform.State) error {
				if c, u := countCalls("CreateStack", name)-creates, countCalls("UpdateStack", name)-updates; c != 0 || u != 0 {
					return fmt.Errorf("the import's apply made %d CreateStack and %d UpdateStack calls, want none", c, u)
				}
				return nil
			}),
		}},
	}))
}
