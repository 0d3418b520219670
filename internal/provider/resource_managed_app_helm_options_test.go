package provider

// helm's switches on managed apps, through OpenTofu against real helm (Helm 4 and, where
// the install pod's flag differs, Helm 3) on the local stack: what they leave in the
// release records and the live objects.

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"

	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// helmImages are the installer images the cases whose helm flag differs by major run with.
var helmImages = []struct{ name, image string }{{"helm4", testenv.Helm4Image}, {"helm3", testenv.Helm3Image}}

// expectHistory checks helm's release records: exactly want, as "v<revision>:<status>".
func expectHistory(cs kubernetes.Interface, ns, name string, want ...string) error {
	got, err := releaseStatuses(cs, ns, name)
	if err != nil {
		return err
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("release %s/%s records %v, want %v", ns, name, got, want)
	}
	return nil
}

// TestAccManagedApp_HelmOptions_MaxHistory: max_history = 2 set on an installed app runs no
// pod (state only); after three upgrades helm has kept exactly two release records, the
// last two revisions.
func TestAccManagedApp_HelmOptions_MaxHistory(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name, release = "ck-ho-history", "ck-ho-history-ns"
	pods := watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, release)
	install := kube.InstallPodName(name, kube.ActionInstall)
	hcl := func(message string, history int) string {
		extra := fmt.Sprintf("values = yamlencode({ message = %q })", message)
		if history > 0 {
			extra += fmt.Sprintf("\n  max_history = %d", history)
		}
		return demoChartConfig(name, release, chartsrc.DemoVersion, extra)
	}
	upgrade := func(message string, revision int, records ...string) tfresource.TestStep {
		return tfresource.TestStep{
			Config:          hcl(message, 2),
			ConfigVariables: managedAppVars(t, s, nil),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(int64(revision))),
			},
			Check: func(*terraform.State) error {
				if err := pods.expectRan(install, revision, corev1.PodSucceeded); err != nil {
					return err
				}
				if err := expectRelease(cs, release, name, revision, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
					return err
				}
				return expectHistory(cs, release, name, records...)
			},
		}
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck:     func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error { return expectChartGone(cs, release, name) },
		Steps: []tfresource.TestStep{
			{
				Config:          hcl("one", 0),
				ConfigVariables: managedAppVars(t, s, nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("max_history"), knownvalue.Int64Exact(10)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("wait"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("atomic"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("cleanup_on_fail"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("take_ownership"), knownvalue.Bool(false)),
				},
				Check: func(*terraform.State) error {
					p, err := pods.created(install)
					if err != nil {
						return err
					}
					if env := podEnv(&p); env["HISTORY_MAX"] != "10" || env["WAIT"] != "true" || env["ROLLBACK_ON_FAILURE"] != "true" {
						return fmt.Errorf("install pod inputs %v", env)
					}
					return expectHistory(cs, release, name, "v1:deployed")
				},
			},
			{
				// The switch alone: an in-place update of state, no pod, the release untouched.
				Config:          hcl("one", 2),
				ConfigVariables: managedAppVars(t, s, nil),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
				}},
				Check: func(*terraform.State) error {
					if n := len(pods.podUIDs(install)); n != 1 {
						return fmt.Errorf("changing max_history alone ran %d install pods, want only the first", n)
					}
					return expectHistory(cs, release, name, "v1:deployed")
				},
			},
			upgrade("two", 2, "v1:superseded", "v2:deployed"),
			upgrade("three", 3, "v2:superseded", "v3:deployed"),
			upgrade("four", 4, "v3:superseded", "v4:deployed"),
		},
	}))
}

// neverReadyValues make the demo chart's pods stay unready on the stack's node, so helm's
// --wait runs into its timeout after the upgrade's revision was written.
const neverReadyValues = `values = yamlencode({ message = "never ready", podAnnotations = { "` + chartsrc.AnnotationNeverReady + `" = "true" } })`

