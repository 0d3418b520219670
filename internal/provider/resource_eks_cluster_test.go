package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

const eksAddr = "clusterkit_eks_cluster.test"

var eksConfig = config.StaticDirectory("testdata/eks")

func eksVars(name string, extra config.Variables) config.Variables {
	a := accStack.AWSConfig
	v := config.Variables{
		"aws_endpoint": config.StringVariable(accStack.AWSEndpoint),
		"access_key":   config.StringVariable(a.AccessKeyID),
		"secret_key":   config.StringVariable(a.SecretKey),
		"role_arn":     config.StringVariable(a.RoleARN),
		"external_id":  config.StringVariable(a.ExternalID),
		"name":         config.StringVariable(name),
	}
	for k, val := range extra {
		v[k] = val
	}
	return v
}

// countCalls counts successful calls of action in the emulator's log (all stacks: take
// differences).
func countCalls(action, stackName string) int {
	n := 0
	for _, c := range accStack.AWS.Calls() {
		if c.Action == action && c.ErrorCode == "" {
			n++
		}
	}
	return n
}

// noTemporaryCredentials fails when anything STS issued reached the state.
func noTemporaryCredentials(st *terraform.State) error {
	for _, m := range st.Modules {
		for addr, r := range m.Resources {
			for k, v := range r.Primary.Attributes {
				if strings.Contains(v, "ASIA") || strings.Contains(v, "k8s-aws-v1.") || strings.Contains(v, "X-Amz-Signature") {
					return fmt.Errorf("%s.%s holds a temporary credential or token", addr, k)
				}
			}
		}
	}
	return nil
}

// configMapMode is the eks test config in CONFIG_MAP mode.
var configMapMode = config.Variables{"authentication_mode": config.StringVariable("CONFIG_MAP")}

