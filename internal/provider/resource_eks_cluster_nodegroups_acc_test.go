package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// groupNodes waits until the API server has want nodes of node group group (joined by the
// local stack's stand-in instances) and returns them sorted by name.
func groupNodes(ctx context.Context, cs kubernetes.Interface, group string, want int) ([]corev1.Node, error) {
	var last []corev1.Node
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "eks.amazonaws.com/nodegroup=" + group})
		if err != nil {
			return nil, err
		}
		last = l.Items
		if len(last) == want {
			sort.Slice(last, func(i, j int) bool { return last[i].Name < last[j].Name })
			return last, nil
		}
	}
	return nil, fmt.Errorf("node group %s: %d nodes joined, want %d", group, len(last), want)
}

func hasTaint(n corev1.Node, key, value string, effect corev1.TaintEffect) bool {
	return slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == key && t.Value == value && t.Effect == effect })
}

// TestAccEKSCluster_NodeGroups: a cluster with two managed node groups of two AMI types
// (AL2023 x86_64 Spot with labels and taints, Bottlerocket ARM64) next to a one-node
// self-managed group, in API mode. Through the emulator's signed EKS API: both groups with
// their settings, and the access entry EKS made for their role; through the Kubernetes
// API: each group's nodes joined with its labels and taints. Scaling changes in place
// through UpdateStack, an instance type change is refused at plan time, a refresh reads a
// change made outside Terraform back from the stack, an import plans an in-place update, and
// destroy removes the groups, their nodes and the stack.
func TestAccEKSCluster_NodeGroups(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	name := "ck-acc-ng"
	dir := config.TestNameDirectory()
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	sess := accSession(t, accStack.AWSConfig.RoleARN, "acc-nodegroups")
	describe := func(group string) (*ekstypes.Nodegroup, error) {
		out, err := sess.EKS.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(name), NodegroupName: aws.String(group)})
		if err != nil {
			return nil, err
		}
		return out.Nodegroup, nil
	}
	var managedRole string
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if info, ok := accStack.AWS.Stack(name); !ok || info.Status != "DELETE_COMPLETE" {
				return fmt.Errorf("stack after destroy: %s", info.Status)
			}
			if _, err := sess.EKS.ListNodegroups(ctx, &eks.ListNodegroupsInput{ClusterName: aws.String(name)}); !strings.Contains(fmt.Sprint(err), "ResourceNotFoundException") {
				return fmt.Errorf("ListNodegroups after destroy: %v", err)
			}
			for _, g := range []string{"web", "arm"} {
				if _, err := groupNodes(ctx, cs, g, 0); err != nil {
					return err
				}
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				ConfigDirectory: dir,
				ConfigVariables: eksVars(name, config.Variables{"node_count": config.IntegerVariable(1)}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("node_groups").AtMapKey("web").AtMapKey("desired_size"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("node_groups").AtMapKey("arm").AtMapKey("min_size"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("node_groups").AtMapKey("arm").AtMapKey("disk_size"), knownvalue.Int64Exact(20)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("node_groups").AtMapKey("arm").AtMapKey("capacity_type"), knownvalue.StringExact("ON_DEMAND")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("managed_node_role_arn"), knownvalue.StringRegexp(regexp.MustCompile(`^arn:aws:iam::222222222222:role/ck-acc-ng-ManagedNodeRole-`))),
				},
				Check: func(st *terraform.State) error {
					attrs := st.RootModule().Resources[eksAddr].Primary.Attributes
					managedRole = attrs["managed_node_role_arn"]
					list, err := sess.EKS.ListNodegroups(ctx, &eks.ListNodegroupsInput{ClusterName: aws.String(name)})
					if err != nil || !slices.Equal(list.Nodegroups, []string{"arm", "web"}) {
						return fmt.Errorf("ListNodegroups = %v, %v", list, err)
					}
					web, err := describe("web")
					if err != nil {
						return err
					}
					if web.Status != ekstypes.NodegroupStatusActive || web.AmiType != ekstypes.AMITypesAl2023X8664Standard || web.CapacityType != ekstypes.CapacityTypesSpot ||
						!slices.Equal(web.InstanceTypes, []string{"t3.large"}) || aws.ToInt32(web.DiskSize) != 30 || aws.ToString(web.Version) != "1.35" ||
						aws.ToInt32(web.ScalingConfig.MinSize) != 1 || aws.ToInt32(web.ScalingConfig.DesiredSize) != 2 || aws.ToInt32(web.ScalingConfig.MaxSize) != 4 ||
						web.Labels["role"] != "web" || web.Labels["example.com/tier"] != "front" || len(web.Taints) != 1 ||
						aws.ToString(web.Taints[0].Key) != "dedicated" || web.Taints[0].Effect != ekstypes.TaintEffectNoSchedule || aws.ToString(web.NodeRole) != managedRole {
						return fmt.Errorf("DescribeNodegroup web = %+v", web)
					}
					arm, err := describe("arm")
					if err != nil {
						return err
					}
					if arm.AmiType != ekstypes.AMITypesBottlerocketArm64 || !slices.Equal(arm.InstanceTypes, []string{"m7g.large"}) || aws.ToInt32(arm.ScalingConfig.DesiredSize) != 1 || len(arm.Taints) != 0 {
						return fmt.Errorf("DescribeNodegroup arm = %+v", arm)
					}
					// EKS itself made the managed role's access entry; the stack made the
					// self-managed role's.
					for role, what := range map[string]string{managedRole: "managed node groups'", attrs["node_instance_role_arn"]: "self-managed nodes'"} {
						ae, err := sess.EKS.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(name), PrincipalArn: aws.String(role)})
						if err != nil || aws.ToString(ae.AccessEntry.Type) != "EC2_LINUX" || !slices.Equal(ae.AccessEntry.KubernetesGroups, []string{"system:nodes"}) {
							return fmt.Errorf("access entry of the %s role %s: %+v %v", what, role, ae, err)
						}
					}
					nodes, err := groupNodes(ctx, cs, "web", 2)
					if err != nil {
						return err
					}
					for _, n := range nodes {
						if n.Labels["role"] != "web" || n.Labels["example.com/tier"] != "front" || n.Labels["kubernetes.io/arch"] != "amd64" ||
							n.Labels["eks.amazonaws.com/capacityType"] != "SPOT" || n.Labels["node.kubernetes.io/instance-type"] != "t3.large" ||
							!hasTaint(n, "dedicated", "web", corev1.TaintEffectNoSchedule) {
							return fmt.Errorf("web node %s: labels %v taints %v", n.Name, n.Labels, n.Spec.Taints)
						}
					}
					armNodes, err := groupNodes(ctx, cs, "arm", 1)
					if err != nil {
						return err
					}
					if n := armNodes[0]; n.Labels["kubernetes.io/arch"] != "arm64" || n.Labels["eks.amazonaws.com/capacityType"] != "ON_DEMAND" || hasTaint(n, "dedicated", "web", corev1.TaintEffectNoSchedule) {
						return fmt.Errorf("arm node %s: labels %v taints %v", n.Name, n.Labels, n.Spec.Taints)
					}
					return noTemporaryCredentials(st)
				},
			},
			{
				// Scaling changes in place through UpdateStack.
				ConfigDirectory: dir,
				ConfigVariables: eksVars(name, config.Variables{"node_count": config.IntegerVariable(1), "web_desired": config.IntegerVariable(3), "web_max": config.IntegerVariable(5)}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(eksAddr, tfjsonpath.New("managed_node_role_arn"), knownvalue.NotNull()),
				}},
				Check: func(*terraform.State) error {
					info, _ := accStack.AWS.Stack(name)
					if info.Status != "UPDATE_COMPLETE" {
						return fmt.Errorf("stack %s after scaling", info.Status)
					}
					web, err := describe("web")
					if err != nil {
						return err
					}
					if aws.ToInt32(web.ScalingConfig.DesiredSize) != 3 || aws.ToInt32(web.ScalingConfig.MaxSize) != 5 || web.Status != ekstypes.NodegroupStatusActive {
						return fmt.Errorf("web after scaling: %+v", web.ScalingConfig)
					}
					_, err = groupNodes(ctx, cs, "web", 3)
					return err
				},
			},
			{
				// CloudFormation would replace the group for a new instance type, under the
				// name the group holds: refused at plan time, naming the setting.
				ConfigDirectory: dir,
				ConfigVariables: eksVars(name, config.Variables{"node_count": config.IntegerVariable(1), "web_desired": config.IntegerVariable(3), "web_max": config.IntegerVariable(5), "web_instance_type": config.StringVariable("m5.large")}),
				PlanOnly:        true,
				ExpectError:     regexp.MustCompile(`(?s)node_groups\["web"\]\.instance_types cannot change on an existing node group.*Give the entry a new name \(for example\s+"web-2"\)`),
			},
			{
				// Other subnets: the control plane and the self-managed nodes would move in
				// place, but a managed group only by a replacement under its own name:
				// refused at plan time, naming the groups.
				ConfigDirectory: dir,
				ConfigVariables: eksVars(name, config.Variables{"node_count": config.IntegerVariable(1), "web_desired": config.IntegerVariable(3), "web_max": config.IntegerVariable(5),
					"subnet_ids": config.ListVariable(config.StringVariable("subnet-0123456789abcdef2"), config.StringVariable("subnet-0123456789abcdef3"))}),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Managed node groups cannot move to other subnets.*managed node groups\s+"arm",\s+"web"\s+keep\s+their\s+names.*\(for\s+example\s+"arm-2"\)`),
			},
			{
				// Scaled outside Terraform (the stack updated with web's desired size 2): the
				// refresh reads the groups back from the stack's template.
				PreConfig: func() {
					info, _ := accStack.AWS.Stack(name)
					var params []cfntypes.Parameter
					for k := range info.Parameters {
						params = append(params, cfntypes.Parameter{ParameterKey: aws.String(k), UsePreviousValue: aws.Bool(true)})
					}
					body := strings.Replace(info.TemplateBody, "DesiredSize: 3", "DesiredSize: 2", 1)
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
				// The plan's prior state is the refresh's: web at 2. The apply puts the
				// configuration's 3 back, in place.
				ConfigDirectory: dir,
				ConfigVariables: eksVars(name, config.Variables{"node_count": config.IntegerVariable(1), "web_desired": config.IntegerVariable(3), "web_max": config.IntegerVariable(5)}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate),
					priorValue{path: []string{"node_groups", "web", "desired_size"}, want: float64(2)},
				}},
				Check: func(*terraform.State) error {
					web, err := describe("web")
					if err != nil || aws.ToInt32(web.ScalingConfig.DesiredSize) != 3 {
						return fmt.Errorf("web after the apply: %+v %v", web, err)
					}
					return nil
				},
			},
			{
				// Import: the configuration brings the groups, and a setting that cannot
				// change in place is checked against the stack's.
				ResourceName:       eksAddr,
				ImportState:        true,
				ImportStateKind:    resource.ImportBlockWithID,
				ImportStateId:      "us-east-1/" + name,
				ExpectNonEmptyPlan: true,
				ConfigDirectory:    dir,
				ConfigVariables:    eksVars(name, config.Variables{"node_count": config.IntegerVariable(1), "web_desired": config.IntegerVariable(3), "web_max": config.IntegerVariable(5)}),
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(eksAddr, tfjsonpath.New("node_groups").AtMapKey("web").AtMapKey("desired_size"), knownvalue.Int64Exact(3)),
					plancheck.ExpectKnownValue(eksAddr, tfjsonpath.New("node_groups").AtMapKey("arm").AtMapKey("ami_type"), knownvalue.StringExact("BOTTLEROCKET_ARM_64")),
				}},
			},
		},
	}))
}

// TestAccEKSCluster_NodeGroupsConfigMap: managed node groups only (node_count left out),
// in CONFIG_MAP mode, where there are no access entries: the provider maps the managed
// node groups' role in kube-system/aws-auth (as EKS does too), the groups' nodes join
// through that mapping, and destroy removes it.
func TestAccEKSCluster_NodeGroupsConfigMap(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	name := "ck-acc-ngcm"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	var managedRole string
	mapped := func() (bool, error) {
		roles, err := kube.NewClientForInterface(cs).FindRoleMappings(ctx)
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(roles, func(r kube.RoleMapping) bool {
			return r.RoleARN == managedRole && slices.Contains(r.Groups, "system:nodes")
		}), nil
	}
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if info, ok := accStack.AWS.Stack(name); !ok || info.Status != "DELETE_COMPLETE" {
				return fmt.Errorf("stack after destroy: %s", info.Status)
			}
			if ok, err := mapped(); err != nil || ok {
				return fmt.Errorf("aws-auth still maps %s (%v)", managedRole, err)
			}
			return nil
		},
		Steps: []resource.TestStep{{
			ConfigDirectory: config.StaticDirectory("testdata/TestAccEKSCluster_NodeGroups"),
			ConfigVariables: eksVars(name, config.Variables{"authentication_mode": config.StringVariable("CONFIG_MAP"), "web_desired": config.IntegerVariable(1)}),
			ConfigStateChecks: []statecheck.StateCheck{
				// node_count left out with node_groups: no self-managed group.
				statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("node_count"), knownvalue.Int64Exact(0)),
			},
			Check: func(st *terraform.State) error {
				managedRole = st.RootModule().Resources[eksAddr].Primary.Attributes["managed_node_role_arn"]
				info, _ := accStack.AWS.Stack(name)
				for _, ev := range info.Events {
					if ev.LogicalResourceID == "NodeGroup" || ev.LogicalResourceID == "NodeLaunchTemplate" {
						return fmt.Errorf("the stack made %s with node_count 0", ev.LogicalResourceID)
					}
				}
				if ok, err := mapped(); err != nil || !ok {
					return fmt.Errorf("aws-auth does not map %s in system:nodes (%v)", managedRole, err)
				}
				if _, err := nodeGroupsSession(t).EKS.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(name), PrincipalArn: aws.String(managedRole)}); err == nil {
					return fmt.Errorf("a CONFIG_MAP cluster answered DescribeAccessEntry for %s", managedRole)
				}
				if _, err := groupNodes(ctx, cs, "web", 1); err != nil {
					return err
				}
				_, err := groupNodes(ctx, cs, "arm", 1)
				return err
			},
		}},
	}))
}

func nodeGroupsSession(t *testing.T) *cloud.Session {
	return accSession(t, accStack.AWSConfig.RoleARN, "acc-nodegroups")
}

// TestAccEKSCluster_NodeGroupsValidation: what EKS would refuse in a node group is
// refused at plan time, once, naming the entry and the setting.
func TestAccEKSCluster_NodeGroupsValidation(t *testing.T) {
	stackFromEnv(t)
	name := "ck-acc-ngbad"
	dir := config.StaticDirectory("testdata/TestAccEKSCluster_NodeGroups")
	step := func(vars config.Variables, want string) resource.TestStep {
		return resource.TestStep{ConfigDirectory: dir, ConfigVariables: eksVars(name, vars), PlanOnly: true, ExpectError: regexp.MustCompile(want)}
	}
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []resource.TestStep{
			step(config.Variables{"web_desired": config.IntegerVariable(7)}, `(?s)node_groups\["web"\]\.desired_size: 7 is above max_size 4`),
			step(config.Variables{"web_max": config.IntegerVariable(0), "web_desired": config.IntegerVariable(0)}, `(?s)node_groups\["web"\]\.max_size`),
			step(config.Variables{"web_instance_type": config.StringVariable("c7g.large")}, `(?s)node_groups\["web"\]\.instance_types: c7g\.large is an arm64 instance type and\s+ami_type AL2023_x86_64_STANDARD runs on amd64`),
			step(config.Variables{"web_ami_type": config.StringVariable("AL2_x86_64")}, `(?s)node_groups\["web"\]\.ami_type: AL2_x86_64 is Amazon Linux 2, for which EKS\s+publishes no AMIs`),
		},
	}))
}
