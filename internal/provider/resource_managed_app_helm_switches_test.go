package provider

// wait_for_jobs and dependency_update through OpenTofu against real helm on the local stack,
// with the charts of its helm-options repository (chartsrc.JobsChart, chartsrc.UmbrellaChart).

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// helmOptionsRepo is the stack's helm-options repository.
func helmOptionsRepo(t *testing.T) config.Variable {
	t.Helper()
	u := os.Getenv("CLUSTERKIT_TEST_HELM_OPTIONS_REPO_URL")
	if u == "" {
		t.Fatal("CLUSTERKIT_TEST_HELM_OPTIONS_REPO_URL is not set: the stack's helm-options repository is missing")
	}
	return config.StringVariable(u)
}

// expectJob checks a Job's counts of succeeded and active pods.
func expectJob(cs kubernetes.Interface, ns, name string, succeeded, active int32) error {
	j, err := cs.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("job %s/%s: %w", ns, name, err)
	}
	if j.Status.Succeeded != succeeded || j.Status.Active != active {
		return fmt.Errorf("job %s/%s: %d succeeded, %d active; want %d succeeded, %d active",
			ns, name, j.Status.Succeeded, j.Status.Active, succeeded, active)
	}
	if succeeded > 0 && j.Status.CompletionTime == nil {
		return fmt.Errorf("job %s/%s succeeded without a completion time", ns, name)
	}
	return nil
}

// TestAccManagedApp_HelmOptions_WaitForJobs: with wait_for_jobs the apply returns only once
// the release's Job has succeeded (its pod runs 8s on the stack's node); an upgrade whose
// Job runs for 10 minutes runs into helm's timeout (30s: half of timeouts.update), the
// apply fails with helm's words (the Job not ready, the deadline exceeded), and the release
// and the plan say so: revision 2 failed (atomic = false keeps it), its Job deleted by
// cleanup_on_fail, and the next plan still wants the upgrade.
func TestAccManagedApp_HelmOptions_WaitForJobs(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name, release = "ck-ho-jobs", "ck-ho-jobs-ns"
	pods := watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, release)
	install := kube.InstallPodName(name, kube.ActionInstall)
	vars := func(runTime string, extra config.Variables) config.Variables {
		v := managedAppVars(t, s, config.Variables{
			"helm_options_repo": helmOptionsRepo(t),
			"run_time":          config.StringVariable(runTime),
			"wait_for_jobs":     config.BoolVariable(true),
		})
		for k, val := range extra {
			v[k] = val
		}
		return v
	}
	stuck := vars("10m", config.Variables{"atomic": config.BoolVariable(false), "update_timeout": config.StringVariable("1m")})
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if err := expectChartGone(cs, release, name); err != nil {
				return err
			}
			for _, job := range []string{name + "-jobs-1", name + "-jobs-2"} {
				if _, err := cs.BatchV1().Jobs(release).Get(context.Background(), job, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					return fmt.Errorf("job %s/%s after destroy: %v, want not found", release, job, err)
				}
			}
			return nil
		},
		Steps: []tfresource.TestStep{
			{
				ConfigDirectory: config.TestNameDirectory(),
				ConfigVariables: vars("8s", nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("wait_for_jobs"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
				},
				Check: func(*terraform.State) error {
					// Read right after the apply: helm waited for the Job.
					if err := expectJob(cs, release, name+"-jobs-1", 1, 0); err != nil {
						return err
					}
					if err := expectRelease(cs, release, name, 1, kube.ReleaseDeployed, chartsrc.JobsVersion); err != nil {
						return err
					}
					p, err := pods.created(install)
					if err != nil {
						return err
					}
					if env := podEnv(&p); env["WAIT_FOR_JOBS"] != "true" || env["WAIT"] != "true" {
						return fmt.Errorf("install pod inputs %v, want WAIT and WAIT_FOR_JOBS true", env)
					}
					return nil
				},
			},
			{
				ConfigDirectory: config.TestNameDirectory(),
				ConfigVariables: stuck,
				ExpectError: regexp.MustCompile(`(?s)install\s+pod\s+clusterkit-managed-apps/install-` + name + `\s+failed.*helm\s+said:.*UPGRADE\s+FAILED:\s+resource\s+Job/` + release + `/` + name +
					`-jobs-2\s+not\s+ready\.\s+status:\s+InProgress.*context\s+deadline\s+exceeded`),
			},
			{
				ConfigDirectory:    config.TestNameDirectory(),
				ConfigVariables:    stuck,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				PreConfig: mustHold(t, func() error {
					if err := expectHistory(cs, release, name, "v1:deployed", "v2:failed"); err != nil {
						return err
					}
					// Revision 2 left revision 1's Job behind (helm deleted it, no longer in the
					// chart's manifest) and cleanup_on_fail (the default) deleted the Job it
					// made; the ConfigMap it changed keeps revision 2's value (atomic = false).
					for _, job := range []string{name + "-jobs-1", name + "-jobs-2"} {
						if _, err := cs.BatchV1().Jobs(release).Get(context.Background(), job, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
							return fmt.Errorf("job %s/%s after the failed upgrade: %v, want deleted", release, job, err)
						}
					}
					cm, err := cs.CoreV1().ConfigMaps(release).Get(context.Background(), name+"-jobs", metav1.GetOptions{})
					if err != nil || cm.Data["runTime"] != "10m" {
						return fmt.Errorf("the chart's ConfigMap after the failed upgrade: %v %v, want runTime 10m", cm.Data, err)
					}
					return nil
				}),
			},
		},
	}))
}

