package awsemu

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

const (
	subnetA1 = "subnet-0a000000000000001" // vpc-0123456789abcdef0, us-east-1a
	subnetB1 = "subnet-0b000000000000001" // vpc-0123456789abcdef0, us-east-1b
	subnetA2 = "subnet-0a000000000000002" // vpc-0123456789abcdef0, us-east-1a
	subnetO1 = "subnet-0f000000000000001" // vpc-0fffffffffffffff0, us-east-1c
)

func addTestSubnets(e *Emulator) {
	for _, s := range []Subnet{
		{subnetA1, "vpc-0123456789abcdef0", "us-east-1a"}, {subnetB1, "vpc-0123456789abcdef0", "us-east-1b"},
		{subnetA2, "vpc-0123456789abcdef0", "us-east-1a"}, {subnetO1, "vpc-0fffffffffffffff0", "us-east-1c"},
	} {
		e.AddSubnet(s)
	}
}

// A cluster's subnets change in place through a stack update: the cluster is UPDATING
// while its resource updates and ACTIVE again after, the same cluster (ARN, creation
// time), and DescribeCluster shows the new subnets.
func TestProjectTemplate_SubnetsInPlace(t *testing.T) {
	p := newProjectStack(t, "ck-subnets")
	addTestSubnets(p.v.e)
	if st := p.create(nil, "SubnetIds", subnetA1+","+subnetB1); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("create: %s %s", st.StackStatus, p.failure())
	}
	before := p.cluster()
	p.v.e.SetStackScript(p.name, StackScript{StepDelay: time.Second})
	if _, err := p.c.UpdateStack(p.v.ctx, &cfn.UpdateStackInput{
		StackName: aws.String(p.name), TemplateBody: aws.String(p.body), Parameters: p.params("SubnetIds", subnetA2+","+subnetB1),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
	}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for range 120 {
		if s := string(p.cluster().Status); len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
		p.v.clock.Advance(time.Second)
	}
	if !slices.Equal(seen, []string{"ACTIVE", "UPDATING", "ACTIVE"}) && !slices.Equal(seen, []string{"UPDATING", "ACTIVE"}) {
		t.Errorf("cluster statuses during the update %q", seen)
	}
	if st := p.v.describe(p.c, p.name); st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("update: %s %s", st.StackStatus, p.failure())
	}
	after := p.cluster()
	if got := after.ResourcesVpcConfig.SubnetIds; !slices.Equal(got, []string{subnetA2, subnetB1}) {
		t.Errorf("subnets after the update %q", got)
	}
	if aws.ToString(after.Arn) != aws.ToString(before.Arn) || !after.CreatedAt.Equal(*before.CreatedAt) {
		t.Errorf("another cluster: %s %v, was %s %v", aws.ToString(after.Arn), after.CreatedAt, aws.ToString(before.Arn), before.CreatedAt)
	}
}

// What EKS refuses of new subnets fails the update, and the stack rolls back to the
// subnets it had: one zone only, another VPC, a single subnet given twice.
func TestProjectTemplate_SubnetsRefused(t *testing.T) {
	for _, tc := range []struct{ name, subnets, want string }{
		{"one zone", subnetA1 + "," + subnetA2, "Subnets specified must be in at least two different AZs"},
		{"another VPC", subnetA1 + "," + subnetO1, "Subnets must all be in the same VPC, got subnets of vpc-0123456789abcdef0, vpc-0fffffffffffffff0"},
		{"one subnet twice", subnetB1 + "," + subnetB1, "Subnets specified must be in at least two different AZs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProjectStack(t, "ck-subnets-refused")
			addTestSubnets(p.v.e)
			if st := p.create(nil, "SubnetIds", subnetA1+","+subnetB1); st.StackStatus != cfntypes.StackStatusCreateComplete {
				t.Fatalf("create: %s %s", st.StackStatus, p.failure())
			}
			if st := p.update("SubnetIds", tc.subnets); st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete {
				t.Fatalf("update: %s", st.StackStatus)
			}
			if got := p.failure(); !strings.Contains(got, `"`+tc.want+`"`) {
				t.Errorf("failure %q, want %q", got, tc.want)
			}
			if got := p.cluster().ResourcesVpcConfig.SubnetIds; !slices.Equal(got, []string{subnetA1, subnetB1}) {
				t.Errorf("subnets after the rollback %q", got)
			}
		})
	}
}

