package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// Locked-down clusters: install pods placed by the user's rules (taints, selectors,
// affinity, priority, resources, pull secrets) and admitted under Pod Security
// "restricted".

// The taint these tests put on the stack's node. The package's tests run one at a time
// against one stack, so the node is tainted only while this test runs, and the taint is
// removed (by key, leaving any other taint alone) when it ends.
var testTaint = corev1.Taint{Key: "clusterkit.dev/test-dedicated", Value: "installers", Effect: corev1.TaintEffectNoSchedule}

// taintNodeDuringTest adds taint to the stack's node until the test ends.
func taintNodeDuringTest(t *testing.T, cs kubernetes.Interface, taint corev1.Taint) {
	t.Helper()
	edit := func(change func([]corev1.Taint) []corev1.Taint) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := cs.CoreV1().Nodes().Get(context.Background(), testenv.NodeName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			n.Spec.Taints = change(n.Spec.Taints)
			_, err = cs.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{})
			return err
		})
	}
	without := func(ts []corev1.Taint) []corev1.Taint {
		return slices.DeleteFunc(ts, func(x corev1.Taint) bool { return x.Key == taint.Key })
	}
	if err := edit(func(ts []corev1.Taint) []corev1.Taint { return append(without(ts), taint) }); err != nil {
		t.Fatalf("tainting node %s: %v", testenv.NodeName, err)
	}
	t.Cleanup(func() {
		if err := edit(without); err != nil {
			t.Errorf("removing the taint from node %s: %v", testenv.NodeName, err)
		}
	})
}

// nodeTainted reports whether the stack's node still carries taint.
func nodeTainted(cs kubernetes.Interface, taint corev1.Taint) (bool, error) {
	n, err := cs.CoreV1().Nodes().Get(context.Background(), testenv.NodeName, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(n.Spec.Taints, func(x corev1.Taint) bool { return x.MatchTaint(&taint) }), nil
}

// unschedulable is the scheduler's verdict on a pod it could not place ("" when the pod
// was never seen unschedulable): its PodScheduled condition's message.
func unschedulable(states []corev1.Pod) string {
	for _, p := range states {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return c.Message
			}
		}
	}
	return ""
}

// scheduledTo is the node a pod was bound to ("" if never).
func scheduledTo(states []corev1.Pod) string {
	for _, p := range states {
		if p.Spec.NodeName != "" {
			return p.Spec.NodeName
		}
	}
	return ""
}

// tolerates is the scheduler's matching rule for the Equal and Exists operators.
func tolerates(x corev1.Toleration, taint corev1.Taint) bool {
	if x.Effect != "" && x.Effect != taint.Effect {
		return false
	}
	if x.Operator == corev1.TolerationOpExists {
		return x.Key == "" || x.Key == taint.Key
	}
	return x.Key == taint.Key && x.Value == taint.Value
}

// expectTolerates checks that a pod tolerates taint (and was bound to the tainted node).
func expectTolerates(l *podLog, pod string, taint corev1.Taint) error {
	p, err := l.created(pod)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(p.Spec.Tolerations, func(x corev1.Toleration) bool { return tolerates(x, taint) }) {
		return fmt.Errorf("pod %s does not tolerate %s: tolerations %+v", pod, taint.ToString(), p.Spec.Tolerations)
	}
	var mine []corev1.Pod
	for _, s := range l.seen(pod) {
		if s.UID == p.UID {
			mine = append(mine, s)
		}
	}
	if got := scheduledTo(mine); got != testenv.NodeName {
		return fmt.Errorf("pod %s was bound to node %q, want the tainted %s", pod, got, testenv.NodeName)
	}
	return nil
}