// TestAccManagedApp_HelmOptions_DependencyUpdate: the umbrella chart is served without its
// dependency (the public repository's demo chart). Without dependency_update helm refuses
// it, naming the missing dependency; with it the install pod pulls and unpacks the chart
// (helm updates no packaged chart), helm fetches the dependency and installs the subchart's
// objects too, under Helm 4 and Helm 3.
func TestAccManagedApp_HelmOptions_DependencyUpdate(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	// One configuration for both subtests (TestNameDirectory would name the subtest's).
	depsConfig := config.StaticDirectory("testdata/TestAccManagedApp_HelmOptions_DependencyUpdate")
	for _, img := range helmImages {
		t.Run(img.name, func(t *testing.T) {
			name := "ck-ho-deps-" + img.name
			release := name + "-ns"
			deleteNamespaceAtEnd(t, cs, release)
			vars := func(update bool) config.Variables {
				return managedAppVars(t, s, config.Variables{
					"helm_options_repo": helmOptionsRepo(t),
					"name":              config.StringVariable(name),
					"installer_image":   config.StringVariable(img.image),
					"dependency_update": config.BoolVariable(update),
				})
			}
			steps := []tfresource.TestStep{{
				ConfigDirectory: depsConfig,
				ConfigVariables: vars(false),
				ExpectError:     regexp.MustCompile(`(?s)helm\s+said:.*found\s+in\s+Chart\.yaml,\s+but\s+missing\s+in\s+charts/\s+directory:\s+demo`),
			}}
			steps = append(steps, tfresource.TestStep{
				ConfigDirectory: depsConfig,
				ConfigVariables: vars(true),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("dependency_update"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
				},
				Check: func(*terraform.State) error {
					if err := expectRelease(cs, release, name, 1, kube.ReleaseDeployed, chartsrc.UmbrellaVersion); err != nil {
						return err
					}
					cm, err := cs.CoreV1().ConfigMaps(release).Get(ctx, name+"-umbrella", metav1.GetOptions{})
					if err != nil || cm.Data["dependencies"] != "1" {
						return fmt.Errorf("the umbrella chart's ConfigMap: %v %v", cm.Data, err)
					}
					// The subchart's own objects, with the umbrella's values for it.
					sub, err := cs.CoreV1().ConfigMaps(release).Get(ctx, name+"-demo", metav1.GetOptions{})
					if err != nil || sub.Data["message"] != "from the umbrella chart" || sub.Data["chartVersion"] != chartsrc.DemoVersion {
						return fmt.Errorf("the demo subchart's ConfigMap: %v %v", sub.Data, err)
					}
					return expectDeployment(cs, release, name+"-demo", 1, nil)
				},
			})
			tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
				PreCheck:     func() { testAccPreCheck(t) },
				CheckDestroy: func(*terraform.State) error { return expectChartGone(cs, release, name) },
				Steps:        steps,
			}))
		})
	}
}