// The rules themselves, where the template cannot reach them: six security groups;
// subnets the emulator does not know pass on their IDs alone; a move to known subnets of
// another VPC than the cluster's.
func TestEKSNetwork(t *testing.T) {
	e := &Emulator{}
	addTestSubnets(e)
	two := []string{subnetA1, subnetB1}
	sgs := []string{"sg-01", "sg-02", "sg-03", "sg-04", "sg-05", "sg-06"}
	if got := e.eksNetwork(eksConfig{subnetIDs: two, securityGroupIDs: sgs}); got != "securityGroupIds can have at most 5 security groups, got 6" {
		t.Errorf("six groups: %q", got)
	}
	if got := e.eksNetwork(eksConfig{subnetIDs: two, securityGroupIDs: sgs[:5]}); got != "" {
		t.Errorf("five groups: %q", got)
	}
	if got := e.eksNetwork(eksConfig{subnetIDs: []string{"subnet-0123456789abcdef0", "subnet-0123456789abcdef1"}}); got != "" {
		t.Errorf("unknown subnets: %q", got)
	}
	if got := e.eksNetwork(eksConfig{subnetIDs: []string{"subnet-0123456789abcdef0"}}); got != "Subnets specified must be in at least two different AZs" {
		t.Errorf("one subnet: %q", got)
	}
	was, is := eksConfig{subnetIDs: two}, eksConfig{subnetIDs: []string{subnetO1, "subnet-0123456789abcdef0"}}
	if got := e.eksVPCChange(was, is); got != "You can't change which VPC the subnets are from: the cluster is in vpc-0123456789abcdef0, the new subnets in vpc-0fffffffffffffff0" {
		t.Errorf("another VPC: %q", got)
	}
	if got := e.eksVPCChange(was, eksConfig{subnetIDs: []string{subnetA2, subnetB1}}); got != "" {
		t.Errorf("same VPC: %q", got)
	}
}

// Managed node groups and new subnets: a group that keeps its name would need a
// replacement under that name, so the update fails and rolls back; renamed, the new groups
// come up on the new subnets, the old ones go, and the cluster moves in place.
func TestProjectTemplate_SubnetsWithNodeGroups(t *testing.T) {
	p := newProjectStack(t, "ck-ng-subnets")
	addTestSubnets(p.v.e)
	p.render(t, ngTestGroups())
	base := []string{"AuthenticationMode", "API", "ClusterAdminRoleArn", roleARN, "KubernetesVersion", "1.35"}
	if st := p.create(nil, append(base, "SubnetIds", subnetA1+","+subnetB1)...); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("create: %s %s", st.StackStatus, p.resourceFailure("NodeGroupweb"))
	}
	moved := append(base, "SubnetIds", subnetA2+","+subnetB1)
	if st := p.update(moved...); st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete {
		t.Fatalf("same names: %s", st.StackStatus)
	}
	var failures []string
	for _, g := range ngTestGroups() {
		if r := p.resourceFailure(cloud.NodeGroupLogicalID(g.Name)); r != "" {
			failures = append(failures, r)
		}
	}
	if len(failures) != 1 || !strings.Contains(failures[0], "custom-named resource requires replacing") {
		t.Errorf("same names: failures %q", failures)
	}
	groups := ngTestGroups()
	for i := range groups {
		groups[i].Name += "-2"
	}
	p.render(t, groups)
	if st := p.update(moved...); st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("renamed: %s", st.StackStatus)
	}
	list, err := p.e.ListNodegroups(p.v.ctx, &eks.ListNodegroupsInput{ClusterName: aws.String(p.name)})
	if err != nil || !slices.Equal(list.Nodegroups, []string{"arm-2", "web-2"}) {
		t.Fatalf("node groups after the move %v %v", list, err)
	}
	for _, g := range list.Nodegroups {
		d, err := p.e.DescribeNodegroup(p.v.ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(p.name), NodegroupName: aws.String(g)})
		if err != nil || !slices.Equal(d.Nodegroup.Subnets, []string{subnetA2, subnetB1}) {
			t.Errorf("%s: %v %v", g, d, err)
		}
	}
	if got := p.cluster().ResourcesVpcConfig.SubnetIds; !slices.Equal(got, []string{subnetA2, subnetB1}) {
		t.Errorf("cluster subnets %q", got)
	}
}
