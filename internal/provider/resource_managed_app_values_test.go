package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// TestAccManagedApp_ValuesList: values as a list of documents, as helm_release takes them
// (`[file("common.yaml"), yamlencode({...})]`). Each is a file of its own in the values
// ConfigMap and helm merges them in order: the second overrides the first's message,
// merges into its service map (the type stays, the port changes) and its null removes the
// first's pod annotations. Swapped, the first wins. A document that is not a mapping is
// refused at plan time, named by its index.
func TestAccManagedApp_ValuesList(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	const name, release = "ck-ma-values", "ck-ma-values-ns"
	pods := watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, release)
	dir := config.TestNameDirectory()
	common, err := os.ReadFile("testdata/TestAccManagedApp_ValuesList/common.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vars := func(overrideFirst bool, extra ...string) config.Variables {
		v := config.Variables{"override_first": config.BoolVariable(overrideFirst)}
		if len(extra) > 0 { // an empty ListVariable would be null: the default [] instead
			var list []config.Variable
			for _, e := range extra {
				list = append(list, config.StringVariable(e))
			}
			v["extra"] = config.ListVariable(list...)
		}
		return managedAppVars(t, s, v)
	}
	// live checks what helm rendered from the merged values.
	live := func(revision int, message string, port int32, annotations map[string]string) error {
		if err := expectRelease(cs, release, name, revision, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
			return err
		}
		cm, err := cs.CoreV1().ConfigMaps(release).Get(ctx, name+"-demo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data["message"] != message || cm.Data["serviceType"] != "NodePort" {
			return fmt.Errorf("the chart's ConfigMap: message %q, serviceType %q; want %q, NodePort", cm.Data["message"], cm.Data["serviceType"], message)
		}
		svc, err := cs.CoreV1().Services(release).Get(ctx, name+"-demo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if svc.Spec.Type != corev1.ServiceTypeNodePort || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != port {
			return fmt.Errorf("service %s, ports %+v; want NodePort on %d", svc.Spec.Type, svc.Spec.Ports, port)
		}
		return expectDeployment(cs, release, name+"-demo", 1, annotations)
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck:     func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error { return expectChartGone(cs, release, name) },
		Steps: []tfresource.TestStep{
			{
				ConfigDirectory: dir,
				ConfigVariables: vars(false),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("values").AtSliceIndex(0), knownvalue.StringExact(string(common))),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("values").AtSliceIndex(1), knownvalue.StringRegexp(regexp.MustCompile(`"podAnnotations": null`))),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
				},
				Check: func(*terraform.State) error {
					cm, err := cs.CoreV1().ConfigMaps(installNS).Get(ctx, kube.ValuesConfigMapName(name), metav1.GetOptions{})
					if err != nil {
						return err
					}
					if cm.Data[kube.ValuesFile] != string(common) || !strings.Contains(cm.Data["values-1.yaml"], `"message": "from the override"`) {
						return fmt.Errorf("values ConfigMap %v", cm.Data)
					}
					p, err := pods.created(kube.InstallPodName(name, kube.ActionInstall))
					if err != nil {
						return err
					}
					if got := podEnv(&p)["VALUES_FILES"]; got != "1" {
						return fmt.Errorf("VALUES_FILES = %q, want 1", got)
					}
					return live(1, "from the override", 9090, map[string]string{"team": ""})
				},
			},
			{
				// The same documents the other way round: an upgrade, and the first wins.
				ConfigDirectory: dir,
				ConfigVariables: vars(true),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(managedAppAddr, jpath("revision")),
				}},
				Check: func(*terraform.State) error {
					return live(2, "from common.yaml", 8080, map[string]string{"team": "platform"})
				},
			},
			{
				ConfigDirectory: dir,
				ConfigVariables: vars(true, "- not\n- a mapping\n"),
				PlanOnly:        true,
				ExpectError:     regexp.MustCompile(`(?s)Invalid\s+values\[2\].*values\[2\]\s+must\s+be\s+a\s+YAML\s+mapping\s+of\s+chart\s+values.*a\s+list,\s+not\s+a\s+mapping`),
			},
		},
	}))
}
