package provider

import (
	"context"
	"fmt"
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
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// describeEKS reads the cluster as EKS reports it, through the customer role (the
// emulator's DescribeCluster, with the real SDK).
func describeEKS(t *testing.T, name string) *cloud.Cluster {
	t.Helper()
	return describeEKSDetails(t, name).Cluster
}

// describeEKSDetails is describeEKS with what only DescribeCluster's details show (subnets,
// security groups, creation time).
func describeEKSDetails(t *testing.T, name string) *cloud.ClusterDetails {
	t.Helper()
	ctx := context.Background()
	a := accStack.AWSConfig
	f := cloud.NewFactory(cloud.Config{Region: a.Region, AccessKey: a.AccessKeyID, SecretKey: a.SecretKey,
		Endpoints: cloud.Endpoints{STS: accStack.AWSEndpoint, CloudFormation: accStack.AWSEndpoint, EKS: accStack.AWSEndpoint}})
	sess, err := f.Session(ctx, cloud.Target{RoleARN: a.RoleARN, ExternalID: a.ExternalID, SessionName: "acc-describe"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sess.FindClusterDetails(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestAccEKSCluster_EndpointLoggingEncryption: a cluster with a private endpoint, the
// public one limited to CIDRs, two log types, a KMS key and tags, as EKS reports it; then
// logging and endpoint access change in place through UpdateStack (the public endpoint's
// blocks kept while it is private, in force again when it is public), and a new KMS key
// plans a replacement.
func TestAccEKSCluster_EndpointLoggingEncryption(t *testing.T) {
	stackFromEnv(t)
	name := "ck-acc-secure"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	const key = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	creates := countCalls("CreateStack", name)
	updates := countCalls("UpdateStack", name)
	dir := config.TestNameDirectory()
	vars := func(public bool, cidrs []string, logs []string, kms string) config.Variables {
		v := config.Variables{
			"endpoint_public_access": config.BoolVariable(public),
			"secrets_kms_key_arn":    config.StringVariable(kms),
		}
		var ls []config.Variable
		for _, l := range logs {
			ls = append(ls, config.StringVariable(l))
		}
		v["enabled_log_types"] = config.SetVariable(ls...)
		if cidrs != nil {
			var cs []config.Variable
			for _, c := range cidrs {
				cs = append(cs, config.StringVariable(c))
			}
			v["public_access_cidrs"] = config.ListVariable(cs...)
		}
		return eksVars(name, v)
	}
	cidrs := []string{"203.0.113.0/24", "198.51.100.7/32"}
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if info, ok := accStack.AWS.Stack(name); !ok || info.Status != "DELETE_COMPLETE" {
				return fmt.Errorf("stack after destroy: %s", info.Status)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				ConfigDirectory: dir,
				ConfigVariables: vars(true, cidrs, []string{"audit", "api"}, key),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("CREATE_COMPLETE")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("endpoint_public_access"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("endpoint_private_access"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("public_access_cidrs"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("203.0.113.0/24"), knownvalue.StringExact("198.51.100.7/32")})),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("enabled_log_types"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("api"), knownvalue.StringExact("audit")})),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("secrets_kms_key_arn"), knownvalue.StringExact(key)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("ip_family"), knownvalue.StringExact("ipv4")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("service_ipv4_cidr"), knownvalue.StringExact("172.20.0.0/16")),
				},
				Check: func(*terraform.State) error {
					cl := describeEKS(t, name)
					if !cl.EndpointPublicAccess || !cl.EndpointPrivateAccess || !slices.Equal(cl.PublicAccessCIDRs, cidrs) {
						return fmt.Errorf("endpoint access public %v private %v CIDRs %q", cl.EndpointPublicAccess, cl.EndpointPrivateAccess, cl.PublicAccessCIDRs)
					}
					if !slices.Equal(cl.LogTypes, []string{"api", "audit"}) || cl.SecretsKeyARN != key || cl.IPFamily != "ipv4" || cl.ServiceCIDR != "172.20.0.0/16" {
						return fmt.Errorf("logging %q key %q network %s %s", cl.LogTypes, cl.SecretsKeyARN, cl.IPFamily, cl.ServiceCIDR)
					}
					if cl.Tags["team"] != "platform" || cl.Tags["cost-center"] != "4711" || cl.Tags["clusterkit.dev/resource"] != "us-east-1/"+name ||
						cl.Tags["aws:cloudformation:logical-id"] != cloud.EKSClusterLogicalID {
						return fmt.Errorf("cluster tags %v", cl.Tags)
					}
					info, _ := accStack.AWS.Stack(name)
					if p := info.Parameters; p["LogApi"] != "true" || p["LogAudit"] != "true" || p["LogScheduler"] != "false" || p["SecretsKmsKeyArn"] != key {
						return fmt.Errorf("stack parameters %v", p)
					}
					return nil
				},
			},
			{
				// Logging, endpoint access and tags change in place: one UpdateStack, the same
				// stack, and the new tag value reaches the cluster. The public endpoint's
				// blocks stay configured: EKS keeps them while the endpoint is private.
				ConfigDirectory: dir,
				ConfigVariables: withVar(vars(false, cidrs, []string{"authenticator"}, key), "tags",
					config.MapVariable(map[string]config.Variable{"team": config.StringVariable("platform"), "cost-center": config.StringVariable("4712")})),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("UPDATE_COMPLETE")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("endpoint_public_access"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("enabled_log_types"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("authenticator")})),
				},
				Check: func(*terraform.State) error {
					cl := describeEKS(t, name)
					if cl.EndpointPublicAccess || !cl.EndpointPrivateAccess || !slices.Equal(cl.LogTypes, []string{"authenticator"}) || cl.SecretsKeyARN != key {
						return fmt.Errorf("after the update: public %v private %v logging %q key %q", cl.EndpointPublicAccess, cl.EndpointPrivateAccess, cl.LogTypes, cl.SecretsKeyARN)
					}
					if cl.Tags["cost-center"] != "4712" || cl.Tags["team"] != "platform" {
						return fmt.Errorf("cluster tags after the update %v", cl.Tags)
					}
					if !slices.Equal(cl.PublicAccessCIDRs, cidrs) {
						return fmt.Errorf("public endpoint blocks while private %q, want %q", cl.PublicAccessCIDRs, cidrs)
					}
					if n := countCalls("CreateStack", name) - creates; n != 1 {
						return fmt.Errorf("%d CreateStack calls, want 1", n)
					}
					if n := countCalls("UpdateStack", name) - updates; n != 1 {
						return fmt.Errorf("%d UpdateStack calls, want 1", n)
					}
					return nil
				},
			},
			{
				// Public again: the blocks kept while private are in force, in place.
				ConfigDirectory: dir,
				ConfigVariables: withVar(vars(true, cidrs, []string{"authenticator"}, key), "tags",
					config.MapVariable(map[string]config.Variable{"team": config.StringVariable("platform"), "cost-center": config.StringVariable("4712")})),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					cl := describeEKS(t, name)
					if !cl.EndpointPublicAccess || !slices.Equal(cl.PublicAccessCIDRs, cidrs) {
						return fmt.Errorf("public again: public %v blocks %q", cl.EndpointPublicAccess, cl.PublicAccessCIDRs)
					}
					info, _ := accStack.AWS.Stack(name)
					if p := info.Parameters; p["EndpointPublicAccess"] != "true" || p["PublicAccessCidrs"] != strings.Join(cidrs, ",") {
						return fmt.Errorf("stack parameters %v", p)
					}
					return nil
				},
			},
			{
				// CloudFormation sets the key only at creation: another key replaces.
				ConfigDirectory:    dir,
				ConfigVariables:    vars(true, cidrs, []string{"authenticator"}, strings.Replace(key, "1234abcd-", "5678abcd-", 1)),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
			},
		},
	}))
}
