package provider

import (
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
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// withVar is vars with one more variable.
func withVar(vars config.Variables, name string, v config.Variable) config.Variables {
	vars[name] = v
	return vars
}

func cidrVars(name string, cidrs ...string) config.Variables {
	if cidrs == nil {
		return eksVars(name, nil)
	}
	var cs []config.Variable
	for _, c := range cidrs {
		cs = append(cs, config.StringVariable(c))
	}
	return eksVars(name, config.Variables{"public_access_cidrs": config.ListVariable(cs...)})
}

// TestAccEKSCluster_IPv6: an IPv6 cluster as EKS reports it: EKS's IPv6 service block (no
// IPv4 one of ours), and a dual-stack public endpoint open by default over both families;
// its blocks, IPv6 ones among them, change in place, and unset go back to that default.
// Then its subnets and control plane security group change in place too.
func TestAccEKSCluster_IPv6(t *testing.T) {
	stackFromEnv(t)
	name := "ck-acc-ipv6"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	creates := countCalls("CreateStack", name)
	updates := countCalls("UpdateStack", name)
	dir := config.TestNameDirectory()
	strs := func(items ...string) knownvalue.Check {
		var cs []knownvalue.Check
		for _, s := range items {
			cs = append(cs, knownvalue.StringExact(s))
		}
		return knownvalue.ListExact(cs)
	}
	newSubnets, newSG := []string{"subnet-0123456789abcdef2", "subnet-0123456789abcdef3"}, "sg-0123456789abcdef1"
	var before *cloud.ClusterDetails
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
				ConfigVariables: cidrVars(name),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("CREATE_COMPLETE")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("ip_family"), knownvalue.StringExact("ipv6")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("service_ipv4_cidr"), knownvalue.Null()),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("public_access_cidrs"), strs("0.0.0.0/0", "::/0")),
				},
				Check: func(*terraform.State) error {
					cl := describeEKS(t, name)
					if cl.IPFamily != "ipv6" || !regexp.MustCompile(`^fd[0-9a-f]{2}:[0-9a-f]{4}:[0-9a-f]{4}::/108$`).MatchString(cl.ServiceCIDR) {
						return fmt.Errorf("network: family %q service CIDR %q", cl.IPFamily, cl.ServiceCIDR)
					}
					if !cl.EndpointPublicAccess || !slices.Equal(cl.PublicAccessCIDRs, []string{"0.0.0.0/0", "::/0"}) {
						return fmt.Errorf("public endpoint %v CIDRs %q", cl.EndpointPublicAccess, cl.PublicAccessCIDRs)
					}
					info, _ := accStack.AWS.Stack(name)
					if p := info.Parameters; p["IpFamily"] != "ipv6" || p["PublicAccessCidrs"] != "0.0.0.0/0,::/0" {
						return fmt.Errorf("stack parameters %v", p)
					}
					return nil
				},
			},
			{
				// The dual-stack endpoint's blocks change in place.
				ConfigDirectory: dir,
				ConfigVariables: cidrVars(name, "2001:db8:1234::/48", "203.0.113.0/24"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("UPDATE_COMPLETE")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("public_access_cidrs"), strs("2001:db8:1234::/48", "203.0.113.0/24")),
				},
				Check: func(*terraform.State) error {
					if cl := describeEKS(t, name); !slices.Equal(cl.PublicAccessCIDRs, []string{"2001:db8:1234::/48", "203.0.113.0/24"}) || cl.IPFamily != "ipv6" {
						return fmt.Errorf("after the update: family %q CIDRs %q", cl.IPFamily, cl.PublicAccessCIDRs)
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
				// Unset again: back to EKS's IPv6 default, in place.
				ConfigDirectory: dir,
				ConfigVariables: cidrVars(name),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("public_access_cidrs"), strs("0.0.0.0/0", "::/0")),
				},
				Check: func(*terraform.State) error {
					cl := describeEKSDetails(t, name)
					if !slices.Equal(cl.PublicAccessCIDRs, []string{"0.0.0.0/0", "::/0"}) {
						return fmt.Errorf("after unsetting: CIDRs %q", cl.PublicAccessCIDRs)
					}
					before = cl
					return nil
				},
			},
			{
				// Other subnets and another control plane security group: in place, the
				// same cluster (EKS UpdateClusterConfig; the stack's parameters change).
				ConfigDirectory: dir,
				ConfigVariables: withVar(withVar(cidrVars(name), "subnet_ids", config.ListVariable(config.StringVariable(newSubnets[0]), config.StringVariable(newSubnets[1]))),
					"control_plane_security_group_id", config.StringVariable(newSG)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("UPDATE_COMPLETE")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("subnet_ids"), strs(newSubnets...)),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("control_plane_security_group_id"), knownvalue.StringExact(newSG)),
				},
				Check: func(*terraform.State) error {
					info, _ := accStack.AWS.Stack(name)
					if p := info.Parameters; p["SubnetIds"] != strings.Join(newSubnets, ",") || p["ControlPlaneSecurityGroupId"] != newSG {
						return fmt.Errorf("stack parameters %v", p)
					}
					cl := describeEKSDetails(t, name)
					if !slices.Equal(cl.SubnetIDs, newSubnets) || !slices.Equal(cl.SecurityGroupIDs, []string{newSG}) {
						return fmt.Errorf("EKS: subnets %q security groups %q", cl.SubnetIDs, cl.SecurityGroupIDs)
					}
					if cl.ARN != before.ARN || !cl.CreatedAt.Equal(before.CreatedAt) || cl.CreatedAt.IsZero() {
						return fmt.Errorf("another cluster: %s created %v, was %s created %v", cl.ARN, cl.CreatedAt, before.ARN, before.CreatedAt)
					}
					if n := countCalls("CreateStack", name) - creates; n != 1 {
						return fmt.Errorf("%d CreateStack calls, want 1", n)
					}
					return nil
				},
			},
		},
	}))
}
