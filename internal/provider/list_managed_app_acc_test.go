package provider

import (
	"fmt"
	"os"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// managedAppConfigHeader is the user's part of the configuration (query writes only the
// import and resource blocks): the provider and the two variables of what they fill in.
const managedAppConfigHeader = `terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

provider "clusterkit" {
  allow_local_requests = true
}

variable "token" {
  type      = string
  sensitive = true
}
variable "chart_repo" { type = string }

`

// TestAccManagedApp_ListGeneratedConfig (OpenTofu: needsResourceIdentity; no CLI here runs
// `terraform query`): a release the helm binary installed is listed through the protocol
// server, and the configuration `terraform query -generate-config-out` writes from that
// result (generatedConfig: an import block by the result's identity, the managed_app block
// of every attribute a user may set, from the result) is run, with the two things a user
// fills in: the token (never in a result) and the chart repository (helm's record does not
// say it); generatedConfig refuses a fill over anything the list gave. The import adopts
// the release: an in-place update from a state of just the identity's attributes to what
// the list gave (no install pod, helm's revision stays 1), the identity the list gave, and
// an empty plan after.
func TestAccManagedApp_ListGeneratedConfig(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name, ns = "ck-list-gen", "ck-list-gen-ns"
	deleteNamespaceAtEnd(t, cs, ns)
	pods := watchInstallPods(t, cs, name)
	helmInstall(t, ns, name, "--set", "message=listed", "--set", "replicaCount=2")

	srv := listServer(t, true)
	_, got := callList(t, srv, "clusterkit_managed_app", map[string]tftypes.Value{
		"cluster_connection": listConnection(s.Host, s.CAPEM, s.Token), "namespaces": strList(ns),
	}, true, 10)
	if len(got) != 1 || len(got[0].diags) > 0 {
		t.Fatalf("list: %+v, want one result", got)
	}
	const addr = "clusterkit_managed_app.listed_0"
	cfg := managedAppConfigHeader + generatedConfig(t, resourceSchema(t, srv, "clusterkit_managed_app"), "clusterkit_managed_app", "listed_0", got[0],
		map[string]string{"cluster_connection.token": "var.token", "chart.repository": "var.chart_repo"})
	t.Logf("generated configuration:\n%s", cfg)
	identity := map[string]knownvalue.Check{
		"host": knownvalue.StringExact(s.Host), "namespace": knownvalue.StringExact(ns), "name": knownvalue.StringExact(name),
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck:               func() { testAccPreCheck(t) },
		TerraformVersionChecks: needsResourceIdentity,
		Steps: []tfresource.TestStep{{
			Config: cfg,
			ConfigVariables: config.Variables{
				"token":      config.StringVariable(s.Token),
				"chart_repo": config.StringVariable(os.Getenv("CLUSTERKIT_TEST_CHART_REPO_URL")),
			},
			ConfigPlanChecks: tfresource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					// The import could record only what the identity says: ImportResourceState
					// and ReadResource get no configuration, so no connection to read the
					// release with. The update records what the list gave.
					importedOnly{addr: addr, attrs: []string{"id", "name", "namespace"}},
					plannedAsListed{addr: addr, listed: got[0].resource, skip: []string{"cluster_connection", "chart"}},
					plancheck.ExpectKnownValue(addr, jpath("revision"), knownvalue.Int64Exact(1)),
					plancheck.ExpectKnownValue(addr, jpath("status"), knownvalue.StringExact("deployed")),
				},
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectIdentity(addr, identity)},
			Check: func(*terraform.State) error {
				if err := expectRelease(cs, ns, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
					return err
				}
				if uids := pods.podUIDs(kube.InstallPodName(name, kube.ActionInstall)); len(uids) != 0 {
					return fmt.Errorf("the import ran %d install pods, want none", len(uids))
				}
				return nil
			},
		}},
	}))
}