// TestAccManagedApp_TaintedNodeNeedsToleration: on a cluster whose only node is tainted,
// an install pod without a matching toleration stays Pending (the scheduler says why)
// until the create timeout, and the apply fails saying so; with installer_tolerations it
// runs and helm installs the release. Changing the tolerations afterwards is an in-place
// update that runs no pod, and the uninstall pod tolerates the taint too.
func TestAccManagedApp_TaintedNodeNeedsToleration(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const name = "ck-ma-taint"
	installPod, uninstallPod := kube.InstallPodName(name, kube.ActionInstall), kube.InstallPodName(name, kube.ActionUninstall)
	pods := watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, name)
	taintNodeDuringTest(t, cs, testTaint)

	// No replicas: the chart's own pods have no toleration either, and the test is about
	// the install pod.
	hcl := func(create, placement string) string {
		return demoChartConfig(name, name, chartsrc.DemoVersion, fmt.Sprintf(`values = yamlencode({ replicaCount = 0 })
  timeouts = { create = %q }
  %s`, create, placement))
	}
	tolerate := `installer_tolerations = [{ key = "clusterkit.dev/test-dedicated", operator = "Equal", value = "installers", effect = "NoSchedule" }]
  installer_node_selector = { "kubernetes.io/hostname" = "` + testenv.NodeName + `" }`
	tolerateMore := `installer_tolerations = [
    { key = "clusterkit.dev/test-dedicated", operator = "Equal", value = "installers", effect = "NoSchedule" },
    { key = "node.kubernetes.io/unreachable", operator = "Exists", effect = "NoExecute", toleration_seconds = 60 },
  ]
  installer_node_selector = { "kubernetes.io/hostname" = "` + testenv.NodeName + `" }`
	vars := managedAppVars(t, s, nil)
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []tfresource.TestStep{
			{
				// No toleration: the pod never leaves Pending, and the create timeout
				// ends the apply (the pod is deleted).
				Config:          hcl("30s", ""),
				ConfigVariables: vars,
				ExpectError: regexp.MustCompile(`(?s)install\s+pod\s+clusterkit-managed-apps/install-ck-ma-taint\s+did\s+not\s+finish\s+within\s+\d+s\s+` +
					`\(last\s+phase\s+Pending,\s+not\s+scheduled\s+on\s+any\s+node:\s+Unschedulable\).*No\s+node\s+took\s+the\s+install\s+pod.*installer_tolerations`),
			},
			{
				PreConfig: func() {
					states := pods.seen(installPod)
					msg := unschedulable(states)
					// The scheduler's own reason (it names no taint key: "1 node(s) had
					// untolerated taint(s)").
					if !strings.Contains(msg, "untolerated taint") {
						t.Fatalf("the install pod was not reported unschedulable for the taint; PodScheduled message %q", msg)
					}
					if node := scheduledTo(states); node != "" {
						t.Fatalf("the pod without a toleration was bound to %s", node)
					}
					if err := waitPodGone(cs, installNS, installPod); err != nil {
						t.Fatalf("the Pending pod was not deleted at the timeout: %v", err)
					}
					t.Logf("scheduler: %s", msg)
				},
				// The failed create is tainted in state: this apply replaces it, now
				// with the toleration.
				Config:          hcl("5m", tolerate),
				ConfigVariables: vars,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
				},
				Check: func(*terraform.State) error {
					if err := expectTolerates(pods, installPod, testTaint); err != nil {
						return err
					}
					if p, _ := pods.created(installPod); p.Spec.NodeSelector["kubernetes.io/hostname"] != testenv.NodeName {
						return fmt.Errorf("node selector %v", p.Spec.NodeSelector)
					}
					if err := pods.expectRan(installPod, 2, corev1.PodSucceeded); err != nil {
						return err
					}
					if tainted, err := nodeTainted(cs, testTaint); err != nil || !tainted {
						return fmt.Errorf("the node lost its taint during the install (%v): the test proves nothing", err)
					}
					return expectRelease(cs, name, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion)
				},
			},
			{
				// Placement alone changes: an in-place update that keeps the release as it
				// is (revision known in the plan) and runs no pod.
				Config:          hcl("5m", tolerateMore),
				ConfigVariables: vars,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(managedAppAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("installer_tolerations").AtSliceIndex(1).AtMapKey("toleration_seconds"), knownvalue.Int64Exact(60)),
				},
				Check: func(*terraform.State) error {
					if n := len(pods.podUIDs(installPod)); n != 2 {
						return fmt.Errorf("a placement change ran an install pod: %d pods in all, want 2", n)
					}
					return expectRelease(cs, name, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion)
				},
			},
		},
		CheckDestroy: func(*terraform.State) error {
			// The node is still tainted: the uninstall pod ran with the tolerations in state.
			if err := pods.expectRan(uninstallPod, 1, corev1.PodSucceeded); err != nil {
				return err
			}
			if err := expectTolerates(pods, uninstallPod, testTaint); err != nil {
				return err
			}
			// The last applied tolerations: unreachable for 60s (the DefaultTolerationSeconds
			// admission would have added 300s).
			if p, _ := pods.created(uninstallPod); !slices.ContainsFunc(p.Spec.Tolerations, func(x corev1.Toleration) bool {
				return x.Key == "node.kubernetes.io/unreachable" && x.TolerationSeconds != nil && *x.TolerationSeconds == 60
			}) {
				return fmt.Errorf("the uninstall pod's tolerations %+v are not the last applied ones", p.Spec.Tolerations)
			}
			return expectChartGone(cs, name, name)
		},
	}))
}

