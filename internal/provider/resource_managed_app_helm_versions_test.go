package provider

import (
	"fmt"
	"testing"

	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// TestAccManagedApp_HelmMajors runs the lifecycle with a Helm 3 installer image, then moves
// the app to the default Helm 4 image: the image change alone runs no pod and keeps the
// release's revision; the next chart change is made by Helm 4; destroy by Helm 4 too.
func TestAccManagedApp_HelmMajors(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name, release = "ck-ma-helm3", "ck-ma-helm3-ns"
	pods := watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, release)
	vars := managedAppVars(t, s, nil)
	hcl := func(version, image string) string {
		return demoChartConfig(name, release, version, fmt.Sprintf("installer_image = %q", image))
	}
	ranWith := func(pod, image string, count int) error {
		if err := pods.expectRan(pod, count, corev1.PodSucceeded); err != nil {
			return err
		}
		p, err := pods.created(pod)
		if err != nil {
			return err
		}
		if got := p.Spec.Containers[0].Image; got != image {
			return fmt.Errorf("%s ran %s, want %s", pod, got, image)
		}
		return nil
	}
	install := kube.InstallPodName(name, kube.ActionInstall)
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if err := ranWith(kube.InstallPodName(name, kube.ActionUninstall), kube.DefaultInstallerImage, 1); err != nil {
				return err
			}
			return expectChartGone(cs, release, name)
		},
		Steps: []tfresource.TestStep{
			{
				Config:          hcl(chartsrc.DemoVersion, testenv.Helm3Image),
				ConfigVariables: vars,
				Check: func(*terraform.State) error {
					if err := ranWith(install, testenv.Helm3Image, 1); err != nil {
						return err
					}
					return expectRelease(cs, release, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion)
				},
			},
			{
				// Only the image changes: an in-place update of the attribute, no pod.
				Config:          hcl(chartsrc.DemoVersion, kube.DefaultInstallerImage),
				ConfigVariables: vars,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
				}},
				Check: func(*terraform.State) error {
					if n := len(pods.podUIDs(install)); n != 1 {
						return fmt.Errorf("an image change ran %d install pods, want none after the first", n)
					}
					return expectRelease(cs, release, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion)
				},
			},
			{
				// A chart change is an upgrade, made by the new image's Helm 4.
				Config:          hcl(chartsrc.DemoUpgradeVersion, kube.DefaultInstallerImage),
				ConfigVariables: vars,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("chart_version"), knownvalue.StringExact(chartsrc.DemoUpgradeVersion)),
				},
				Check: func(*terraform.State) error {
					if err := ranWith(install, kube.DefaultInstallerImage, 2); err != nil {
						return err
					}
					return expectRelease(cs, release, name, 2, kube.ReleaseDeployed, chartsrc.DemoUpgradeVersion)
				},
			},
		},
	}))
}
