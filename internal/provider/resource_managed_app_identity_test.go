package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

func TestManagedAppImport_IdentityAndID(t *testing.T) {
	const typ = "clusterkit_managed_app"
	const host = "https://k8s.example.com:6443"
	cases := []importCase{
		{name: "identity", identity: map[string]any{"host": host, "namespace": "web", "name": "shop"},
			state:        map[string]string{"id": "web/shop", "namespace": "web", "name": "shop", "cluster_connection": "<null>"},
			wantIdentity: map[string]string{"host": host, "namespace": "web", "name": "shop"}},
		{name: "identity without host", identity: map[string]any{"namespace": "web", "name": "shop"},
			state:        map[string]string{"id": "web/shop", "namespace": "web", "name": "shop", "cluster_connection": "<null>"},
			wantIdentity: map[string]string{"host": "<null>", "namespace": "web", "name": "shop"}},
		{name: "ID", id: "web/shop",
			state:        map[string]string{"id": "web/shop", "namespace": "web", "name": "shop", "cluster_connection": "<null>"},
			wantIdentity: map[string]string{"host": "<null>", "namespace": "web", "name": "shop"}},
		{name: "ID with host", id: "web/shop@" + host,
			state:        map[string]string{"id": "web/shop", "namespace": "web", "name": "shop", "cluster_connection": "<null>"},
			wantIdentity: map[string]string{"host": host, "namespace": "web", "name": "shop"}},
		{name: "bad identity", identity: map[string]any{"namespace": "Web", "name": "shop"},
			diag: `Invalid import identity | namespace: "Web" is not a DNS-1123 label (lower case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters).`},
		{name: "bad ID", id: "shop@" + host,
			diag: `Invalid import ID | Expected <namespace>/<name> (the release namespace and release name, both DNS-1123 labels), e.g. ingress-nginx/ingress-nginx, ` +
				`optionally followed by @<host> (the cluster's API server URL, kept in the resource identity); got "shop@https://k8s.example.com:6443".`},
		{name: "empty host", id: "web/shop@",
			diag: `Invalid import ID | Expected <namespace>/<name> (the release namespace and release name, both DNS-1123 labels), e.g. ingress-nginx/ingress-nginx, ` +
				`optionally followed by @<host> (the cluster's API server URL, kept in the resource identity); got "web/shop@".`},
	}
	runImportCases(t, typ, cases, "id", "namespace", "name", "cluster_connection")
}

// TestAccManagedApp_ImportByIdentity (OpenTofu: needsResourceIdentity): the identity
// Create stores (host, namespace, name); the app, dropped from state with its release left
// in the cluster, imported by an identity naming another cluster is refused at plan; by
// its own identity it is adopted: an in-place update that runs no install pod (helm's
// revision stays 1), the same identity, and an empty plan after.
func TestAccManagedApp_ImportByIdentity(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name, ns = "ck-ma-ident", "ck-ma-ident-ns"
	deleteNamespaceAtEnd(t, cs, ns)
	pods := watchInstallPods(t, cs, name)
	identity := map[string]knownvalue.Check{
		"host": knownvalue.StringExact(s.Host), "namespace": knownvalue.StringExact(ns), "name": knownvalue.StringExact(name),
	}
	dir := func(step string) config.TestStepConfigFunc {
		return config.StaticDirectory("testdata/TestAccManagedApp_ImportByIdentity/" + step)
	}
	importVars := func(host string) config.Variables {
		return managedAppVars(t, s, config.Variables{"import_host": config.StringVariable(host)})
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck:               func() { testAccPreCheck(t) },
		TerraformVersionChecks: needsResourceIdentity,
		Steps: []tfresource.TestStep{
			{
				ConfigDirectory: dir("create"), ConfigVariables: managedAppVars(t, s, nil),
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectIdentity(managedAppAddr, identity)},
			},
			{
				ConfigDirectory: dir("forget"), ConfigVariables: managedAppVars(t, s, nil),
				Check: func(*terraform.State) error {
					return expectRelease(cs, ns, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion)
				},
			},
			{
				ConfigDirectory: dir("import"), ConfigVariables: importVars("https://other-cluster.example.com:6443"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Imported app is on another cluster.*The import named the app on cluster\s+https://other-cluster.example.com:6443`),
			},
			{
				ConfigDirectory: dir("import"), ConfigVariables: importVars(s.Host),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectIdentity(managedAppAddr, identity)},
				Check: func(*terraform.State) error {
					if err := expectRelease(cs, ns, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
						return err
					}
					return pods.expectRan(kube.InstallPodName(name, kube.ActionInstall), 1, corev1.PodSucceeded) // the create's only
				},
			},
		},
	}))
}
