package provider

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// TestAccManagedApp_AdoptHelmInstalledRelease: a release the helm binary installed
// directly is imported. A configuration that matches its chart, version and values plans
// an in-place update that only records it (no install pod runs, helm's revision stays 1);
// the plan after is empty; a change of values then upgrades it as usual.
func TestAccManagedApp_AdoptHelmInstalledRelease(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name, ns = "ck-ma-adopt", "ck-ma-adopt-ns"
	deleteNamespaceAtEnd(t, cs, ns)
	pods := watchInstallPods(t, cs, name)
	helmInstall(t, ns, name, "--set", "message=hello-from-helm", "--set", "replicaCount=2")
	dir := config.StaticDirectory("testdata/TestAccManagedApp_AdoptHelmInstalledRelease")
	vars := func(message string) config.Variables {
		return managedAppVars(t, s, config.Variables{"message": config.StringVariable(message)})
	}
	message := func(want string) error {
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), name+"-demo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data["message"] != want {
			return fmt.Errorf("message %q, want %q", cm.Data["message"], want)
		}
		return nil
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []tfresource.TestStep{
			{
				ConfigDirectory: dir, ConfigVariables: vars("hello-from-helm"),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
				}},
				Check: func(*terraform.State) error {
					if err := expectRelease(cs, ns, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
						return err
					}
					if got := pods.podUIDs(kube.InstallPodName(name, kube.ActionInstall)); len(got) != 0 {
						return fmt.Errorf("adopting ran %d install pods, want none", len(got))
					}
					return message("hello-from-helm")
				},
			},
			{
				ConfigDirectory: dir, ConfigVariables: vars("hello-from-helm"),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				ConfigDirectory: dir, ConfigVariables: vars("now-from-terraform"),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(managedAppAddr, jpath("revision")),
				}},
				Check: func(*terraform.State) error {
					if err := pods.expectRan(kube.InstallPodName(name, kube.ActionInstall), 1, corev1.PodSucceeded); err != nil {
						return err
					}
					if err := expectRelease(cs, ns, name, 2, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
						return err
					}
					return message("now-from-terraform")
				},
			},
		},
	}))
}

// helmInstall installs the demo chart with the real helm binary, as someone would by
// hand, outside Terraform.
func helmInstall(t *testing.T, ns, name string, args ...string) {
	t.Helper()
	helm, err := testenv.HelmBinary()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cmd := exec.Command(helm, append([]string{"install", name, "demo", "--repo", os.Getenv("CLUSTERKIT_TEST_CHART_REPO_URL"),
		"--ca-file", os.Getenv("CLUSTERKIT_TEST_CHART_CA_FILE"), "--version", chartsrc.DemoVersion, "--namespace", ns,
		"--create-namespace", "--wait", "--timeout", "60s"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config",
		"HELM_DATA_HOME="+home+"/data")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm install outside Terraform: %v\n%s", err, out)
	}
}