func TestAccEKSCluster_Lifecycle(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	name := "ck-acc-life"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 20 * time.Millisecond})
	var nodeRole string
	creates := countCalls("CreateStack", name)
	deletes := countCalls("DeleteStack", name)
	// Bursts of throttling and server errors are absorbed by the SDK's retries.
	accStack.AWS.InjectFault(awsemu.Fault{Action: "DescribeStacks", Kind: "throttle", Count: 2})
	accStack.AWS.InjectFault(awsemu.Fault{Action: "CreateStack", Kind: "5xx", Count: 1})

	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			info, ok := accStack.AWS.Stack(name)
			if !ok || info.Status != "DELETE_COMPLETE" {
				return fmt.Errorf("stack after destroy: %+v", info.Status)
			}
			if n := countCalls("DeleteStack", name) - deletes; n != 1 {
				return fmt.Errorf("%d DeleteStack calls, want 1", n)
			}
			roles, err := kube.NewClientForInterface(cs).FindRoleMappings(ctx)
			if err != nil {
				return err
			}
			for _, r := range roles {
				if r.RoleARN == nodeRole {
					return fmt.Errorf("aws-auth still maps %s", nodeRole)
				}
			}
			return expectNothingOwned(cs, "eks_cluster/us-east-1/"+name)
		},
		Steps: []resource.TestStep{
			{
				// CONFIG_MAP (EKS before access entries): the provider maps the node role in
				// aws-auth. TestAccEKSCluster_AccessEntries covers the API default.
				ConfigDirectory: eksConfig,
				ConfigVariables: eksVars(name, configMapMode),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("authentication_mode"), knownvalue.StringExact("CONFIG_MAP")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("id"), knownvalue.StringExact("us-east-1/"+name)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("CREATE_COMPLETE")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("endpoint"), knownvalue.StringExact(s.Host)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("stack_id"), knownvalue.StringRegexp(regexp.MustCompile(`^arn:aws:cloudformation:us-east-1:222222222222:stack/`+name+`/`))),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("session_name"), knownvalue.StringExact("clusterkit-"+name)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("cluster_connection").AtMapKey("eks").AtMapKey("cluster_name"), knownvalue.StringExact(name)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("cluster_connection").AtMapKey("token"), knownvalue.Null()),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("service_account").AtMapKey("name"), knownvalue.StringExact("clusterkit")),
				},
				Check: resource.ComposeTestCheckFunc(noTemporaryCredentials, func(st *terraform.State) error {
					nodeRole = st.RootModule().Resources[eksAddr].Primary.Attributes["node_instance_role_arn"]
					info, _ := accStack.AWS.Stack(name)
					if info.Parameters["NodeCount"] != "2" || info.Parameters["KubernetesVersion"] != "1.35" ||
						info.Parameters["NodeImageId"] != "/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/recommended/image_id" {
						return fmt.Errorf("stack parameters %v", info.Parameters)
					}
					if !slices.Contains(info.Capabilities, "CAPABILITY_IAM") || info.Tags["team"] != "platform" || info.Tags["clusterkit.dev/resource"] != "us-east-1/"+name {
						return fmt.Errorf("capabilities %v tags %v", info.Capabilities, info.Tags)
					}
					if len(info.ClientRequestTokens) == 0 || !strings.HasPrefix(info.ClientRequestTokens[0], "clusterkit-") {
						return fmt.Errorf("client request tokens %v", info.ClientRequestTokens)
					}
					roles, err := kube.NewClientForInterface(cs).FindRoleMappings(ctx)
					if err != nil {
						return err
					}
					// The stack's clusters share one API server, so aws-auth may hold other
					// tests' node roles (a cluster moved to API mode leaves its entry): this
					// cluster's role must be there once, as a node.
					var mine []kube.RoleMapping
					for _, r := range roles {
						if r.RoleARN == nodeRole {
							mine = append(mine, r)
						}
					}
					if len(mine) != 1 || !slices.Contains(mine[0].Groups, "system:nodes") {
						return fmt.Errorf("aws-auth mapRoles %+v, want the node role %s once, in system:nodes", roles, nodeRole)
					}
					if err := expectServiceAccount(cs, "kube-system", "clusterkit", "eks_cluster/us-east-1/"+name); err != nil {
						return err
					}
					return expectClusterRoleBinding(cs, "clusterkit-admin", "cluster-admin", "kube-system", "clusterkit")
				}),
			},
			{
				// Node count changes in place, through UpdateStack.
				ConfigDirectory: eksConfig,
				ConfigVariables: eksVars(name, config.Variables{"node_count": config.IntegerVariable(3), "authentication_mode": config.StringVariable("CONFIG_MAP")}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("UPDATE_COMPLETE")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("node_count"), knownvalue.Int64Exact(3)),
				},
				Check: func(*terraform.State) error {
					info, _ := accStack.AWS.Stack(name)
					if info.Parameters["NodeCount"] != "3" || info.Status != "UPDATE_COMPLETE" {
						return fmt.Errorf("after update: status %s NodeCount %s", info.Status, info.Parameters["NodeCount"])
					}
					if n := countCalls("CreateStack", name) - creates; n != 1 {
						return fmt.Errorf("%d CreateStack calls, want 1", n)
					}
					return nil
				},
			},
			{
				ResourceName:       eksAddr,
				ImportState:        true,
				ImportStateKind:    resource.ImportBlockWithID,
				ImportStateId:      "us-east-1/" + name,
				ExpectNonEmptyPlan: true,
				ConfigDirectory:    eksConfig,
				ConfigVariables:    eksVars(name, config.Variables{"node_count": config.IntegerVariable(3), "authentication_mode": config.StringVariable("CONFIG_MAP")}),
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(eksAddr, tfjsonpath.New("id"), knownvalue.StringExact("us-east-1/"+name)),
					},
				},
			},
		},
	}))
}

// A resource that fails leaves state that tells the truth: the failed stack is recorded,
// the resource is tainted, and the next apply deletes it and creates a new one.
func TestAccEKSCluster_StackFailureThenReplace(t *testing.T) {
	stackFromEnv(t)
	name := "ck-acc-fail"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond, FailResource: "EKSCluster", FailReason: "Subnets specified must be in at least two different AZs"})
	var firstStack string
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []resource.TestStep{
			{
				ConfigDirectory: eksConfig,
				ConfigVariables: eksVars(name, nil),
				ExpectError:     regexp.MustCompile(`(?s)CloudFormation stack ck-acc-fail failed.*ROLLBACK_COMPLETE.*EKSCluster.*two\s+different\s+AZs.*Stack events:.*ROLLBACK_IN_PROGRESS`),
			},
			{
				PreConfig: func() {
					info, _ := accStack.AWS.Stack(name)
					firstStack = info.StackID
					accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
				},
				ConfigDirectory: eksConfig,
				ConfigVariables: eksVars(name, nil),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("CREATE_COMPLETE")),
				},
				Check: func(st *terraform.State) error {
					id := st.RootModule().Resources[eksAddr].Primary.Attributes["stack_id"]
					if id == firstStack || firstStack == "" {
						return fmt.Errorf("stack %s was not replaced (first %s)", id, firstStack)
					}
					if old, _ := accStack.AWS.Stack(firstStack); old.Status != "DELETE_COMPLETE" {
						return fmt.Errorf("failed stack is %s, want DELETE_COMPLETE", old.Status)
					}
					return nil
				},
			},
		},
	}))
}