// mustHold is a PreConfig that fails the test unless check passes: how a step looks at what
// a failed apply before it left (a step's Check runs only after a successful apply).
func mustHold(t *testing.T, check func() error) func() {
	return func() {
		t.Helper()
		if err := check(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAccManagedApp_HelmOptions_Atomic: an upgrade whose pods never become ready. With
// atomic (the default) helm rolls it back: the apply fails, revision 2 is failed, revision
// 3 (the rollback) deployed and the Deployment as before. Helm 4 gets
// --rollback-on-failure, Helm 3 --atomic. With atomic = false (Helm 4) the failed revision
// stays the release's latest (the one before stays deployed) and its pods stay in place.
func TestAccManagedApp_HelmOptions_Atomic(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	for _, img := range helmImages {
		t.Run(img.name, func(t *testing.T) {
			name := "ck-ho-atomic-" + img.name
			release := name + "-ns"
			pods := watchInstallPods(t, cs, name)
			deleteNamespaceAtEnd(t, cs, release)
			install := kube.InstallPodName(name, kube.ActionInstall)
			// helm's --timeout is half of a 1-minute operation timeout (30s).
			hcl := func(extra string) string {
				return demoChartConfig(name, release, chartsrc.DemoVersion, fmt.Sprintf("installer_image = %q\n  timeouts = { update = \"1m\" }\n  %s", img.image, extra))
			}
			// helm names the flag it was given: the install pod passed the right one.
			rolledBack := map[string]string{"helm4": "rollback-on-failure", "helm3": "atomic"}[img.name]
			steps := []tfresource.TestStep{
				{
					Config:          hcl(`values = yamlencode({ message = "ready" })`),
					ConfigVariables: managedAppVars(t, s, nil),
					Check: func(*terraform.State) error {
						return expectRelease(cs, release, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion)
					},
				},
				{
					Config:          hcl(neverReadyValues),
					ConfigVariables: managedAppVars(t, s, nil),
					ExpectError: regexp.MustCompile(`(?s)install\s+pod\s+clusterkit-managed-apps/install-` + name + `\s+failed.*helm\s+said:.*` +
						`has\s+been\s+rolled\s+back\s+due\s+to\s+` + rolledBack + `\s+being\s+set`),
				},
				{
					// The failed upgrade left the release as it was: the next refresh finds
					// it deployed again (at the rollback's revision), the plan still wants
					// the upgrade.
					Config:             hcl(neverReadyValues),
					ConfigVariables:    managedAppVars(t, s, nil),
					PlanOnly:           true,
					ExpectNonEmptyPlan: true,
					PreConfig: mustHold(t, func() error {
						if err := expectHistory(cs, release, name, "v1:superseded", "v2:failed", "v3:deployed"); err != nil {
							return err
						}
						if err := expectRelease(cs, release, name, 3, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
							return err
						}
						if err := expectDeployment(cs, release, name+"-demo", 1, map[string]string{chartsrc.AnnotationNeverReady: ""}); err != nil {
							return err
						}
						p, err := pods.created(install)
						if err != nil {
							return err
						}
						if p.Spec.Containers[0].Image != img.image || podEnv(&p)["ROLLBACK_ON_FAILURE"] != "true" {
							return fmt.Errorf("the upgrade ran %s with %v, want %s", p.Spec.Containers[0].Image, podEnv(&p), img.image)
						}
						return nil
					}),
				},
			}
			if img.name == "helm4" {
				steps = append(steps, tfresource.TestStep{
					Config:          hcl("atomic = false\n  " + neverReadyValues),
					ConfigVariables: managedAppVars(t, s, nil),
					ExpectError:     regexp.MustCompile(`(?s)install\s+pod\s+clusterkit-managed-apps/install-` + name + `\s+failed.*helm\s+said:.*UPGRADE\s+FAILED`),
				}, tfresource.TestStep{
					Config:             hcl("atomic = false\n  " + neverReadyValues),
					ConfigVariables:    managedAppVars(t, s, nil),
					PlanOnly:           true,
					ExpectNonEmptyPlan: true,
					PreConfig: mustHold(t, func() error {
						if err := expectHistory(cs, release, name, "v1:superseded", "v2:failed", "v3:deployed", "v4:failed"); err != nil {
							return err
						}
						return expectDeployment(cs, release, name+"-demo", 1, map[string]string{chartsrc.AnnotationNeverReady: "true"})
					}),
				})
			}
			tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
				PreCheck:     func() { testAccPreCheck(t) },
				CheckDestroy: func(*terraform.State) error { return expectChartGone(cs, release, name) },
				Steps:        steps,
			}))
		})
	}
}

