package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// addonVersion is an add-on's version in the state.
func addonVersion(name, want string) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("addons").AtMapKey(name).AtMapKey("version"), knownvalue.StringExact(want))
}

// describeAddons is every add-on of cluster name through the emulator's signed EKS API:
// ListAddons, then DescribeAddon of each.
func describeAddons(ctx context.Context, sess *cloud.Session, name string) (map[string]*ekstypes.Addon, error) {
	list, err := sess.EKS.ListAddons(ctx, &eks.ListAddonsInput{ClusterName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	out := map[string]*ekstypes.Addon{}
	for _, a := range list.Addons {
		d, err := sess.EKS.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(name), AddonName: aws.String(a)})
		if err != nil {
			return nil, err
		}
		out[a] = d.Addon
	}
	return out, nil
}

// TestAccEKSCluster_Addons: a cluster with the four add-ons, vpc-cni pinned to a version
// that is not EKS's default and coredns configured. Through the emulator's signed EKS API:
// ListAddons and DescribeAddon (versions, configuration, ACTIVE). A configuration change
// updates in place; what EKS would refuse is refused at plan time; a version changed on the
// stack outside Terraform is read back by the refresh and put back; an import plans the
// add-ons of the configuration as an in-place update; destroy removes them with the stack.
func TestAccEKSCluster_Addons(t *testing.T) {
	stackFromEnv(t)
	ctx := context.Background()
	name := "ck-acc-addons"
	dir := config.TestNameDirectory()
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	sess := accSession(t, accStack.AWSConfig.RoleARN, "acc-addons")
	vars := func(extra config.Variables) config.Variables { return eksVars(name, extra) }
	lookups := countCalls("DescribeAddonVersions", name)
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if info, ok := accStack.AWS.Stack(name); !ok || info.Status != "DELETE_COMPLETE" {
				return fmt.Errorf("stack after destroy: %s", info.Status)
			}
			if _, err := sess.EKS.ListAddons(ctx, &eks.ListAddonsInput{ClusterName: aws.String(name)}); !strings.Contains(fmt.Sprint(err), "ResourceNotFoundException") {
				return fmt.Errorf("ListAddons after destroy: %v", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				ConfigDirectory: dir,
				ConfigVariables: vars(nil),
				ConfigStateChecks: []statecheck.StateCheck{
					addonVersion("vpc-cni", "v1.20.4-eksbuild.2"), // pinned
					addonVersion("coredns", "v1.13.2-eksbuild.1"), // EKS's defaults for 1.35
					addonVersion("kube-proxy", "v1.35.0-eksbuild.2"),
					addonVersion("eks-pod-identity-agent", "v1.3.10-eksbuild.2"),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("addons").AtMapKey("coredns").AtMapKey("configuration_values"), knownvalue.StringExact(`{"replicaCount":3}`)),
				},
				Check: func(st *terraform.State) error {
					got, err := describeAddons(ctx, sess, name)
					if err != nil {
						return err
					}
					if len(got) != 4 {
						return fmt.Errorf("ListAddons: %d add-ons", len(got))
					}
					want := map[string]string{"vpc-cni": "v1.20.4-eksbuild.2", "coredns": "v1.13.2-eksbuild.1", "kube-proxy": "v1.35.0-eksbuild.2", "eks-pod-identity-agent": "v1.3.10-eksbuild.2"}
					for n, v := range want {
						a := got[n]
						if a == nil || aws.ToString(a.AddonVersion) != v || a.Status != ekstypes.AddonStatusActive {
							return fmt.Errorf("DescribeAddon %s = %+v, want %s ACTIVE", n, a, v)
						}
					}
					if c := aws.ToString(got["coredns"].ConfigurationValues); c != `{"replicaCount":3}` {
						return fmt.Errorf("coredns configuration %q", c)
					}
					// The versions were looked up: one call per add-on at least.
					if n := countCalls("DescribeAddonVersions", name) - lookups; n < 4 {
						return fmt.Errorf("%d DescribeAddonVersions calls, want one per add-on", n)
					}
					return noTemporaryCredentials(st)
				},
			},
			{
				// A configuration change goes through UpdateStack, in place.
				ConfigDirectory: dir,
				ConfigVariables: vars(config.Variables{"coredns_replicas": config.IntegerVariable(2)}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(eksAddr, tfjsonpath.New("addons").AtMapKey("coredns").AtMapKey("version"), knownvalue.StringExact("v1.13.2-eksbuild.1")),
				}},
				Check: func(*terraform.State) error {
					got, err := describeAddons(ctx, sess, name)
					if err != nil {
						return err
					}
					if c := aws.ToString(got["coredns"].ConfigurationValues); c != `{"replicaCount":2}` || aws.ToString(got["coredns"].AddonVersion) != "v1.13.2-eksbuild.1" {
						return fmt.Errorf("coredns after the change: %q %s", c, aws.ToString(got["coredns"].AddonVersion))
					}
					info, _ := accStack.AWS.Stack(name)
					if info.Status != "UPDATE_COMPLETE" {
						return fmt.Errorf("stack %s", info.Status)
					}
					return nil
				},
			},
			{
				ConfigDirectory: dir,
				ConfigVariables: vars(config.Variables{"coredns_replicas": config.IntegerVariable(2), "extra_addon": config.StringVariable("aws-ebs-csi-driver")}),
				PlanOnly:        true,
				ExpectError:     regexp.MustCompile(`addons\["aws-ebs-csi-driver"\]: "aws-ebs-csi-driver" is not an add-on the\s+provider\s+manages; use one of coredns, eks-pod-identity-agent, kube-proxy,\s+vpc-cni`),
			},
			{
				ConfigDirectory: dir,
				ConfigVariables: vars(config.Variables{"coredns_replicas": config.IntegerVariable(2), "kube_proxy_version": config.StringVariable("v1.34.0-eksbuild.2")}),
				PlanOnly:        true,
				ExpectError:     regexp.MustCompile(`addons\["kube-proxy"\]\.version:\s+kube-proxy\s+v1\.34\.0-eksbuild\.2\s+is\s+built\s+for\s+Kubernetes\s+1\.34\s+and\s+the\s+cluster\s+runs\s+1\.35`),
			},
			{
				// A version EKS does not offer for 1.35: refused at apply, before the stack changes.
				ConfigDirectory: dir,
				ConfigVariables: vars(config.Variables{"coredns_replicas": config.IntegerVariable(2), "vpc_cni_version": config.StringVariable("v1.19.2-eksbuild.1")}),
				ExpectError:     regexp.MustCompile(`addons\["vpc-cni"\]\.version\s+\(pinned\):\s+EKS\s+does\s+not\s+offer\s+vpc-cni\s+v1\.19\.2-eksbuild\.1\s+for\s+Kubernetes\s+1\.35`),
			},
			{
				// vpc-cni moved outside Terraform (the stack updated): the refresh reads it back
				// from the stack's template, and the apply puts the pinned version back.
				PreConfig: func() {
					info, _ := accStack.AWS.Stack(name)
					var params []cfntypes.Parameter
					for k := range info.Parameters {
						params = append(params, cfntypes.Parameter{ParameterKey: aws.String(k), UsePreviousValue: aws.Bool(true)})
					}
					body := strings.Replace(info.TemplateBody, "AddonVersion: v1.20.4-eksbuild.2", "AddonVersion: v1.21.1-eksbuild.3", 1)
					if body == info.TemplateBody {
						t.Fatal("the vpc-cni version is not in the stack's template")
					}
					if _, err := sess.CloudFormation.UpdateStack(ctx, &cloudformation.UpdateStackInput{StackName: aws.String(info.StackID), TemplateBody: aws.String(body),
						Parameters: params, Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam}}); err != nil {
						t.Fatal(err)
					}
					for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
						if info, _ := accStack.AWS.Stack(name); info.Status == "UPDATE_COMPLETE" {
							return
						}
					}
					t.Fatal("the out-of-band update did not complete")
				},
				ConfigDirectory: dir,
				ConfigVariables: vars(config.Variables{"coredns_replicas": config.IntegerVariable(2)}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate),
					priorValue{path: []string{"addons", "vpc-cni", "version"}, want: "v1.21.1-eksbuild.3"},
				}},
				Check: func(*terraform.State) error {
					got, err := describeAddons(ctx, sess, name)
					if err != nil || aws.ToString(got["vpc-cni"].AddonVersion) != "v1.20.4-eksbuild.2" {
						return fmt.Errorf("vpc-cni after the apply: %+v %v", got["vpc-cni"], err)
					}
					return nil
				},
			},
			{
				// Import: the configuration's add-ons are planned, with the stack's versions.
				ResourceName:       eksAddr,
				ImportState:        true,
				ImportStateKind:    resource.ImportBlockWithID,
				ImportStateId:      "us-east-1/" + name,
				ExpectNonEmptyPlan: true,
				ConfigDirectory:    dir,
				ConfigVariables:    vars(config.Variables{"coredns_replicas": config.IntegerVariable(2)}),
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(eksAddr, tfjsonpath.New("addons").AtMapKey("vpc-cni").AtMapKey("version"), knownvalue.StringExact("v1.20.4-eksbuild.2")),
					plancheck.ExpectKnownValue(eksAddr, tfjsonpath.New("addons").AtMapKey("coredns").AtMapKey("configuration_values"), knownvalue.StringExact(`{"replicaCount":2}`)),
					plancheck.ExpectUnknownValue(eksAddr, tfjsonpath.New("addons").AtMapKey("kube-proxy").AtMapKey("version")),
				}},
			},
		},
	}))
}