// An apply that runs out of time keeps the stack ID; the next apply resumes waiting on the
// same stack instead of creating a second one.
func TestAccEKSCluster_ResumesAfterTimeout(t *testing.T) {
	stackFromEnv(t)
	name := "ck-acc-resume"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 300 * time.Millisecond})
	before := countCalls("CreateStack", name)
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []resource.TestStep{
			{
				ConfigDirectory:    eksConfig,
				ConfigVariables:    eksVars(name, config.Variables{"create_timeout": config.StringVariable("3s")}),
				ExpectNonEmptyPlan: true, // the stack is still in progress: the next plan resumes
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("CREATE_IN_PROGRESS")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("stack_id"), knownvalue.NotNull()),
				},
			},
			{
				ConfigDirectory: eksConfig,
				ConfigVariables: eksVars(name, nil),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("CREATE_COMPLETE")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("endpoint"), knownvalue.StringExact(accStack.Host)),
				},
				Check: func(*terraform.State) error {
					if n := countCalls("CreateStack", name) - before; n != 1 {
						return fmt.Errorf("%d CreateStack calls, want exactly 1", n)
					}
					return nil
				},
			},
		},
	}))
}

func TestAccEKSCluster_WrongExternalID(t *testing.T) {
	stackFromEnv(t)
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []resource.TestStep{{
			ConfigDirectory: eksConfig,
			ConfigVariables: eksVars("ck-acc-denied", config.Variables{"external_id": config.StringVariable("not-the-external-id")}),
			ExpectError:     regexp.MustCompile(`(?s)Cannot assume the provisioning role.*AccessDenied.*external_id`),
		}},
	}))
	if info, ok := accStack.AWS.Stack("ck-acc-denied"); ok {
		t.Fatalf("a stack was created without access: %s", info.Status)
	}
}

func TestAccEKSCluster_InvalidConfig(t *testing.T) {
	stackFromEnv(t)
	cases := map[string]struct{ attrs, want string }{
		"name":         {`name = "1-bad"`, `(?s)name.*1 to 100 characters, start with a letter.*"1-bad" does not follow it`},
		"one subnet":   {`subnet_ids = ["subnet-0123456789abcdef0"]`, `(?s)subnet_ids.*at least 2`},
		"version":      {`kubernetes_version = "1.33.2"`, `(?s)kubernetes_version.*minor version such as 1.33`},
		"cidr":         {`service_ipv4_cidr = "8.8.0.0/16"`, `(?s)not in a private range`},
		"reserved tag": {`tags = { "aws:owner" = "x" }`, `(?s)reserved prefix`},
		"role arn":     {`cluster_role_arn = "arn:aws:iam::1:user/x"`, `(?s)cluster_role_arn.*IAM role ARN`},
		"template":     {`template_body = "Resources: {}"`, `(?s)template_body.*AWS::EKS::Cluster`},
		"no endpoint":  {`endpoint_public_access = false`, `(?s)No way to reach the cluster's API server.*endpoint_public_access = false`},
		"kms alias":    {`secrets_kms_key_arn = "arn:aws:kms:us-east-1:222222222222:alias/eks"`, `(?s)secrets_kms_key_arn.*is an alias`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			body := map[string]string{
				"name": `name = "ck-invalid"`, "subnet_ids": `subnet_ids = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]`,
				"kubernetes_version": `kubernetes_version = "1.35"`, "cluster_role_arn": `cluster_role_arn = "arn:aws:iam::222222222222:role/eks"`,
			}
			key := strings.TrimSpace(strings.SplitN(tc.attrs, "=", 2)[0])
			body[key] = tc.attrs
			var lines []string
			for _, l := range body {
				lines = append(lines, "  "+l)
			}
			slices.Sort(lines)
			resource.Test(t, withProviderPerStep(resource.TestCase{
				Steps: []resource.TestStep{{
					Config: providerLocal + `
resource "clusterkit_eks_cluster" "test" {
` + strings.Join(lines, "\n") + `
  provision_role_arn              = "arn:aws:iam::222222222222:role/p"
  external_id                     = "ext-123"
  vpc_id                          = "vpc-0123456789abcdef0"
  control_plane_security_group_id = "sg-0123456789abcdef0"
}`,
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			}))
		})
	}
}

// TestAccEKSToken_Ephemeral opens the ephemeral token through OpenTofu: it describes the
// cluster through the customer role and nothing of it reaches the state.
func TestAccEKSToken_Ephemeral(t *testing.T) {
	stackFromEnv(t)
	name := "ck-acc-token"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	opened := func() int {
		n := 0
		for _, c := range accStack.AWS.Calls() {
			if c.Action == "DescribeCluster" && strings.HasSuffix(c.Principal, "/ephemeral-token") {
				n++
			}
		}
		return n
	}
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []resource.TestStep{
			{ConfigDirectory: eksConfig, ConfigVariables: eksVars(name, nil)},
			{
				ConfigDirectory: config.StaticDirectory("testdata/eks_token"),
				ConfigVariables: eksVars(name, nil),
				Check: resource.ComposeTestCheckFunc(noTemporaryCredentials, func(*terraform.State) error {
					if n := opened(); n < 1 {
						return fmt.Errorf("the ephemeral resource was never opened by its own session (%d calls)", n)
					}
					return nil
				}),
			},
		},
	}))
}