// TestAccManagedApp_PodSecurityRestricted: the install namespace enforces Pod Security
// "restricted" (the API server's PodSecurity admission, proven active by a pod it
// refuses), and the install and uninstall pods, with every placement and policy setting
// at once, are admitted and succeed. The pods' spec carries the settings as the API
// server stored them: the pull secret reference, the priority class (resolved to its
// value by the Priority admission), affinity, node selector, tolerations and resources.
// The stack's node agent pulls no images and enforces no resources: what this proves about
// image_pull_secrets is that the pod references the Secret, not that a registry accepted it.
func TestAccManagedApp_PodSecurityRestricted(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	const name, priorityClass, pullSecret = "ck-ma-pss", "ck-test-installers", "mirror-pull"
	installPod, uninstallPod := kube.InstallPodName(name, kube.ActionInstall), kube.InstallPodName(name, kube.ActionUninstall)
	pods := watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, name)

	// The documented setup for a locked-down cluster: the user creates the install
	// namespace with their policy labels, and the pull secret in it.
	waitGone(t, cs, installNS)
	restricted := map[string]string{"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: installNS, Labels: restricted}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deleteNamespaceAtEnd(t, cs, installNS)
	if _, err := cs.CoreV1().Secrets(installNS).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: pullSecret}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}`)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: priorityClass}, Value: 1000},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.SchedulingV1().PriorityClasses().Delete(context.Background(), priorityClass, metav1.DeleteOptions{})
	})

	// The admission is active: the helm image's pod as it runs by default (root, no
	// seccomp profile, privilege escalation allowed) is refused in this namespace.
	_, err := cs.CoreV1().Pods(installNS).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "not-restricted"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "helm", Image: kube.DefaultInstallerImage}}},
	}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "restricted:latest"`) {
		t.Fatalf("PodSecurity admission must refuse a non-compliant pod in %s, got: %v", installNS, err)
	}

	placement := fmt.Sprintf(`installer_node_selector = { "kubernetes.io/os" = "linux" }
  installer_tolerations   = [{ operator = "Exists", effect = "NoExecute", toleration_seconds = 300 }]
  installer_affinity = yamlencode({
    nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms = [
      { matchExpressions = [{ key = "kubernetes.io/hostname", operator = "In", values = [%q] }] },
    ] } }
  })
  installer_priority_class_name = %q
  installer_resources           = { requests = { cpu = "50m" }, limits = { cpu = "1", memory = "512Mi" } }
  installer_image_pull_secrets  = [%q]`, testenv.NodeName, priorityClass, pullSecret)
	expectPodSpec := func(pod string) error {
		p, err := pods.created(pod)
		if err != nil {
			return err
		}
		ps, res := p.Spec, p.Spec.Containers[0].Resources
		switch {
		case len(ps.ImagePullSecrets) != 1 || ps.ImagePullSecrets[0].Name != pullSecret:
			return fmt.Errorf("%s: image pull secrets %v, want [%s]", pod, ps.ImagePullSecrets, pullSecret)
		case ps.PriorityClassName != priorityClass || ps.Priority == nil || *ps.Priority != 1000:
			return fmt.Errorf("%s: priority class %q, priority %v; want %s resolved to 1000", pod, ps.PriorityClassName, ps.Priority, priorityClass)
		case ps.NodeSelector["kubernetes.io/os"] != "linux":
			return fmt.Errorf("%s: node selector %v", pod, ps.NodeSelector)
		case ps.Affinity == nil || ps.Affinity.NodeAffinity == nil ||
			ps.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values[0] != testenv.NodeName:
			return fmt.Errorf("%s: affinity %+v", pod, ps.Affinity)
		case !slices.ContainsFunc(ps.Tolerations, func(x corev1.Toleration) bool {
			return x.Operator == corev1.TolerationOpExists && x.Key == "" && x.Effect == corev1.TaintEffectNoExecute && x.TolerationSeconds != nil && *x.TolerationSeconds == 300
		}):
			return fmt.Errorf("%s: tolerations %+v", pod, ps.Tolerations)
		case res.Requests.Cpu().String() != "50m" || res.Requests.Memory().String() != "128Mi" || res.Limits.Cpu().String() != "1" || res.Limits.Memory().String() != "512Mi":
			return fmt.Errorf("%s: resources %v / %v", pod, res.Requests, res.Limits)
		}
		return nil
	}
	enforced := func() error {
		ns, err := cs.CoreV1().Namespaces().Get(ctx, installNS, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
			return fmt.Errorf("namespace %s labels %v: the restricted label is gone", installNS, ns.Labels)
		}
		return nil
	}
	vars := managedAppVars(t, s, nil)
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []tfresource.TestStep{{
			// A misspelt affinity field is refused at plan time, naming the attribute and
			// the field, before anything reaches the cluster.
			Config:          demoChartConfig(name, name, chartsrc.DemoVersion, `installer_affinity = yamlencode({ nodeAfinity = {} })`),
			ConfigVariables: vars,
			PlanOnly:        true,
			ExpectError:     regexp.MustCompile(`(?s)Invalid\s+installer_affinity.*unknown\s+field\s+"nodeAfinity"`),
		}, {
			PreConfig: func() {
				if uids := pods.podUIDs(installPod); len(uids) != 0 {
					t.Fatalf("a refused plan created install pods %v", uids)
				}
			},
			Config:          demoChartConfig(name, name, chartsrc.DemoVersion, placement),
			ConfigVariables: vars,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
				statecheck.ExpectKnownValue(managedAppAddr, jpath("installer_image_pull_secrets"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(pullSecret)})),
			},
			Check: func(*terraform.State) error {
				if err := enforced(); err != nil {
					return err
				}
				// Admitted (it exists), ran and succeeded under "restricted".
				if err := pods.expectRan(installPod, 1, corev1.PodSucceeded); err != nil {
					return err
				}
				if err := expectPodSpec(installPod); err != nil {
					return err
				}
				return expectRelease(cs, name, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion)
			},
		}},
		CheckDestroy: func(*terraform.State) error {
			if err := enforced(); err != nil {
				return err
			}
			if err := pods.expectRan(uninstallPod, 1, corev1.PodSucceeded); err != nil {
				return err
			}
			if err := expectPodSpec(uninstallPod); err != nil {
				return err
			}
			return expectChartGone(cs, name, name)
		},
	}))
}