// TestAccManagedApp_HelmOptions_TakeOwnership: a ConfigMap made outside helm with the name
// the chart gives its own makes the install fail with helm's ownership error; with
// take_ownership the next apply adopts it (helm's labels and annotations, the chart's
// data), under Helm 4 and Helm 3 (3.17 and later have --take-ownership).
func TestAccManagedApp_HelmOptions_TakeOwnership(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	for _, img := range helmImages {
		t.Run(img.name, func(t *testing.T) {
			name := "ck-ho-own-" + img.name
			release := name + "-ns"
			deleteNamespaceAtEnd(t, cs, release)
			hcl := func(message, extra string) string {
				return demoChartConfig(name, release, chartsrc.DemoVersion, fmt.Sprintf("installer_image = %q\n  values = yamlencode({ message = %q })\n  %s", img.image, message, extra))
			}
			cmName := name + "-demo"
			tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
				PreCheck: func() {
					testAccPreCheck(t)
					if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: release}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
						t.Fatal(err)
					}
					cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cmName, Namespace: release}, Data: map[string]string{"message": "made with kubectl"}}
					if _, err := cs.CoreV1().ConfigMaps(release).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				CheckDestroy: func(*terraform.State) error {
					// Adopted, it is the release's: the uninstall removes it with the rest.
					return expectChartGone(cs, release, name)
				},
				Steps: []tfresource.TestStep{
					{
						Config:          hcl("from the chart", ""),
						ConfigVariables: managedAppVars(t, s, nil),
						ExpectError: regexp.MustCompile(`(?s)helm\s+said:.*ConfigMap\s+"` + cmName + `"\s+in\s+namespace\s+"` + release +
							`"\s+exists\s+and\s+cannot\s+be\s+imported\s+into\s+the\s+current\s+release`),
					},
					{
						// The failed create is replaced: the install adopts the ConfigMap.
						Config:          hcl("from the chart", "take_ownership = true"),
						ConfigVariables: managedAppVars(t, s, nil),
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue(managedAppAddr, jpath("take_ownership"), knownvalue.Bool(true)),
							statecheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
						},
						Check: func(*terraform.State) error {
							if err := expectRelease(cs, release, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
								return err
							}
							cm, err := cs.CoreV1().ConfigMaps(release).Get(ctx, cmName, metav1.GetOptions{})
							if err != nil {
								return err
							}
							if cm.Annotations["meta.helm.sh/release-name"] != name || cm.Annotations["meta.helm.sh/release-namespace"] != release ||
								cm.Labels["app.kubernetes.io/managed-by"] != "Helm" || cm.Data["message"] != "from the chart" {
								return fmt.Errorf("ConfigMap not adopted: labels %v, annotations %v, data %v", cm.Labels, cm.Annotations, cm.Data)
							}
							return nil
						},
					},
					{
						// Someone edits the adopted ConfigMap (another field manager, as kubectl
						// edit is); the next upgrade, still taking ownership, sets the chart's
						// value again (Helm 4: --force-conflicts on a release applied server-side).
						PreConfig: mustHold(t, func() error {
							cm, err := cs.CoreV1().ConfigMaps(release).Get(ctx, cmName, metav1.GetOptions{})
							if err != nil {
								return err
							}
							cm.Data["message"] = "edited by hand"
							_, err = cs.CoreV1().ConfigMaps(release).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
							return err
						}),
						Config:          hcl("upgraded", "take_ownership = true"),
						ConfigVariables: managedAppVars(t, s, nil),
						Check: func(*terraform.State) error {
							if err := expectRelease(cs, release, name, 2, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
								return err
							}
							cm, err := cs.CoreV1().ConfigMaps(release).Get(ctx, cmName, metav1.GetOptions{})
							if err != nil || cm.Data["message"] != "upgraded" {
								return fmt.Errorf("ConfigMap after the upgrade: %v %v", cm.Data, err)
							}
							return nil
						},
					},
				},
			}))
		})
	}
}