// A stack deleted outside Terraform drops out of state at refresh; the plan creates it again.
func TestAccEKSCluster_DeletedOutOfBand(t *testing.T) {
	stackFromEnv(t)
	name := "ck-acc-gone"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []resource.TestStep{
			{ConfigDirectory: eksConfig, ConfigVariables: eksVars(name, nil)},
			{
				PreConfig: func() {
					ctx := context.Background()
					a := accStack.AWSConfig
					f := cloud.NewFactory(cloud.Config{Region: a.Region, AccessKey: a.AccessKeyID, SecretKey: a.SecretKey,
						Endpoints: cloud.Endpoints{STS: accStack.AWSEndpoint, CloudFormation: accStack.AWSEndpoint, EKS: accStack.AWSEndpoint}})
					sess, err := f.Session(ctx, cloud.Target{RoleARN: a.RoleARN, ExternalID: a.ExternalID, SessionName: "out-of-band"})
					if err != nil {
						t.Fatal(err)
					}
					if err := sess.DeleteStack(ctx, name, ""); err != nil {
						t.Fatal(err)
					}
					if _, err := sess.WaitStack(ctx, name, cloud.OpDelete, cloud.WaitOptions{Backoff: cloud.Backoff{First: 20 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 2}}); err != nil {
						t.Fatal(err)
					}
				},
				ConfigDirectory:    eksConfig,
				ConfigVariables:    eksVars(name, nil),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionCreate)},
				},
			},
		},
	}))
}

// A stack whose deletion fails (a security group that something outside the stack still
// uses) leaves the resource in state; the plan shows it replaced, and destroying again
// once the cause is gone deletes the same stack.
func TestAccEKSCluster_DeleteFailed(t *testing.T) {
	stackFromEnv(t)
	name := "ck-acc-delfail"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	deletes := countCalls("DeleteStack", name)
	var stackID string
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if info, _ := accStack.AWS.Stack(stackID); info.Status != "DELETE_COMPLETE" {
				return fmt.Errorf("stack %s after the second destroy: %s", stackID, info.Status)
			}
			if n := countCalls("DeleteStack", name) - deletes; n != 2 {
				return fmt.Errorf("%d DeleteStack calls, want 2", n)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				ConfigDirectory: eksConfig,
				ConfigVariables: eksVars(name, nil),
				Check: func(st *terraform.State) error {
					stackID = st.RootModule().Resources[eksAddr].Primary.Attributes["stack_id"]
					return nil
				},
			},
			{
				PreConfig: func() {
					accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond,
						FailDeleteResource: "NodeSecurityGroup", FailDeleteReason: "resource sg-0a1b2c3d4e5f67890 has a dependent object"})
				},
				ConfigDirectory: eksConfig,
				ConfigVariables: eksVars(name, nil),
				Destroy:         true,
				ExpectError: regexp.MustCompile(`(?s)Deleting stack ck-acc-delfail failed.*DELETE_FAILED.*NodeSecurityGroup.*has\s+a\s+dependent\s+object.*` +
					`Stack events:.*DELETE_IN_PROGRESS.*destroy\s+again`),
			},
			{
				// The stack is still there, DELETE_FAILED: the plan replaces it (its
				// destroy goes first, so the name is free again).
				PreConfig: func() {
					if info, _ := accStack.AWS.Stack(stackID); info.Status != "DELETE_FAILED" {
						t.Fatalf("stack after the failed destroy: %s", info.Status)
					}
					accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
				},
				ConfigDirectory:    eksConfig,
				ConfigVariables:    eksVars(name, nil),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
			},
		},
	}))
}
