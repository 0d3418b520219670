package provider

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
)

// catalogEntryValue is what the data source must show for a catalog entry, from
// internal/apps itself.
func catalogEntryValue(a apps.App) knownvalue.Check {
	var notice knownvalue.Check = knownvalue.Null()
	if a.Notice != "" {
		notice = knownvalue.StringExact(a.Notice)
	}
	outputs := map[string]knownvalue.Check{}
	for k, v := range a.Outputs {
		outputs[k] = knownvalue.StringExact(v)
	}
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"name":                    knownvalue.StringExact(a.Name),
		"description":             knownvalue.StringExact(a.Description),
		"notice":                  notice,
		"chart":                   knownvalue.StringExact(a.Chart),
		"repository":              knownvalue.StringExact(a.Repository),
		"version":                 knownvalue.StringExact(a.Version),
		"namespace":               knownvalue.StringExact(a.Namespace),
		"installer_cluster_admin": knownvalue.Bool(a.NeedsClusterAdmin),
		"uninstall_order":         knownvalue.Int64Exact(int64(a.UninstallOrder)),
		"outputs":                 knownvalue.MapExact(outputs),
		"fullname_max_length":     knownvalue.Int64Exact(int64(a.FullnameLimit())),
		"default_values":          knownvalue.StringExact(a.DefaultValues),
		"support":                 knownvalue.StringExact(a.Support),
	})
}

func TestAccCatalogDataSource_Basic(t *testing.T) {
	accOnly(t)
	const all, one = "data.clusterkit_catalog.all", "data.clusterkit_catalog.ingress"
	entries := map[string]knownvalue.Check{}
	var names, clusterAdmin []knownvalue.Check
	for _, n := range apps.Names() {
		a, _ := apps.Lookup(n)
		entries[n] = catalogEntryValue(a)
		names = append(names, knownvalue.StringExact(n))
		if a.NeedsClusterAdmin {
			clusterAdmin = append(clusterAdmin, knownvalue.StringExact(n))
		}
	}
	ingress, _ := apps.Lookup("ingress-nginx")
	apath := func(app string) tfjsonpath.Path { return tfjsonpath.New("apps").AtMapKey(app) }
	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []tfresource.TestStep{
			{
				// A name outside the catalog fails the plan and lists the valid ones.
				Config: `terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

data "clusterkit_catalog" "x" {
  name = "nginx"
}
`,
				ExpectError: cliText(`Invalid name`, `"nginx" is not in the catalog; valid names are: cert-manager, cilium,`),
			},
			{
				ConfigDirectory: config.StaticDirectory("testdata/TestAccCatalogDataSource_Basic"),
				ConfigStateChecks: []statecheck.StateCheck{
					// Every entry, attribute by attribute, as internal/apps holds it.
					statecheck.ExpectKnownValue(all, tfjsonpath.New("apps"), knownvalue.MapExact(entries)),
					statecheck.ExpectKnownValue(all, tfjsonpath.New("names"), knownvalue.ListExact(names)),
					statecheck.ExpectKnownValue(all, tfjsonpath.New("support_reviewed"), knownvalue.StringExact(apps.SupportReviewed)),
					statecheck.ExpectKnownValue(all, tfjsonpath.New("name"), knownvalue.Null()),
					// Concrete values a module relies on (and a reader can check by eye).
					statecheck.ExpectKnownValue(all, apath("ingress-nginx").AtMapKey("chart"), knownvalue.StringExact("ingress-nginx")),
					statecheck.ExpectKnownValue(all, apath("ingress-nginx").AtMapKey("repository"), knownvalue.StringExact("https://kubernetes.github.io/ingress-nginx")),
					statecheck.ExpectKnownValue(all, apath("ingress-nginx").AtMapKey("version"), knownvalue.StringExact(ingress.Version)),
					statecheck.ExpectKnownValue(all, apath("ingress-nginx").AtMapKey("notice"), knownvalue.StringRegexp(regexp.MustCompile(`retired by Kubernetes SIG Network`))),
					statecheck.ExpectKnownValue(all, apath("ingress-nginx").AtMapKey("outputs"), knownvalue.MapExact(map[string]knownvalue.Check{
						"service": knownvalue.StringExact("{fullname}-controller"), "ingress_class": knownvalue.StringExact("nginx")})),
					statecheck.ExpectKnownValue(all, apath("prometheus").AtMapKey("chart"), knownvalue.StringExact("kube-prometheus-stack")),
					statecheck.ExpectKnownValue(all, apath("prometheus").AtMapKey("fullname_max_length"), knownvalue.Int64Exact(26)),
					statecheck.ExpectKnownValue(all, apath("cert-manager").AtMapKey("fullname_max_length"), knownvalue.Int64Exact(63)),
					statecheck.ExpectKnownValue(all, apath("gitlab-runner").AtMapKey("installer_cluster_admin"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(all, apath("gitlab-runner").AtMapKey("outputs"), knownvalue.MapSizeExact(0)),
					statecheck.ExpectKnownValue(all, apath("cilium").AtMapKey("uninstall_order"), knownvalue.Int64Exact(1000)),
					statecheck.ExpectKnownValue(all, apath("cert-manager").AtMapKey("notice"), knownvalue.Null()),
					// The filter: one entry.
					statecheck.ExpectKnownValue(one, tfjsonpath.New("names"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("ingress-nginx")})),
					statecheck.ExpectKnownValue(one, tfjsonpath.New("apps"), knownvalue.MapExact(map[string]knownvalue.Check{"ingress-nginx": entries["ingress-nginx"]})),
					// Expressions over it.
					statecheck.ExpectKnownOutputValue("cluster_admin_apps", knownvalue.ListExact(clusterAdmin)),
					statecheck.ExpectKnownOutputValue("notices", knownvalue.MapExact(map[string]knownvalue.Check{"ingress-nginx": knownvalue.StringExact(ingress.Notice)})),
					statecheck.ExpectKnownOutputValue("ingress_version", knownvalue.StringExact(ingress.Version)),
				},
			},
		},
	})
}

// Every attribute of the data source has a description (they become the docs), and the
// function is served with its parameters named.
func TestCatalogDataSourceAndFunction_Schema(t *testing.T) {
	server, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("%s: %s: %s", d.Severity, d.Summary, d.Detail)
	}
	ds, ok := resp.DataSourceSchemas["clusterkit_catalog"]
	if !ok {
		t.Fatalf("clusterkit_catalog missing; data sources: %v", keys(resp.DataSourceSchemas))
	}
	described := 0
	for _, a := range ds.Block.Attributes {
		if strings.TrimSpace(a.Description) == "" {
			t.Errorf("clusterkit_catalog.%s has no description", a.Name)
		}
		if a.NestedType != nil {
			for _, n := range a.NestedType.Attributes {
				if strings.TrimSpace(n.Description) == "" {
					t.Errorf("clusterkit_catalog.%s.%s has no description", a.Name, n.Name)
				}
				described++
			}
		}
	}
	if described != 13 {
		t.Errorf("apps has %d attributes, want 13", described)
	}
	f, ok := resp.Functions["release_fullname"]
	if !ok {
		t.Fatalf("release_fullname missing; functions: %v", keys(resp.Functions))
	}
	var params []string
	for _, p := range f.Parameters {
		params = append(params, p.Name)
	}
	if got := strings.Join(params, ","); got != "release_name,chart_name" || f.VariadicParameter == nil || f.VariadicParameter.Name != "options" {
		t.Errorf("release_fullname(%s, %v...), want release_name, chart_name, options...", got, f.VariadicParameter)
	}
}
