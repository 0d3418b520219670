package provider

import (
	"fmt"
	"os"
	"sort"
	"strings"
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

// TestAccManagedApp_ListGeneratedConfig (OpenTofu: needsResourceIdentity; no CLI here runs
// `terraform query`): a release the helm binary installed is listed through the protocol
// server, and the configuration `terraform query -generate-config-out` writes from that
// result (an import block by identity, the managed_app block from the result's attributes)
// is run, with the two things a user fills in: the token (never in a result) and the chart
// repository (helm's record does not say it). The import adopts the release: an in-place
// update that only records it (no install pod, helm's revision stays 1), the identity the
// list gave, and an empty plan after.
func TestAccManagedApp_ListGeneratedConfig(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name, ns = "ck-list-gen", "ck-list-gen-ns"
	deleteNamespaceAtEnd(t, cs, ns)
	pods := watchInstallPods(t, cs, name)
	helmInstall(t, ns, name, "--set", "message=listed", "--set", "replicaCount=2")

	_, got := callList(t, listServer(t, true), "clusterkit_managed_app", map[string]tftypes.Value{
		"cluster_connection": listConnection(s.Host, s.CAPEM, s.Token), "namespaces": strList(ns),
	}, true, 10)
	if len(got) != 1 || len(got[0].diags) > 0 {
		t.Fatalf("list: %+v, want one result", got)
	}
	const addr = "clusterkit_managed_app.listed_0"
	cfg := generatedConfig(t, "listed_0", got[0])
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

// generatedConfig writes what -generate-config-out writes for one list result: an import
// block by the result's identity and a resource block of the result's configurable
// attributes (null ones left out), with the token and a null chart repository filled in
// from variables, as a user completes the file.
func generatedConfig(t *testing.T, label string, r listed) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`terraform {
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

`)
	fmt.Fprintf(&b, "import {\n  to = clusterkit_managed_app.%s\n  identity = {\n", label)
	keys := make([]string, 0, len(r.identity))
	for k := range r.identity {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "    %s = %s\n", k, hclString(r.identity[k]))
	}
	fmt.Fprintf(&b, "  }\n}\n\nresource \"clusterkit_managed_app\" %q {\n", label)
	res := r.resource
	for _, attr := range []string{"name", "namespace", "app", "version"} {
		if v := res[attr]; !v.IsNull() {
			fmt.Fprintf(&b, "  %s = %s\n", attr, hclString(tfString(t, v)))
		}
	}
	if v := dynamicString(t, res["values"]); v != "" {
		fmt.Fprintf(&b, "  values = %s\n", hclString(v))
	}
	if c := res["chart"]; !c.IsNull() {
		var chart map[string]tftypes.Value
		if err := c.As(&chart); err != nil {
			t.Fatal(err)
		}
		repo := "var.chart_repo" // helm does not record it
		if !chart["repository"].IsNull() {
			repo = hclString(tfString(t, chart["repository"]))
		}
		fmt.Fprintf(&b, "  chart = {\n    repository = %s\n    name       = %s\n    version    = %s\n  }\n",
			repo, hclString(tfString(t, chart["name"])), hclString(tfString(t, chart["version"])))
	}
	var conn map[string]tftypes.Value
	if err := res["cluster_connection"].As(&conn); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "  cluster_connection = {\n    host                   = %s\n    cluster_ca_certificate = %s\n    token                  = var.token\n  }\n}\n",
		hclString(tfString(t, conn["host"])), hclString(tfString(t, conn["cluster_ca_certificate"])))
	return b.String()
}

// hclString quotes s as an HCL string literal (no template sequences).
func hclString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "${", "$${", "%{", "%%{")
	return `"` + r.Replace(s) + `"`
}