// gadgetsCRD is the CRD in the crd-optional test chart's crds/.
const gadgetsCRD = "gadgets.testenv.clusterkit.dev"

func crdExists(cs kubernetes.Interface, name string) (bool, error) {
	var code int
	err := cs.CoreV1().RESTClient().Get().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + name).Do(context.Background()).StatusCode(&code).Error()
	if code == 404 {
		return false, nil
	}
	return err == nil, err
}

// TestAccManagedApp_HelmOptions_SkipCRDs: the crd-optional chart (a CRD in crds/, templates
// that do not need it) installed with skip_crds leaves no CRD, and needs no cluster rights
// (the installer has admin in the release namespace only); turning skip_crds off later runs
// no pod (helm installs CRDs only on a first install). The same chart installed without it
// by a cluster-admin installer creates the CRD, which helm keeps after the uninstall.
func TestAccManagedApp_HelmOptions_SkipCRDs(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name, release = "ck-ho-skipcrds", "ck-ho-skipcrds-ns"
	pods := watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, release)
	deleteNamespaceAtEnd(t, cs, "ck-ho-withcrds-ns")
	deleteKeptCRDAtEnd(t, cs, gadgetsCRD)
	app := func(resource, name, extra string) string {
		return fmt.Sprintf(`
resource "clusterkit_managed_app" %q {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name      = %q
  namespace = "%s-ns"
  chart = {
    repository = var.chart_repo
    name       = "crd-optional"
    version    = "0.1.0"
  }
  %s
}`, resource, name, name, extra)
	}
	noCRD := func() error {
		if ok, err := crdExists(cs, gadgetsCRD); err != nil || ok {
			return fmt.Errorf("CRD %s exists (%v), want none", gadgetsCRD, err)
		}
		return nil
	}
	installed := func(ns, name string) error {
		if err := expectRelease(cs, ns, name, 1, kube.ReleaseDeployed, "0.1.0"); err != nil {
			return err
		}
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), name+"-crd-optional", metav1.GetOptions{})
		if err != nil || cm.Data["message"] != "installed" {
			return fmt.Errorf("the chart's ConfigMap: %v %v", cm, err)
		}
		return nil
	}
	skipping := providerCharts + integrationVarsHCL + app("test", name, "skip_crds = true")
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() {
			testAccPreCheck(t)
			if err := noCRD(); err != nil {
				t.Fatal(err)
			}
		},
		CheckDestroy: func(*terraform.State) error { return expectChartGone(cs, release, name) },
		Steps: []tfresource.TestStep{
			{
				Config:          skipping,
				ConfigVariables: managedAppVars(t, s, nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("skip_crds"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("installer_cluster_admin"), knownvalue.Bool(false)),
				},
				Check: func(*terraform.State) error {
					if err := installed(release, name); err != nil {
						return err
					}
					return noCRD()
				},
			},
			{
				Config:          providerCharts + integrationVarsHCL + app("test", name, "skip_crds = false"),
				ConfigVariables: managedAppVars(t, s, nil),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
				}},
				Check: func(*terraform.State) error {
					if n := len(pods.podUIDs(kube.InstallPodName(name, kube.ActionInstall))); n != 1 {
						return fmt.Errorf("changing skip_crds alone ran %d install pods, want only the first", n)
					}
					return noCRD()
				},
			},
			{
				// The contrast: the same chart without skip_crds installs its CRD.
				Config: providerCharts + integrationVarsHCL + app("test", name, "skip_crds = false") +
					app("with_crds", "ck-ho-withcrds", "installer_cluster_admin = true"),
				ConfigVariables: managedAppVars(t, s, nil),
				Check: func(*terraform.State) error {
					if err := installed("ck-ho-withcrds-ns", "ck-ho-withcrds"); err != nil {
						return err
					}
					if ok, err := crdExists(cs, gadgetsCRD); err != nil || !ok {
						return fmt.Errorf("without skip_crds the chart's CRD %s is missing (%v)", gadgetsCRD, err)
					}
					return nil
				},
			},
		},
	}))
}
