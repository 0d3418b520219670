package provider

// Catalog extras of managed apps: the cert-manager ClusterIssuer and the ingress endpoint.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// TestAccManagedApp_CertManagerClusterIssuer installs cert-manager (through the stack's
// mirror) with a ClusterIssuer: the issuer manifest travels in the values ConfigMap next to
// values.yaml, the catalog's post-install step installs it with helm after cert-manager,
// and its pre-uninstall step removes it again.
func TestAccManagedApp_CertManagerClusterIssuer(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	certManager, _ := apps.Lookup("cert-manager")
	deleteKeptCRDAtEnd(t, cs, certManagerCRD)
	issuer := func() (int, error) {
		var code int
		err := cs.CoreV1().RESTClient().Get().AbsPath("/apis/cert-manager.io/v1/clusterissuers/le-staging").Do(ctx).StatusCode(&code).Error()
		if code == 404 {
			return code, nil
		}
		return code, err
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if code, err := issuer(); err != nil || code != 404 {
				return fmt.Errorf("the ClusterIssuer outlived cert-manager: HTTP %d %v", code, err)
			}
			return expectChartGone(cs, "cert-manager", "ck-cert-manager-cluster-issuer")
		},
		Steps: []tfresource.TestStep{{
			Config: providerCharts + integrationVarsHCL + `
resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name           = "ck-cert-manager"
  app            = "cert-manager"
  cluster_issuer = { email = "ops@example.com", name = "le-staging", server = "https://acme-staging-v02.api.letsencrypt.org/directory" }
}`,
			ConfigVariables: managedAppVars(t, s, nil),
			Check: func(*terraform.State) error {
				cm, err := cs.CoreV1().ConfigMaps(kube.DefaultInstallNamespace).Get(ctx, kube.ValuesConfigMapName("ck-cert-manager"), metav1.GetOptions{})
				if err != nil {
					return err
				}
				manifest := cm.Data["cluster-issuer.yaml"]
				for _, want := range []string{"kind: ClusterIssuer", "name: le-staging", "email: ops@example.com", "acme-staging-v02"} {
					if !strings.Contains(manifest, want) {
						return fmt.Errorf("cluster-issuer.yaml lacks %q:\n%s", want, manifest)
					}
				}
				if err := expectRelease(cs, "cert-manager", "ck-cert-manager", 1, kube.ReleaseDeployed, certManager.Version); err != nil {
					return err
				}
				if err := expectRelease(cs, "cert-manager", "ck-cert-manager-cluster-issuer", 1, kube.ReleaseDeployed, "1.0.0"); err != nil {
					return err
				}
				if code, err := issuer(); err != nil || code != 200 {
					return fmt.Errorf("ClusterIssuer le-staging: HTTP %d %v", code, err)
				}
				return nil
			},
		}},
	}))
}

// TestAccManagedApp_IngressEndpoint: the ingress controller's Service gets a load balancer
// address (the stack's load balancer controller gives every LoadBalancer Service one, as a
// cloud's does), which the install reads into outputs["endpoint"]; when the address changes
// later, a refresh follows it without planning a change. The release is not called
// "ingress-nginx", so the Service is "web-ingress-nginx-controller" (helm's fullname rule).
func TestAccManagedApp_IngressEndpoint(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	config := providerCharts + integrationVarsHCL + `
resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name      = "web"
  app       = "ingress-nginx"
  namespace = "ck-ingress-ep"
}`
	deleteNamespaceAtEnd(t, cs, "ck-ingress-ep")
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []tfresource.TestStep{
			{
				Config:          config,
				ConfigVariables: managedAppVars(t, s, nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, tfjsonpath.New("outputs"), knownvalue.MapExact(map[string]knownvalue.Check{
						"service": knownvalue.StringExact("web-ingress-nginx-controller"), "ingress_class": knownvalue.StringExact("nginx"),
						"endpoint": knownvalue.StringExact("web-ingress-nginx-controller.ck-ingress-ep.lb.clusterkit.test"),
					})),
				},
			},
			{
				// The load balancer is replaced (its address changes) outside Terraform.
				PreConfig: func() {
					svc, err := cs.CoreV1().Services("ck-ingress-ep").Get(ctx, "web-ingress-nginx-controller", metav1.GetOptions{})
					if err != nil {
						t.Fatal(err)
					}
					svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "a1b2c3.elb.eu-west-1.amazonaws.com"}}
					if _, err := cs.CoreV1().Services("ck-ingress-ep").UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config:          config,
				ConfigVariables: managedAppVars(t, s, nil),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, tfjsonpath.New("outputs").AtMapKey("endpoint"), knownvalue.StringExact("a1b2c3.elb.eu-west-1.amazonaws.com")),
				},
			},
		},
	}))
}

// TestAccManagedApp_RetiredAppWarns: a catalog entry with a notice (ingress-nginx, retired
// upstream) gets a warning on its `app` attribute from `tofu validate`, before any plan.
func TestAccManagedApp_RetiredAppWarns(t *testing.T) {
	stackFromEnv(t)
	w := newTofuWorkdir(t, providerLocal+`
resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = "https://k8s.example.com"
    cluster_ca_certificate = "unused by validate"
    token                  = "unused by validate"
  }
  name = "web-ingress"
  app  = "ingress-nginx"
}`)
	out, err := w.run(context.Background(), "validate", "-json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Valid       bool `json:"valid"`
		Diagnostics []struct {
			Severity string `json:"severity"`
			Summary  string `json:"summary"`
			Detail   string `json:"detail"`
			Snippet  struct {
				Code string `json:"code"`
			} `json:"snippet"`
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, d := range res.Diagnostics {
		if d.Summary == `Catalog app "ingress-nginx": please read` {
			if !res.Valid || d.Severity != "warning" || !strings.Contains(d.Detail, "retired") || !strings.Contains(d.Snippet.Code, `app  = "ingress-nginx"`) {
				t.Fatalf("valid=%v, diagnostic %+v", res.Valid, d)
			}
			return
		}
	}
	t.Fatalf("no warning about the retired app:\n%s", out)
}

// demoChartConfig is a managed app of the test chart "demo" from the stack's chart
// repository (managedAppVars), with extra attributes appended.
func demoChartConfig(name, release, version, extra string) string {
	return providerCharts + integrationVarsHCL + fmt.Sprintf(`
resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name      = %q
  namespace = %q
  chart = {
    repository = var.chart_repo
    name       = "demo"
    version    = %q
  }
  %s
}`, name, release, version, extra)
}