// priorValue checks a value of the eks_cluster in the plan's prior state (what the
// refresh read), by its path of attribute names and map keys.
type priorValue struct {
	path []string
	want any // as JSON decodes it: string, float64, ...
}

func (c priorValue) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	if req.Plan.PriorState == nil || req.Plan.PriorState.Values == nil {
		resp.Error = fmt.Errorf("the plan has no prior state")
		return
	}
	for _, r := range req.Plan.PriorState.Values.RootModule.Resources {
		if r.Address != eksAddr {
			continue
		}
		var v any = r.AttributeValues
		for _, k := range c.path {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		if v != c.want {
			resp.Error = fmt.Errorf("refreshed %s = %v, want %v", strings.Join(c.path, "."), v, c.want)
		}
		return
	}
	resp.Error = fmt.Errorf("%s is not in the prior state", eksAddr)
}

// TestAccEKSCluster_UpgradeWithNodeGroupsAndAddons: a cluster on 1.33 with a managed node
// group and the default add-ons. A skip to 1.35 is refused at plan time; the upgrade to
// 1.34 is one stack update in which the cluster, the node group and every add-on whose
// default moved (kube-proxy) follow, in CloudFormation's order: the cluster's
// UPDATE_COMPLETE before the node group's and the add-on's UPDATE_IN_PROGRESS.
func TestAccEKSCluster_UpgradeWithNodeGroupsAndAddons(t *testing.T) {
	stackFromEnv(t)
	ctx := context.Background()
	name := "ck-acc-upgrade"
	dir := config.TestNameDirectory()
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	sess := accSession(t, accStack.AWSConfig.RoleARN, "acc-upgrade")
	version := func(v string) config.Variables {
		return eksVars(name, config.Variables{"kubernetes_version": config.StringVariable(v)})
	}
	// The progress a user sees: the stack's events in the provider's log, as they come.
	logFile := filepath.Join(t.TempDir(), "provider.log")
	t.Setenv("TF_LOG", "INFO")
	t.Setenv("TF_LOG_PATH", logFile)
	var upgradeStart int
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []resource.TestStep{
			{
				ConfigDirectory: dir,
				ConfigVariables: version("1.33"),
				ConfigStateChecks: []statecheck.StateCheck{
					addonVersion("kube-proxy", "v1.33.0-eksbuild.2"),
					addonVersion("coredns", "v1.12.3-eksbuild.1"),
					addonVersion("vpc-cni", "v1.21.1-eksbuild.3"),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("node_count"), knownvalue.Int64Exact(0)),
				},
				Check: func(*terraform.State) error {
					info, _ := accStack.AWS.Stack(name)
					upgradeStart = len(info.Events)
					return nil
				},
			},
			{
				ConfigDirectory: dir,
				ConfigVariables: version("1.35"),
				PlanOnly:        true,
				ExpectError:     regexp.MustCompile(`(?s)from 1\.33 go to 1\.34 first`),
			},
			{
				ConfigDirectory: dir,
				ConfigVariables: version("1.34"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(eksAddr, tfjsonpath.New("addons").AtMapKey("kube-proxy").AtMapKey("version")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					addonVersion("kube-proxy", "v1.34.0-eksbuild.2"),
					addonVersion("coredns", "v1.12.3-eksbuild.1"), // the same default on 1.33 and 1.34
					addonVersion("eks-pod-identity-agent", "v1.3.10-eksbuild.2"),
				},
				Check: func(*terraform.State) error {
					cl, err := sess.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
					if err != nil || aws.ToString(cl.Cluster.Version) != "1.34" {
						return fmt.Errorf("cluster after the upgrade: %v %v", cl, err)
					}
					ng, err := sess.EKS.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(name), NodegroupName: aws.String("web")})
					if err != nil || aws.ToString(ng.Nodegroup.Version) != "1.34" {
						return fmt.Errorf("node group after the upgrade: %v %v", ng, err)
					}
					got, err := describeAddons(ctx, sess, name)
					if err != nil || aws.ToString(got["kube-proxy"].AddonVersion) != "v1.34.0-eksbuild.2" {
						return fmt.Errorf("kube-proxy after the upgrade: %v %v", got["kube-proxy"], err)
					}
					info, _ := accStack.AWS.Stack(name)
					evs := info.Events[upgradeStart:]
					at := func(id, status string) int {
						return slices.IndexFunc(evs, func(e awsemu.StackEvent) bool { return e.LogicalResourceID == id && e.ResourceStatus == status })
					}
					done := at(cloud.EKSClusterLogicalID, "UPDATE_COMPLETE")
					if done < 0 || at(cloud.EKSClusterLogicalID, "UPDATE_IN_PROGRESS") < 0 {
						return fmt.Errorf("the upgrade did not update the cluster: %+v", evs)
					}
					for _, id := range []string{cloud.NodeGroupLogicalID("web"), cloud.AddonLogicalID("kube-proxy")} {
						if i := at(id, "UPDATE_IN_PROGRESS"); i < done {
							return fmt.Errorf("%s UPDATE_IN_PROGRESS at %d, the cluster's UPDATE_COMPLETE at %d", id, i, done)
						}
					}
					if at(cloud.AddonLogicalID("coredns"), "UPDATE_IN_PROGRESS") >= 0 {
						return fmt.Errorf("coredns was updated though its version did not change")
					}
					return nil
				},
			},
		},
	}))

	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	progress := regexp.MustCompile(`\[INFO\]\s+clusterkit\.aws: CloudFormation ` + name + `: (\S+) (UPDATE_\w+)`)
	var lines []string
	for _, m := range progress.FindAllStringSubmatch(string(b), -1) {
		lines = append(lines, m[1]+" "+m[2])
	}
	logged := func(line string) int { return slices.Index(lines, line) }
	clusterDone := logged(cloud.EKSClusterLogicalID + " UPDATE_COMPLETE")
	if logged(cloud.EKSClusterLogicalID+" UPDATE_IN_PROGRESS") < 0 || clusterDone < 0 {
		t.Fatalf("the upgrade's progress lines do not show the cluster's update: %q", lines)
	}
	for _, id := range []string{cloud.NodeGroupLogicalID("web"), cloud.AddonLogicalID("kube-proxy")} {
		if started, done := logged(id+" UPDATE_IN_PROGRESS"), logged(id+" UPDATE_COMPLETE"); started < clusterDone || done < started {
			t.Errorf("progress of %s: UPDATE_IN_PROGRESS at line %d, UPDATE_COMPLETE at %d, the cluster's UPDATE_COMPLETE at %d: %q",
				id, started, done, clusterDone, lines)
		}
	}
}
