package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// secretPatterns are what the emulator issues or signs with: none may leave the provider.
var secretPatterns = regexp.MustCompile(`ASIA[A-Z0-9]{12,}|k8s-aws-v1\.[A-Za-z0-9_-]{20,}|X-Amz-Security-Token=[^R&\s"][^&\s"]*|X-Amz-Signature=[0-9a-f]{16,}`)

// noSecretsInPlan scans the plan JSON.
type noSecretsInPlan struct{}

func (noSecretsInPlan) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	b, err := json.Marshal(req.Plan)
	if err != nil {
		resp.Error = err
		return
	}
	if m := secretPatterns.Find(b); m != nil {
		resp.Error = fmt.Errorf("the plan holds a credential or token (%.12s…)", m)
	}
	for _, secret := range append(accStack.AWS.IssuedSecrets(), accStack.AWSConfig.SecretKey) {
		if strings.Contains(string(b), secret) {
			resp.Error = fmt.Errorf("the plan holds a credential (%.8s…)", secret)
		}
	}
}

// TestAccQuickstart applies examples/quickstart, unchanged, against the local stack: in one
// apply an EKS stack in the emulated customer account, its integration with two
// namespaces, and three managed apps, installed by real helm in the install pods from the
// stack's mirrors of the public chart repositories (chart_repository_mirrors); then
// destroys and checks nothing is left. The run is logged at TRACE and the log, plan and
// state are scanned for credentials.
func TestAccQuickstart(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	name := "clusterkit-quickstart-test"
	ingress, _ := apps.Lookup("ingress-nginx")
	certManager, _ := apps.Lookup("cert-manager")
	deleteKeptCRDAtEnd(t, cs, certManagerCRD)
	// What the quickstart declares: its custom chart, and the ingress controller's Service
	// (the catalog's outputs.service for release ingress-nginx), which the stack's load
	// balancer controller gives a hostname.
	const podinfoVersion, ingressService = "6.7.1", "ingress-nginx-controller"
	ingressEndpoint := ingressService + "." + ingress.Namespace + ".lb.clusterkit.test"
	releases := []struct{ ns, name, version string }{
		{ingress.Namespace, "ingress-nginx", ingress.Version},
		{certManager.Namespace, "cert-manager", certManager.Version},
		{"shop-review", "podinfo", podinfoVersion},
	}
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	// The quickstart takes the platform's credentials from the standard chain.
	t.Setenv("AWS_ACCESS_KEY_ID", accStack.AWSConfig.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", accStack.AWSConfig.SecretKey)
	logFile := filepath.Join(t.TempDir(), "trace.log")
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_LOG_PATH", logFile)
	var stateFiles []string
	pods, stopWatch := watchAllInstallPods(t, cs)

	vars := config.Variables{
		"region":                          config.StringVariable(accStack.AWSConfig.Region),
		"aws_endpoint":                    config.StringVariable(accStack.AWSEndpoint),
		"allow_local_requests":            config.BoolVariable(true),
		"cluster_name":                    config.StringVariable(name),
		"provision_role_arn":              config.StringVariable(accStack.AWSConfig.RoleARN),
		"external_id":                     config.StringVariable(accStack.AWSConfig.ExternalID),
		"cluster_role_arn":                config.StringVariable("arn:aws:iam::222222222222:role/eks-cluster-role"),
		"vpc_id":                          config.StringVariable("vpc-0a1b2c3d4e5f67890"),
		"subnet_ids":                      config.ListVariable(config.StringVariable("subnet-0a1b2c3d4e5f67890"), config.StringVariable("subnet-0f9e8d7c6b5a43210")),
		"control_plane_security_group_id": config.StringVariable("sg-0a1b2c3d4e5f67890"),
		// The public repositories, mirrored by the stack (catalog pins and podinfo 6.7.1).
		"chart_repository_mirrors": chartVars(t)["chart_mirrors"],
	}
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if info, _ := accStack.AWS.Stack(name); info.Status != "DELETE_COMPLETE" {
				return fmt.Errorf("stack after destroy: %s", info.Status)
			}
			for _, owner := range []string{"eks_cluster/eu-west-1/" + name, "eks_cluster/us-east-1/" + name, "cluster_integration/kube-system/clusterkit"} {
				if err := expectNothingOwned(cs, owner, "shop-production", "shop-review"); err != nil {
					return err
				}
			}
			cms, err := cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=" + kube.ManagedByValue})
			if err != nil {
				return err
			}
			for _, cm := range cms.Items {
				if strings.HasPrefix(cm.Name, "values-content-configuration-") {
					return fmt.Errorf("managed app values left: %s/%s", cm.Namespace, cm.Name)
				}
			}
			// helm uninstalled every release: no objects of it, no release records.
			for _, r := range releases {
				if err := expectChartGone(cs, r.ns, r.name); err != nil {
					return err
				}
			}
			// Destroyed together, the apps went in uninstall order: the custom chart, then
			// cert-manager, then the ingress controller.
			if err := pods.before("uninstall-podinfo", "uninstall-cert-manager"); err != nil {
				return err
			}
			return pods.before("uninstall-cert-manager", "uninstall-ingress-nginx")
		},
		Steps: []resource.TestStep{{
			ConfigDirectory: config.StaticDirectory("../../examples/quickstart"),
			ConfigVariables: vars,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{noSecretsInPlan{},
					plancheck.ExpectResourceAction("clusterkit_managed_app.podinfo", plancheck.ResourceActionCreate)},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("clusterkit_eks_cluster.this", tfjsonpath.New("status"), knownvalue.StringExact("CREATE_COMPLETE")),
				statecheck.ExpectKnownValue("clusterkit_cluster_integration.this", tfjsonpath.New("host"), knownvalue.StringExact(s.Host)),
				statecheck.ExpectKnownOutputValue("endpoint", knownvalue.StringExact(s.Host)),
				statecheck.ExpectKnownOutputValue("namespace_service_accounts", knownvalue.MapExact(map[string]knownvalue.Check{
					"shop-production": knownvalue.StringExact("shop-production-service-account"),
					"shop-review":     knownvalue.StringExact("shop-review-service-account"),
				})),
				statecheck.ExpectKnownOutputValue("apps", knownvalue.MapExact(map[string]knownvalue.Check{
					"ingress-nginx": knownvalue.StringExact("deployed (chart " + ingress.Version + ")"),
					"cert-manager":  knownvalue.StringExact("deployed (chart " + certManager.Version + ")"),
					"podinfo":       knownvalue.StringExact("deployed (chart " + podinfoVersion + ")"),
				})),
				// The controller's LoadBalancer Service, as helm made it, has its address.
				statecheck.ExpectKnownValue("clusterkit_managed_app.ingress", tfjsonpath.New("outputs").AtMapKey("endpoint"), knownvalue.StringExact(ingressEndpoint)),
				statecheck.ExpectKnownOutputValue("ingress_endpoint", knownvalue.StringExact(ingressEndpoint)),
				statecheck.ExpectKnownValue("clusterkit_managed_app.podinfo", tfjsonpath.New("revision"), knownvalue.Int64Exact(1)),
			},
			Check: resource.ComposeTestCheckFunc(noTemporaryCredentials, func(st *terraform.State) error {
				b, err := json.Marshal(st)
				if err != nil {
					return err
				}
				stateFiles = append(stateFiles, string(b))
				for _, ns := range []string{"shop-production", "shop-review"} {
					if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
						return err
					}
				}
				for _, pod := range []string{"install-ingress-nginx", "install-cert-manager", "install-podinfo"} {
					if !pods.ran(pod) {
						return fmt.Errorf("install pod %s never ran", pod)
					}
				}
				// The nodes join through their access entry (API mode, the default), not aws-auth.
				eksAttrs := st.RootModule().Resources["clusterkit_eks_cluster.this"].Primary.Attributes
				entries, err := accSession(t, accStack.AWSConfig.RoleARN, "acc-quickstart").EKS.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(eksAttrs["name"])})
				if err != nil || !slices.Contains(entries.AccessEntries, eksAttrs["node_instance_role_arn"]) || eksAttrs["authentication_mode"] != "API" {
					return fmt.Errorf("access entries %+v (%v), want the node role %s in API mode (%s)", entries, err, eksAttrs["node_instance_role_arn"], eksAttrs["authentication_mode"])
				}
				// What helm made: a first release of each chart at the pinned or declared
				// version, and the charts' live objects with the values that reached them.
				for _, r := range releases {
					if err := expectRelease(cs, r.ns, r.name, 1, kube.ReleaseDeployed, r.version); err != nil {
						return err
					}
				}
				// The catalog's default values: 2 controller replicas, Prometheus pod annotations.
				if err := expectDeployment(cs, ingress.Namespace, ingressService, 2, map[string]string{"prometheus.io/scrape": "true"}); err != nil {
					return err
				}
				svc, err := cs.CoreV1().Services(ingress.Namespace).Get(ctx, ingressService, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if lb := svc.Status.LoadBalancer.Ingress; svc.Spec.Type != corev1.ServiceTypeLoadBalancer || len(lb) != 1 || lb[0].Hostname != ingressEndpoint {
					return fmt.Errorf("service %s/%s: type %s, load balancer %+v", ingress.Namespace, ingressService, svc.Spec.Type, lb)
				}
				if err := expectDeployment(cs, certManager.Namespace, "cert-manager", 1, nil); err != nil {
					return err
				}
				// The quickstart's values = yamlencode({ replicaCount = 1 }).
				if err := expectDeployment(cs, "shop-review", "podinfo", 1, nil); err != nil {
					return err
				}
				if _, err := cs.CoreV1().Services("shop-review").Get(ctx, "podinfo", metav1.GetOptions{}); err != nil {
					return fmt.Errorf("podinfo's Service: %w", err)
				}
				return nil
			}),
		}},
	}))
	stopWatch()

	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if m := secretPatterns.Find(b); m != nil {
		t.Fatalf("the TRACE log holds a credential or token (%.12s…)", m)
	}
	issued := accStack.AWS.IssuedSecrets()
	if len(issued) < 4 {
		t.Fatalf("the emulator issued %d secrets; the scan would prove nothing", len(issued))
	}
	for _, secret := range append(issued, accStack.AWSConfig.SecretKey, s.Token) {
		if strings.Contains(string(b), secret) {
			t.Fatalf("the TRACE log holds a secret (%.8s…)", secret)
		}
		for _, f := range stateFiles {
			if strings.Contains(f, secret) {
				t.Fatalf("a state file holds a secret (%.8s…)", secret)
			}
		}
	}
	if !strings.Contains(string(b), "CloudFormation "+name+": EKSCluster CREATE_COMPLETE") {
		t.Error("the log does not show the stack's progress")
	}
}

