package provider

// Catalog extras of managed apps: the cert-manager ClusterIssuer and the ingress endpoint.

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// TestAccManagedApp_CertManagerClusterIssuer installs cert-manager with a ClusterIssuer: the
// issuer manifest travels in the values ConfigMap next to values.yaml, and the install
// pod's script installs it after cert-manager.
func TestAccManagedApp_CertManagerClusterIssuer(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []tfresource.TestStep{{
			Config: providerLocal + integrationVarsHCL + `
resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name           = "ck-cert-manager"
  app            = "cert-manager"
  cluster_issuer = { email = "ops@example.com", name = "le-staging", server = "https://acme-staging-v02.api.letsencrypt.org/directory" }
  installer_pod_annotations = { "testenv.clusterkit.dev/run-time" = "200ms" }
}`,
			ConfigVariables: managedAppVars(t, s, nil),
			Check: func(*terraform.State) error {
				cm, err := cs.CoreV1().ConfigMaps(kube.DefaultInstallNamespace).Get(ctx, kube.ValuesConfigMapName("ck-cert-manager"), metav1.GetOptions{})
				if err != nil {
					return err
				}
				issuer := cm.Data["cluster-issuer.yaml"]
				for _, want := range []string{"kind: ClusterIssuer", "name: le-staging", "email: ops@example.com", "acme-staging-v02"} {
					if !strings.Contains(issuer, want) {
						return fmt.Errorf("cluster-issuer.yaml lacks %q:\n%s", want, issuer)
					}
				}
				return nil
			},
		}},
	}))
}

// TestAccManagedApp_IngressEndpoint: once the ingress controller's Service has a load
// balancer address, a refresh puts it in outputs["endpoint"] without planning a change.
// The release is not called "ingress-nginx", so the Service is "web-ingress-nginx-controller"
// (helm's fullname rule).
func TestAccManagedApp_IngressEndpoint(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	config := providerLocal + integrationVarsHCL + `
resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name      = "web"
  app       = "ingress-nginx"
  namespace = "ck-ingress-ep"
  installer_pod_annotations = { "testenv.clusterkit.dev/run-time" = "200ms" }
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
					})),
				},
			},
			{
				// The cloud's load balancer controller fills in the Service status.
				PreConfig: func() {
					if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ck-ingress-ep"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
						t.Fatal(err)
					}
					svc, err := cs.CoreV1().Services("ck-ingress-ep").Create(ctx, &corev1.Service{
						ObjectMeta: metav1.ObjectMeta{Name: "web-ingress-nginx-controller"},
						Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 443}}},
					}, metav1.CreateOptions{})
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

// TestAccManagedApp_InstallRecord: where helm keeps no release record the provider can
// read (no fakeHelm here), Read trusts the record the provider wrote on the app's values
// ConfigMap: a failed install there plans an upgrade, and a missing ConfigMap plans a
// reinstall.
func TestAccManagedApp_InstallRecord(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	const name, release = "ck-ma-record", "ck-ma-record-ns"
	pods := watchInstallPods(t, cs, name, nil)
	deleteNamespaceAtEnd(t, cs, release)
	cmName := kube.ValuesConfigMapName(name)
	configMaps := cs.CoreV1().ConfigMaps(kube.DefaultInstallNamespace)
	hcl := func(version string) string { return demoChartConfig(name, release, version, "") }
	recorded := func(status, version string) func(*terraform.State) error {
		return func(*terraform.State) error {
			cm, err := configMaps.Get(ctx, cmName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			a := cm.Annotations
			if a[kube.AnnotationInstallStatus] != status || a[kube.AnnotationInstalledVersion] != version || a[kube.AnnotationInstalledChart] != "demo" {
				return fmt.Errorf("install record %v, want status %s version %s", a, status, version)
			}
			return nil
		}
	}
	setStatus := func(status string) func() {
		return func() {
			patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, kube.AnnotationInstallStatus, status)
			if _, err := configMaps.Patch(ctx, cmName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	vars := managedAppVars(t, s, nil)
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []tfresource.TestStep{
			{
				Config:          hcl("2.0.0"),
				ConfigVariables: vars,
				Check:           recorded("deployed", "2.0.0"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("chart_version"), knownvalue.StringExact("2.0.0")),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Null()),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("installed_at"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`))),
				},
			},
			{
				// Upgraded: the record follows the new version.
				Config:          hcl("2.1.0"),
				ConfigVariables: vars,
				Check:           recorded("deployed", "2.1.0"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("chart_version"), knownvalue.StringExact("2.1.0")),
				},
			},
			{
				// The record says the last install failed: the plan upgrades to recover.
				PreConfig:          setStatus("failed"),
				Config:             hcl("2.1.0"),
				ConfigVariables:    vars,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
				}},
			},
			{
				Config:          hcl("2.1.0"),
				ConfigVariables: vars,
				Check:           recorded("deployed", "2.1.0"),
			},
			{
				// The app's install objects deleted out of band: the plan installs it again.
				PreConfig: func() {
					if err := configMaps.Delete(ctx, cmName, metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config:             hcl("2.1.0"),
				ConfigVariables:    vars,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionCreate),
				}},
			},
			{
				Config:          hcl("2.1.0"),
				ConfigVariables: vars,
				Check:           recorded("deployed", "2.1.0"),
			},
		},
	}))
	// install 2.0.0, upgrade 2.1.0, recovery, reinstall; then the uninstall on destroy.
	if err := pods.expectRan("install-"+name, 4, corev1.PodSucceeded); err != nil {
		t.Error(err)
	}
	if err := pods.expectRan("uninstall-"+name, 1, corev1.PodSucceeded); err != nil {
		t.Error(err)
	}
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

// demoChartConfig is a managed app of the test chart "demo" (kwok ends its pods after
// 200ms), with extra attributes appended.
func demoChartConfig(name, release, version, extra string) string {
	return providerLocal + integrationVarsHCL + fmt.Sprintf(`
resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name      = %q
  namespace = %q
  chart = {
    repository = "https://charts.example.com/stable"
    name       = "demo"
    version    = %q
  }
  installer_pod_annotations = { "testenv.clusterkit.dev/run-time" = "200ms" }
  %s
}`, name, release, version, extra)
}
