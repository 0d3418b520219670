package provider

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// TestAccManagedApp_DriftPlansUpgrade: drift of a deployed release plans the upgrade that
// undoes it. A chart object deleted out of band (helm's record still says deployed) is
// made again; a `helm upgrade` run from outside Terraform (the real helm binary, as from a
// laptop, with other values) is upgraded back to the configuration; after each apply the
// plan is empty.
func TestAccManagedApp_DriftPlansUpgrade(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name, ns = "ck-ma-drift", "ck-ma-drift-ns"
	deleteNamespaceAtEnd(t, cs, ns)
	ctx := context.Background()
	dir := config.StaticDirectory("testdata/TestAccManagedApp_DriftPlansUpgrade")
	vars := managedAppVars(t, s, nil)
	live := func(revision int, message string) func(*terraform.State) error {
		return func(*terraform.State) error {
			if err := expectRelease(cs, ns, name, revision, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
				return err
			}
			if err := expectDeployment(cs, ns, name+"-demo", 1, nil); err != nil {
				return err
			}
			cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name+"-demo", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cm.Data["message"] != message {
				return fmt.Errorf("the chart's message is %q, want %q", cm.Data["message"], message)
			}
			return nil
		}
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []tfresource.TestStep{
			{ConfigDirectory: dir, ConfigVariables: vars, Check: live(1, "from-terraform")},
			{
				// Someone deletes the chart's Deployment.
				PreConfig: func() {
					if err := cs.AppsV1().Deployments(ns).Delete(ctx, name+"-demo", metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				ConfigDirectory: dir, ConfigVariables: vars,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(managedAppAddr, jpath("revision")),
				}},
				Check: live(2, "from-terraform"),
			},
			{
				// Someone upgrades the release from a laptop with other values.
				PreConfig:       func() { laptopHelmUpgrade(t, cs, ns, name, "message=from-laptop") },
				ConfigDirectory: dir, ConfigVariables: vars,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
				}},
				Check: live(4, "from-terraform"),
			},
			{
				ConfigDirectory: dir, ConfigVariables: vars,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	}))
}

// laptopHelmUpgrade runs `helm upgrade --reuse-values --set ...` with the real helm binary
// against the stack, as another helm client would, and checks it made revision 3.
func laptopHelmUpgrade(t *testing.T, cs kubernetes.Interface, ns, name string, set string) {
	t.Helper()
	helm, err := testenv.HelmBinary()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cmd := exec.Command(helm, "upgrade", name, "demo", "--repo", os.Getenv("CLUSTERKIT_TEST_CHART_REPO_URL"),
		"--ca-file", os.Getenv("CLUSTERKIT_TEST_CHART_CA_FILE"), "--version", chartsrc.DemoVersion, "--namespace", ns,
		"--reuse-values", "--set", set, "--wait", "--timeout", "60s")
	cmd.Env = append(os.Environ(), "HOME="+home, "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config",
		"HELM_DATA_HOME="+home+"/data")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm upgrade from outside Terraform: %v\n%s", err, out)
	}
	if err := expectRelease(cs, ns, name, 3, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), name+"-demo", metav1.GetOptions{})
	if err != nil || !strings.Contains(cm.Data["message"], "from-laptop") {
		t.Fatalf("the laptop's upgrade did not take: %v %v", cm, err)
	}
}
