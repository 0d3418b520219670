package provider

import (
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
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
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

const managedAppAddr = "clusterkit_managed_app.test"

var installNS = kube.DefaultInstallNamespace

// managedAppVars are the variables of a managed-app test configuration: the cluster
// connection (integrationVarsHCL) and the chart sources (providerCharts).
func managedAppVars(t testing.TB, s testStack, extra config.Variables) config.Variables {
	vars := integrationVars(s, extra)
	maps.Copy(vars, chartVars(t))
	return vars
}

func jpath(name string) tfjsonpath.Path { return tfjsonpath.New(name) }

func TestAccManagedApp_Lifecycle(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name = "ck-ma-life"
	owner := "managed_app/ingress-nginx/" + name
	pods := watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, "ingress-nginx")
	ctx := context.Background()
	binding := "clusterkit-installer-" + installNS + "-" + name
	ingress, _ := apps.Lookup("ingress-nginx")
	ingressPin := ingress.Version

	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if err := pods.expectRan(kube.InstallPodName(name, kube.ActionUninstall), 1, corev1.PodSucceeded); err != nil {
				return err
			}
			// helm uninstall removed every object of the chart and every release record.
			if err := expectChartGone(cs, "ingress-nginx", name); err != nil {
				return err
			}
			_, err := cs.CoreV1().ConfigMaps(installNS).Get(ctx, kube.ValuesConfigMapName(name), metav1.GetOptions{})
			if err := expectAbsent("values config map", err); err != nil {
				return err
			}
			_, err = cs.RbacV1().ClusterRoleBindings().Get(ctx, binding, metav1.GetOptions{})
			if err := expectAbsent("installer binding", err); err != nil {
				return err
			}
			// The last app gone, the shared install namespace is being deleted too.
			return expectDeleting(cs, installNS)
		},
		Steps: []tfresource.TestStep{
			{
				ConfigDirectory: config.StaticDirectory("testdata/TestAccManagedApp_Lifecycle/create"),
				ConfigVariables: managedAppVars(t, s, nil),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("namespace"), knownvalue.StringExact("ingress-nginx")),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("chart_version"), knownvalue.StringExact(ingressPin)),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("installer_cluster_admin"), knownvalue.Bool(true)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("id"), knownvalue.StringExact("ingress-nginx/"+name)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("chart_version"), knownvalue.StringExact(ingressPin)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("installer_image"), knownvalue.StringExact(kube.DefaultInstallerImage)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("keep_failed_pod"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("installed_at"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT`))),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("outputs").AtMapKey("service"), knownvalue.StringExact("ck-ma-life-ingress-nginx-controller")),
					statecheck.ExpectKnownOutputValue("ingress_class", knownvalue.StringExact("nginx")),
				},
				Check: func(*terraform.State) error {
					// Catalog defaults merged with the user's values.
					if err := expectValuesConfigMap(cs, name, owner, []string{"replicaCount: 1", "ingressClassResource:", "externalTrafficPolicy: Local"}, nil); err != nil {
						return err
					}
					// What helm made from them, through the mirror: the user's replica count
					// and the catalog's pod annotations on the live controller Deployment,
					// its LoadBalancer Service, and helm's record of revision 1.
					if err := expectRelease(cs, "ingress-nginx", name, 1, kube.ReleaseDeployed, ingressPin); err != nil {
						return err
					}
					if err := expectDeployment(cs, "ingress-nginx", name+"-ingress-nginx-controller", 1,
						map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "10254"}); err != nil {
						return err
					}
					svc, err := cs.CoreV1().Services("ingress-nginx").Get(ctx, name+"-ingress-nginx-controller", metav1.GetOptions{})
					if err != nil || svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
						return fmt.Errorf("controller service: %v %v", err, svc.Spec.Type)
					}
					if err := expectServiceAccount(cs, installNS, kube.InstallerServiceAccountName(name), owner); err != nil {
						return err
					}
					// The installer held cluster-admin only while its pod ran (the chart's
					// IngressClass and ClusterRole needed it): no binding is left.
					_, err = cs.RbacV1().ClusterRoleBindings().Get(ctx, binding, metav1.GetOptions{})
					if err := expectAbsent("installer cluster role binding after the pod", err); err != nil {
						return err
					}
					pod := kube.InstallPodName(name, kube.ActionInstall)
					if err := pods.expectRan(pod, 1, corev1.PodSucceeded); err != nil {
						return err
					}
					p, err := pods.created(pod)
					if err != nil {
						return err
					}
					if err := expectInstallPodSpec(p, name, "ingress-nginx", ingressPin, map[string]string{"team": "platform"}); err != nil {
						return err
					}
					// Deleted once it succeeded.
					_, err = cs.CoreV1().Pods(installNS).Get(ctx, pod, metav1.GetOptions{})
					return expectAbsent("succeeded install pod", err)
				},
			},
			{
				// Values change: an upgrade with the same pod, revision 2.
				ConfigDirectory: config.StaticDirectory("testdata/TestAccManagedApp_Lifecycle/update"),
				ConfigVariables: managedAppVars(t, s, nil),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(managedAppAddr, jpath("revision")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
				},
				Check: func(*terraform.State) error {
					if err := expectValuesConfigMap(cs, name, owner, []string{"replicaCount: 3", "ingressClassResource:"}, []string{"replicaCount: 1"}); err != nil {
						return err
					}
					if err := expectRelease(cs, "ingress-nginx", name, 2, kube.ReleaseDeployed, ingressPin); err != nil {
						return err
					}
					if err := expectDeployment(cs, "ingress-nginx", name+"-ingress-nginx-controller", 3, nil); err != nil {
						return err
					}
					return pods.expectRan(kube.InstallPodName(name, kube.ActionInstall), 2, corev1.PodSucceeded)
				},
			},
		},
	}))
}

func TestAccManagedApp_CustomChart(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name, release = "ck-ma-chart", "ck-ma-chart-ns"
	owner := "managed_app/" + release + "/" + name
	const secret1, secret2 = "s3cr3t-first-Zq81", "s3cr3t-second-Hx27"
	pods := watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, release)
	ctx := context.Background()
	dir := config.StaticDirectory("testdata/TestAccManagedApp_CustomChart")
	vars := func(secret, version string) config.Variables {
		return managedAppVars(t, s, config.Variables{
			"secret_values":  config.StringVariable("message: " + secret + "\n"),
			"secret_version": config.StringVariable(version),
		})
	}
	badValues := vars(secret2, "2")
	badValues["values"] = config.StringVariable("replicaCount: two\n")
	expectSecret := func(want string) error {
		sec, err := cs.CoreV1().Secrets(installNS).Get(ctx, kube.ValuesSecretName(name), metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("sensitive values secret: %w", err)
		}
		if got := string(sec.Data[kube.SecretValuesFile]); !strings.Contains(got, want) {
			return fmt.Errorf("sensitive values secret does not hold the current values")
		}
		return expectOwned("secret", sec.Name, sec.Labels, sec.Annotations, owner)
	}
	// helm got the sensitive values after the values: the chart's ConfigMap says so.
	expectLive := func(revision int, message string) error {
		if err := expectRelease(cs, release, name, revision, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
			return err
		}
		if err := expectDeployment(cs, release, name+"-demo", 2, nil); err != nil {
			return err
		}
		cm, err := cs.CoreV1().ConfigMaps(release).Get(ctx, name+"-demo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data["message"] != message || cm.Data["replicaCount"] != "2" {
			return fmt.Errorf("the chart's config map does not hold the values helm got (replicaCount %q)", cm.Data["replicaCount"])
		}
		return nil
	}
	// Neither secret appears anywhere in state (nor the plan's view of it).
	notInState := func(st *terraform.State) error {
		for _, m := range st.Modules {
			for addr, r := range m.Resources {
				for k, v := range r.Primary.Attributes {
					if strings.Contains(v, "s3cr3t") {
						return fmt.Errorf("%s.%s holds a sensitive value", addr, k)
					}
				}
			}
		}
		return nil
	}

	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if err := pods.expectRan(kube.InstallPodName(name, kube.ActionUninstall), 1, corev1.PodSucceeded); err != nil {
				return err
			}
			_, err := cs.CoreV1().Secrets(installNS).Get(ctx, kube.ValuesSecretName(name), metav1.GetOptions{})
			if err := expectAbsent("sensitive values secret", err); err != nil {
				return err
			}
			_, err = cs.RbacV1().RoleBindings(release).Get(ctx, "clusterkit-installer-"+installNS+"-"+name, metav1.GetOptions{})
			if err := expectAbsent("installer role binding", err); err != nil {
				return err
			}
			return expectChartGone(cs, release, name)
		},
		Steps: []tfresource.TestStep{
			{
				ConfigDirectory: dir,
				ConfigVariables: vars(secret1, "1"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("id"), knownvalue.StringExact(release+"/"+name)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("sensitive_values"), knownvalue.Null()),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("sensitive_values_version"), knownvalue.StringExact("1")),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("installer_cluster_admin"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("chart_version"), knownvalue.StringExact(chartsrc.DemoVersion)),
					// appVersion in internal/testenv/testdata/charts/demo/Chart.yaml
					statecheck.ExpectKnownValue(managedAppAddr, jpath("app_version"), knownvalue.StringExact("1.0.0")),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("outputs"), knownvalue.MapSizeExact(0)),
				},
				Check: func(st *terraform.State) error {
					if err := notInState(st); err != nil {
						return err
					}
					if err := expectValuesConfigMap(cs, name, owner, []string{"replicaCount: 2"}, []string{"s3cr3t"}); err != nil {
						return err
					}
					if err := expectLive(1, secret1); err != nil {
						return err
					}
					if err := expectSecret(secret1); err != nil {
						return err
					}
					// Namespaced rights only (admin inside the release namespace), and only while
					// the pod ran: neither binding is left.
					_, err := cs.RbacV1().RoleBindings(release).Get(ctx, "clusterkit-installer-"+installNS+"-"+name, metav1.GetOptions{})
					if err := expectAbsent("installer role binding after the pod", err); err != nil {
						return err
					}
					_, err = cs.RbacV1().ClusterRoleBindings().Get(ctx, "clusterkit-installer-"+installNS+"-"+name, metav1.GetOptions{})
					if err := expectAbsent("installer cluster role binding", err); err != nil {
						return err
					}
					p, err := pods.created(kube.InstallPodName(name, kube.ActionInstall))
					if err != nil {
						return err
					}
					if err := expectInstallPodSpec(p, name, release, chartsrc.DemoVersion, nil); err != nil {
						return err
					}
					if env := podEnv(&p); env["CHART_REPOSITORY"] != os.Getenv("CLUSTERKIT_TEST_CHART_REPO_URL") || env["CHART_NAME"] != "demo" {
						return fmt.Errorf("install pod inputs: %v", env)
					}
					sources := p.Spec.Volumes[0].Projected.Sources
					if len(sources) != 2 || sources[1].Secret == nil || sources[1].Secret.Name != kube.ValuesSecretName(name) {
						return fmt.Errorf("sensitive values are not mounted from their secret: %+v", sources)
					}
					return nil
				},
			},
			{
				// A new write-only value alone is invisible to Terraform: no change.
				ConfigDirectory: dir,
				ConfigVariables: vars(secret2, "1"),
				PlanOnly:        true,
			},
			{
				// Bumping the version applies it.
				ConfigDirectory: dir,
				ConfigVariables: vars(secret2, "2"),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(2)),
				},
				Check: func(st *terraform.State) error {
					if err := notInState(st); err != nil {
						return err
					}
					if err := expectLive(2, secret2); err != nil {
						return err
					}
					return expectSecret(secret2)
				},
			},
			{
				// Values that break the chart's template: helm refuses the upgrade, the
				// diagnostic quotes helm's error, and the release stays at revision 2.
				ConfigDirectory: dir,
				ConfigVariables: badValues,
				ExpectError: regexp.MustCompile(`(?s)install\s+pod\s+clusterkit-managed-apps/install-ck-ma-chart\s+failed:\s+exit\s+code\s+1.*helm\s+said:.*` +
					regexp.QuoteMeta(chartsrc.DemoBadValueError)),
			},
			{
				// The failed upgrade is planned again until the configuration changes...
				PreConfig: func() {
					if err := expectLive(2, secret2); err != nil {
						t.Fatalf("after the refused upgrade: %v", err)
					}
				},
				ConfigDirectory:    dir,
				ConfigVariables:    badValues,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// ... and going back to the values that are deployed plans nothing once a
				// refresh has found the release deployed.
				ConfigDirectory: dir,
				ConfigVariables: vars(secret2, "2"),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionNoop),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(2)),
				},
			},
		},
	}))
}

func TestAccManagedApp_ReleaseDeletedOutOfBand(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name, release = "ck-ma-drift", "ck-ma-drift-ns"
	watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, release)
	dir := config.StaticDirectory("testdata/TestAccManagedApp_ReleaseDeletedOutOfBand")
	vars := managedAppVars(t, s, nil)
	// Another helm client's operations leave newer revisions behind (helm wrote revision 1).
	record := func(rev int, status kube.ReleaseStatus, age time.Duration) func() {
		return func() {
			addReleaseRecord(t, cs, kube.Release{Name: name, Namespace: release, ChartName: "demo", Revision: rev,
				ChartVersion: chartsrc.DemoVersion, Status: status, LastDeployed: time.Now().Add(-age)})
		}
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []tfresource.TestStep{
			{
				ConfigDirectory: dir,
				ConfigVariables: vars,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
				},
				Check: func(*terraform.State) error {
					return expectRelease(cs, release, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion)
				},
			},
			{
				// A failed release: the plan upgrades it back to deployed.
				PreConfig:          record(2, kube.ReleaseFailed, time.Minute),
				ConfigDirectory:    dir,
				ConfigVariables:    vars,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
				}},
			},
			{
				// A pending upgrade that just started is another run's: left alone.
				PreConfig:       record(3, kube.ReleasePendingUpgrade, 0),
				ConfigDirectory: dir,
				ConfigVariables: vars,
				PlanOnly:        true,
			},
			{
				// ... but one stuck for longer than timeouts.update is recovered.
				PreConfig:          record(4, kube.ReleasePendingUpgrade, time.Hour),
				ConfigDirectory:    dir,
				ConfigVariables:    vars,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
				}},
			},
			{
				// The release's records deleted out of band: the plan installs it again.
				PreConfig: func() {
					if err := cs.CoreV1().Secrets(release).DeleteCollection(context.Background(), metav1.DeleteOptions{},
						metav1.ListOptions{LabelSelector: "owner=helm,name=" + name}); err != nil {
						t.Fatal(err)
					}
				},
				ConfigDirectory:    dir,
				ConfigVariables:    vars,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionCreate),
				}},
			},
			{
				ConfigDirectory: dir,
				ConfigVariables: vars,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
				},
				Check: func(*terraform.State) error {
					return expectRelease(cs, release, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion)
				},
			},
		},
	}))
}

func TestAccManagedApp_Import(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name, release = "ck-ma-import", "ck-ma-import-ns"
	watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, release)
	dir := config.StaticDirectory("testdata/TestAccManagedApp_Import")
	vars := managedAppVars(t, s, config.Variables{"oci_registry": config.StringVariable(os.Getenv("CLUSTERKIT_TEST_OCI_PUBLIC_REGISTRY"))})
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []tfresource.TestStep{
			{
				// From the OCI registry this time.
				ConfigDirectory: dir, ConfigVariables: vars,
				Check: func(*terraform.State) error {
					return expectRelease(cs, release, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion)
				},
			},
			{
				// The connection cannot be read from the cluster: the plan after the
				// import takes it from the configuration and converges with an upgrade.
				ResourceName:       managedAppAddr,
				ImportState:        true,
				ImportStateKind:    tfresource.ImportBlockWithID,
				ImportStateId:      release + "/" + name,
				ExpectNonEmptyPlan: true,
				ImportPlanChecks: tfresource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("id"), knownvalue.StringExact(release+"/"+name)),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("namespace"), knownvalue.StringExact(release)),
				}},
				ConfigDirectory: dir,
				ConfigVariables: vars,
			},
			{
				ResourceName:    managedAppAddr,
				ImportState:     true,
				ImportStateKind: tfresource.ImportBlockWithID,
				ImportStateId:   "not-an-id",
				ExpectError:     regexp.MustCompile(`(?s)Invalid import ID.*<namespace>/<name>`),
				ConfigDirectory: dir,
				ConfigVariables: vars,
			},
		},
	}))
}

// Three apps in one apply: their creates race to make the shared install namespace and
// service account, their destroys to remove them; all must succeed and leave nothing.
func TestAccManagedApp_ConcurrentApps(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	var logs []*podLog
	for i := 1; i <= 3; i++ {
		logs = append(logs, watchInstallPods(t, cs, fmt.Sprintf("ck-ma-conc-%d", i)))
		deleteNamespaceAtEnd(t, cs, fmt.Sprintf("ck-ma-conc-%d", i))
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			for i, l := range logs {
				if err := l.expectRan(fmt.Sprintf("uninstall-ck-ma-conc-%d", i+1), 1, corev1.PodSucceeded); err != nil {
					return err
				}
			}
			return expectDeleting(cs, installNS)
		},
		Steps: []tfresource.TestStep{{
			ConfigDirectory: config.StaticDirectory("testdata/TestAccManagedApp_ConcurrentApps"),
			ConfigVariables: managedAppVars(t, s, nil),
			Check: func(*terraform.State) error {
				for i, l := range logs {
					if err := l.expectRan(fmt.Sprintf("install-ck-ma-conc-%d", i+1), 1, corev1.PodSucceeded); err != nil {
						return err
					}
				}
				return nil
			},
		}},
	}))
}

func TestAccManagedApp_InvalidConfig(t *testing.T) {
	s := stackFromEnv(t)
	const chart = `chart = { repository = "https://charts.example.com", name = "demo", version = "1.0.0" }`
	cases := map[string]struct{ provider, body, want string }{
		"unknown app":         {providerLocal, `app = "nope"`, `(?s)"nope"\s+is\s+not\s+in\s+the\s+catalog;\s+valid\s+names\s+are:\s+cert-manager,\s+cilium,.*prometheus`},
		"app and chart":       {providerLocal, `app = "cert-manager"` + "\n" + chart, `(?s)Invalid\s+Attribute\s+Combination.*exactly\s+one\s+of\s+app.*or\s+chart.*both\s+are\s+set`},
		"neither":             {providerLocal, ``, `(?s)Invalid\s+Attribute\s+Combination.*exactly\s+one\s+of\s+app.*neither\s+is\s+set`},
		"bad YAML":            {providerLocal, chart + "\n" + `values = "a: [1"`, `(?s)Invalid\s+values.*YAML\s+mapping`},
		"YAML list":           {providerLocal, chart + "\n" + `values = "- a\n- b"`, `(?s)Invalid\s+values.*YAML\s+mapping`},
		"http repository":     {providerLocal, `chart = { repository = "http://charts.example.com", name = "demo", version = "1.0.0" }`, `(?s)chart.repository.*not\s+an\s+https://\s+chart\s+repository`},
		"version range":       {providerLocal, `chart = { repository = "https://charts.example.com", name = "demo", version = "~1.0" }`, `(?s)chart.version.*pinned\s+chart\s+version`},
		"install namespace":   {providerLocal, chart + "\n" + `namespace = "clusterkit-managed-apps"`, `(?s)Invalid\s+namespace.*is\s+the\s+install\s+namespace`},
		"version + chart":     {providerLocal, chart + "\n" + `version = "1.2.3"`, `(?s)Invalid\s+Attribute\s+Combination.*version`},
		"bad name":            {providerLocal, `app = "cert-manager"`, `(?s)Invalid\s+name.*DNS-1123`},
		"reserved label":      {providerLocal, chart + "\n" + `installer_pod_labels = { "clusterkit.dev/app" = "x" }`, `(?s)installer_pod_labels.*set\s+by\s+clusterkit`},
		"bad sensitive":       {providerLocal, chart + "\n" + `sensitive_values = "hunter2: [x"`, `(?s)Invalid\s+sensitive_values.*YAML\s+mapping\s+of\s+chart\s+values`},
		"issuer on other app": {providerLocal, `app = "ingress-nginx"` + "\n" + `cluster_issuer = { email = "ops@example.com" }`, `(?s)cluster_issuer\s+is\s+only\s+valid\s+with\s+app\s+=\s+"cert-manager"`},
		"issuer bad email":    {providerLocal, `app = "cert-manager"` + "\n" + `cluster_issuer = { email = "not-an-email" }`, `(?s)Invalid\s+cluster_issuer.*"not-an-email"\s+is\s+not\s+an\s+email`},
		"bad installer SA":    {providerLocal, chart + "\n" + `installer_service_account = "Team_Installer"`, `(?s)installer_service_account.*not\s+a\s+service\s+account\s+name`},
		"SA + cluster admin":  {providerLocal, chart + "\n" + `installer_service_account = "team-installer"` + "\n" + `installer_cluster_admin = true`, `(?s)Invalid\s+Attribute\s+Combination.*installer_cluster_admin`},
		"metadata host": {`terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}
provider "clusterkit" {}
`, chart, `(?s)Cluster\s+URL\s+refused.*link-local`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			host, release := "var.host", "ck-ma-invalid"
			if name == "metadata host" {
				host = `"https://169.254.169.254"`
			}
			if name == "bad name" {
				release = "Bad_Name"
			}
			tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
				PreCheck: func() { testAccPreCheck(t) },
				Steps: []tfresource.TestStep{{
					Config: tc.provider + integrationVarsHCL + `
resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = ` + host + `
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name = "` + release + `"
  ` + tc.body + `
}`,
					ConfigVariables: managedAppVars(t, s, nil),
					PlanOnly:        true,
					ExpectError:     regexp.MustCompile(tc.want),
				}},
			}))
		})
	}
}
