package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// Install pods that fail, time out or cannot start, through OpenTofu against real helm.

func TestAccManagedApp_InstallFailure(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name = "ck-ma-fail"
	deleteNamespaceAtEnd(t, cs, name) // the release namespace, named after the release
	pod := kube.InstallPodName(name, kube.ActionInstall)
	pods := watchInstallPods(t, cs, name)
	dir := config.StaticDirectory("testdata/TestAccManagedApp_InstallFailure")
	chart := func(name string) config.Variables {
		return managedAppVars(t, s, config.Variables{"chart_name": config.StringVariable(name)})
	}
	var failedUID string
	logFile := filepath.Join(t.TempDir(), "provider.log")
	t.Setenv("TF_LOG", "DEBUG")
	t.Setenv("TF_LOG_PATH", logFile)

	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []tfresource.TestStep{
			{
				ConfigDirectory: dir,
				// The chart's pre-install hook (a Job) fails: helm fails the install, rolls it
				// back, and the diagnostic quotes helm's own error line.
				ConfigVariables: chart("hook-fails"),
				ExpectError: regexp.MustCompile(`(?s)install\s+pod\s+clusterkit-managed-apps/install-ck-ma-fail\s+failed:\s+exit\s+code\s+1,\s+reason\s+Error.*` +
					`helm\s+said:.*Error:\s+.*pre-install.*` +
					`kubectl\s+logs\s+-n\s+clusterkit-managed-apps\s+install-ck-ma-fail`),
			},
			{
				// The failed pod is still there; the resource is tainted, so the next
				// apply replaces it, and the new install pod replaces the failed one.
				PreConfig: func() {
					p, err := cs.CoreV1().Pods(installNS).Get(context.Background(), pod, metav1.GetOptions{})
					if err != nil {
						t.Fatalf("the failed install pod must be kept: %v", err)
					}
					if p.Status.Phase != corev1.PodFailed {
						t.Fatalf("kept pod is %s, want Failed", p.Status.Phase)
					}
					failedUID = string(p.UID)
				},
				ConfigDirectory: dir,
				ConfigVariables: chart("demo"),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
				},
				Check: func(*terraform.State) error {
					uids := pods.podUIDs(pod)
					if len(uids) != 2 || uids[0] != failedUID {
						return fmt.Errorf("want the failed pod %s then a new one, saw %v", failedUID, uids)
					}
					if err := pods.expectRan(pod, 2, corev1.PodSucceeded); err != nil {
						return err
					}
					// No uninstall pod for a release helm never had (rollback on failure
					// purged the failed first install).
					if n := len(pods.podUIDs(kube.InstallPodName(name, kube.ActionUninstall))); n != 0 {
						return fmt.Errorf("%d uninstall pods ran for a failed install", n)
					}
					return expectRelease(cs, name, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion)
				},
			},
		},
	}))

	// The failed pod's last log lines went to the install_pod subsystem; the token did not.
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), s.Token) {
		t.Error("the cluster token appears in the provider's debug log")
	}
	if !regexp.MustCompile(`\[DEBUG\] clusterkit\.install_pod: install pod: `).Match(b) {
		t.Error("no log line of the failed pod in the install_pod subsystem")
	}
}

// A chart whose pods never become ready: helm's own --timeout (half of timeouts.create
// here) ends the install, helm rolls it back, and the diagnostic says so in helm's words.
// An installer image the node cannot pull ends the apply at once, naming the image.
func TestAccManagedApp_Timeout(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name = "ck-ma-timeout"
	deleteNamespaceAtEnd(t, cs, name)
	pod := kube.InstallPodName(name, kube.ActionInstall)
	pods := watchInstallPods(t, cs, name)
	dir := config.StaticDirectory("testdata/TestAccManagedApp_Timeout")
	image := func(image string) config.Variables {
		return managedAppVars(t, s, config.Variables{"installer_image": config.StringVariable(image)})
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []tfresource.TestStep{
			{
				ConfigDirectory: dir,
				ConfigVariables: image(kube.DefaultInstallerImage),
				ExpectError: regexp.MustCompile(`(?s)install\s+pod\s+clusterkit-managed-apps/install-ck-ma-timeout\s+failed:\s+exit\s+code\s+1.*` +
					`helm\s+said:.*Error:.*(context\s+deadline\s+exceeded|timed\s+out|timeout)`),
			},
			{
				PreConfig: func() {
					if len(pods.podUIDs(pod)) != 1 {
						t.Fatalf("want one install pod, saw %v", pods.podUIDs(pod))
					}
					// helm rolled the failed first install back: no release is left.
					if secrets, err := releaseSecrets(cs, name, name); err != nil || len(secrets) != 0 {
						t.Fatalf("release records left after the rollback: %v %v", secrets, err)
					}
				},
				ConfigDirectory:    dir,
				ConfigVariables:    image(kube.DefaultInstallerImage),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true, // tainted: replaced on the next apply
			},
			{
				ConfigDirectory: dir,
				ConfigVariables: image("registry.example.com/mirror/helm:9.9.9"),
				ExpectError:     regexp.MustCompile(`(?s)installer_image.*cannot\s+pull\s+image\s+"registry.example.com/mirror/helm:9.9.9"\s+\((ImagePullBackOff|ErrImagePull)\);\s+the\s+pod\s+was\s+deleted`),
			},
			{
				PreConfig: func() {
					if err := waitPodGone(cs, installNS, pod); err != nil {
						t.Fatalf("the pod that could not start was not deleted: %v", err)
					}
				},
				ConfigDirectory:    dir,
				ConfigVariables:    image("registry.example.com/mirror/helm:9.9.9"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	}))
}