// podTimeline records when an independent watch first saw each install pod and when it
// saw it Succeeded (pods are deleted right after, so only a watch sees them).
type podTimeline struct {
	mu        sync.Mutex
	firstSeen map[string]time.Time
	succeeded map[string]time.Time
}

func (l *podTimeline) ran(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.succeeded[name]
	return ok
}

// before checks that pod a had succeeded before pod b appeared.
func (l *podTimeline) before(a, b string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	done, okA := l.succeeded[a]
	start, okB := l.firstSeen[b]
	switch {
	case !okA || !okB:
		return fmt.Errorf("want pods %s and %s to have run (saw %v)", a, b, l.succeeded)
	case !done.Before(start):
		return fmt.Errorf("%s started %s before %s had finished", b, done.Sub(start), a)
	}
	return nil
}

func watchAllInstallPods(t *testing.T, cs kubernetes.Interface) (*podTimeline, func()) {
	t.Helper()
	l := &podTimeline{firstSeen: map[string]time.Time{}, succeeded: map[string]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := cs.CoreV1().Pods(kube.DefaultInstallNamespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			now := time.Now()
			l.mu.Lock()
			if _, seen := l.firstSeen[p.Name]; !seen {
				l.firstSeen[p.Name] = now
			}
			if _, seen := l.succeeded[p.Name]; !seen && p.Status.Phase == corev1.PodSucceeded {
				l.succeeded[p.Name] = now
			}
			l.mu.Unlock()
		}
	}()
	return l, func() {
		cancel()
		w.Stop()
		<-done
	}
}
