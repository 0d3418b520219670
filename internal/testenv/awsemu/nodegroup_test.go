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
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

func ngTestGroups() []cloud.NodeGroup {
	return []cloud.NodeGroup{
		{Name: "web", InstanceTypes: []string{"t3.large"}, CapacityType: "SPOT", AMIType: "AL2023_x86_64_STANDARD",
			MinSize: 1, MaxSize: 4, DesiredSize: 2, DiskSize: 30, Labels: map[string]string{"role": "web"},
			Taints: []cloud.Taint{{Key: "dedicated", Value: "web", Effect: "NO_SCHEDULE"}}},
		{Name: "arm", InstanceTypes: []string{"m7g.large"}, CapacityType: "ON_DEMAND", AMIType: "BOTTLEROCKET_ARM_64",
			MinSize: 1, MaxSize: 2, DesiredSize: 1, DiskSize: 20},
	}
}

func (p *projectStack) render(t *testing.T, groups []cloud.NodeGroup) {
	t.Helper()
	body, err := cloud.RenderEKSClusterTemplate(groups)
	if err != nil {
		t.Fatal(err)
	}
	p.body = body
}

// resourceFailure is the reason of id's latest *_FAILED event.
func (p *projectStack) resourceFailure(id string) string {
	_, evs := p.v.events(p.c, p.name)
	reason := ""
	for _, ev := range evs {
		if aws.ToString(ev.LogicalResourceId) == id && strings.HasSuffix(string(ev.ResourceStatus), "_FAILED") {
			reason = aws.ToString(ev.ResourceStatusReason)
		}
	}
	return reason
}

// The rendered template's node groups, as ListNodegroups / DescribeNodegroup report them,
// their nodes, the access entry EKS makes for their role, in-place scaling, the refusal
// of an in-place replacement, and deletion.
func TestProjectTemplate_NodeGroups(t *testing.T) {
	p := newProjectStack(t, "ck-ng")
	p.render(t, ngTestGroups())
	st := p.create(nil, "AuthenticationMode", "API", "ClusterAdminRoleArn", roleARN, "KubernetesVersion", "1.35")
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %s", st.StackStatus, p.resourceFailure("NodeGroupweb")+p.resourceFailure(cloud.NodeGroupLogicalID("arm")))
	}
	list, err := p.e.ListNodegroups(p.v.ctx, &eks.ListNodegroupsInput{ClusterName: aws.String("ck-ng")})
	if err != nil || !slices.Equal(list.Nodegroups, []string{"arm", "web"}) {
		t.Fatalf("ListNodegroups = %v, %v", list, err)
	}
	d, err := p.e.DescribeNodegroup(p.v.ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String("ck-ng"), NodegroupName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	ng := d.Nodegroup
	if ng.Status != ekstypes.NodegroupStatusActive || ng.AmiType != ekstypes.AMITypesAl2023X8664Standard || ng.CapacityType != ekstypes.CapacityTypesSpot ||
		aws.ToInt32(ng.ScalingConfig.DesiredSize) != 2 || aws.ToInt32(ng.ScalingConfig.MaxSize) != 4 || aws.ToInt32(ng.DiskSize) != 30 ||
		ng.Labels["role"] != "web" || len(ng.Taints) != 1 || ng.Taints[0].Effect != ekstypes.TaintEffectNoSchedule || aws.ToString(ng.Version) != "1.35" ||
		!strings.Contains(aws.ToString(ng.NodeRole), ":role/ck-ng-ManagedNodeRole-") {
		t.Errorf("DescribeNodegroup web = %+v", ng)
	}
	if _, err := p.e.DescribeNodegroup(p.v.ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String("ck-ng"), NodegroupName: aws.String("db")}); err == nil {
		t.Error("DescribeNodegroup of a group that does not exist succeeded")
	} else if code, _ := apiErr(err); code != "ResourceNotFoundException" {
		t.Errorf("DescribeNodegroup db: %v", err)
	}

	// EKS made an EC2_LINUX entry for the managed groups' role; the template made the
	// self-managed role's.
	role := aws.ToString(ng.NodeRole)
	ae, err := p.e.DescribeAccessEntry(p.v.ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String("ck-ng"), PrincipalArn: aws.String(role)})
	if err != nil || aws.ToString(ae.AccessEntry.Type) != "EC2_LINUX" || !slices.Equal(ae.AccessEntry.KubernetesGroups, []string{"system:nodes"}) {
		t.Errorf("access entry of %s: %+v %v", role, ae, err)
	}
	user, groups, ok := p.v.e.NodeIdentity("ck-ng", role, "i-0abc", func(string) (string, []string, bool) { return "", nil, false })
	if !ok || user != "system:node:ip-10-0-0-1.ec2.internal" || !slices.Equal(groups, []string{"system:nodes"}) {
		t.Errorf("NodeIdentity = %s %v %v", user, groups, ok)
	}

	nodes := p.v.e.Nodes()
	byGroup := map[string][]Node{}
	for _, n := range nodes {
		byGroup[n.Labels["eks.amazonaws.com/nodegroup"]] = append(byGroup[n.Labels["eks.amazonaws.com/nodegroup"]], n)
	}
	if len(byGroup["web"]) != 2 || len(byGroup["arm"]) != 1 {
		t.Fatalf("nodes %+v", nodes)
	}
	w, a := byGroup["web"][0], byGroup["arm"][0]
	if w.Labels["role"] != "web" || w.Labels["kubernetes.io/arch"] != "amd64" || w.Labels["eks.amazonaws.com/capacityType"] != "SPOT" ||
		w.Labels["node.kubernetes.io/instance-type"] != "t3.large" || len(w.Taints) != 1 || w.Taints[0] != (NodeTaint{Key: "dedicated", Value: "web", Effect: "NoSchedule"}) ||
		w.Cluster != "ck-ng" || w.NodeRoleARN != role {
		t.Errorf("web node %+v", w)
	}
	if a.Labels["kubernetes.io/arch"] != "arm64" || len(a.Taints) != 0 {
		t.Errorf("arm node %+v", a)
	}

	// Scaling changes in place; the nodes already there keep their names.
	g := ngTestGroups()
	g[0].DesiredSize, g[0].MaxSize = 3, 5
	p.render(t, g)
	st = p.update("AuthenticationMode", "API", "ClusterAdminRoleArn", roleARN, "KubernetesVersion", "1.35")
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("scale: %s %s", st.StackStatus, p.resourceFailure("NodeGroupweb"))
	}
	var names []string
	for _, n := range p.v.e.Nodes() {
		if n.Labels["eks.amazonaws.com/nodegroup"] == "web" {
			names = append(names, n.Name)
		}
	}
	if len(names) != 3 || !slices.Contains(names, byGroup["web"][0].Name) || !slices.Contains(names, byGroup["web"][1].Name) {
		t.Errorf("after scaling to 3: %v (had %s, %s)", names, byGroup["web"][0].Name, byGroup["web"][1].Name)
	}

	// A replacement under the same name is refused, and rolled back.
	g[0].InstanceTypes = []string{"m5.large"}
	p.render(t, g)
	st = p.update("AuthenticationMode", "API", "ClusterAdminRoleArn", roleARN, "KubernetesVersion", "1.35")
	if st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete ||
		!strings.Contains(p.resourceFailure("NodeGroupweb"), "CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename web") {
		t.Errorf("instance type change: %s %q", st.StackStatus, p.resourceFailure("NodeGroupweb"))
	}

	// Deleting the stack deletes the groups and their nodes.
	if _, err := p.c.DeleteStack(p.v.ctx, &cfn.DeleteStackInput{StackName: aws.String("ck-ng")}); err != nil {
		t.Fatal(err)
	}
	p.v.clock.Advance(time.Second)
	if n := p.v.e.Nodes(); len(n) != 0 {
		t.Errorf("nodes after delete: %+v", n)
	}
}

// What EKS refuses in a node group fails the resource with EKS's message.
func TestProjectTemplate_NodeGroupRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*cloud.NodeGroup)
		want string
	}{
		"arm type on x86 AMI": {func(g *cloud.NodeGroup) { g.InstanceTypes = []string{"m7g.large"} }, "[m7g.large] is not a valid instance type for requested amiType AL2023_x86_64_STANDARD"},
		"desired over max":    {func(g *cloud.NodeGroup) { g.DesiredSize = 9 }, "Desired capacity 9 can't be greater than max size 4"},
		"min over desired":    {func(g *cloud.NodeGroup) { g.MinSize = 3 }, "Minimum capacity 3 can't be greater than desired size 2"},
		"unknown AMI type":    {func(g *cloud.NodeGroup) { g.AMIType = "UBUNTU" }, "#/AmiType: UBUNTU is not a valid enum value"},
		"bad taint effect":    {func(g *cloud.NodeGroup) { g.Taints = []cloud.Taint{{Key: "a", Effect: "NoSchedule"}} }, "#/Taints/0/Effect: NoSchedule is not a valid enum value"},
	} {
		t.Run(name, func(t *testing.T) {
			p := newProjectStack(t, "ck-ngbad")
			g := ngTestGroups()[:1]
			tc.edit(&g[0])
			p.render(t, g)
			st := p.create(nil, "KubernetesVersion", "1.35")
			if st.StackStatus != cfntypes.StackStatusRollbackComplete || !strings.Contains(p.resourceFailure("NodeGroupweb"), tc.want) {
				t.Errorf("%s: %q, want %q", st.StackStatus, p.resourceFailure("NodeGroupweb"), tc.want)
			}
		})
	}
}

// In CONFIG_MAP mode there are no access entries: a node group's role is a node only
// through aws-auth (the mapper).
func TestProjectTemplate_NodeGroupConfigMap(t *testing.T) {
	p := newProjectStack(t, "ck-ngcm")
	p.render(t, ngTestGroups()[1:])
	if st := p.create(nil, "AuthenticationMode", "CONFIG_MAP", "KubernetesVersion", "1.35"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s", st.StackStatus)
	}
	nodes := p.v.e.Nodes()
	if len(nodes) != 1 {
		t.Fatalf("nodes %+v", nodes)
	}
	role := nodes[0].NodeRoleARN
	if _, _, ok := p.v.e.NodeIdentity("ck-ngcm", role, "i-1", func(string) (string, []string, bool) { return "", nil, false }); ok {
		t.Error("a node role not in aws-auth authenticated in CONFIG_MAP mode")
	}
	mapped := func(arn string) (string, []string, bool) {
		return "system:node:{{EC2PrivateDNSName}}", []string{"system:bootstrappers", "system:nodes"}, arn == role
	}
	if _, groups, ok := p.v.e.NodeIdentity("ck-ngcm", role, "i-1", mapped); !ok || !slices.Contains(groups, "system:nodes") {
		t.Errorf("mapped node role: %v %v", groups, ok)
	}
}

// NodeCount 0: no self-managed group (no launch template, Auto Scaling group, instance
// profile or its access entry); the managed groups' nodes are the cluster's only ones.
func TestProjectTemplate_ManagedNodeGroupsOnly(t *testing.T) {
	p := newProjectStack(t, "ck-ngonly")
	p.render(t, ngTestGroups())
	if st := p.create(nil, "NodeCount", "0", "AuthenticationMode", "API", "ClusterAdminRoleArn", roleARN, "KubernetesVersion", "1.35"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s", st.StackStatus)
	}
	_, evs := p.v.events(p.c, p.name)
	made := map[string]bool{}
	for _, ev := range evs {
		if ev.ResourceStatus == cfntypes.ResourceStatusCreateComplete {
			made[aws.ToString(ev.LogicalResourceId)] = true
		}
	}
	for _, id := range []string{"NodeGroup", "NodeLaunchTemplate", "NodeInstanceProfile", "NodeAccessEntry"} {
		if made[id] {
			t.Errorf("%s was created with NodeCount 0", id)
		}
	}
	for _, id := range []string{"EKSCluster", "NodeInstanceRole", "ManagedNodeRole", cloud.NodeGroupLogicalID("web"), cloud.NodeGroupLogicalID("arm"), "AdminAccessEntry"} {
		if !made[id] {
			t.Errorf("%s was not created", id)
		}
	}
	entries, err := p.e.ListAccessEntries(p.v.ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String("ck-ngonly")})
	if err != nil || len(entries.AccessEntries) != 2 || !slices.Contains(entries.AccessEntries, roleARN) {
		t.Errorf("access entries %v %v, want the admin's and the managed node role's", entries, err)
	}
	if n := p.v.e.Nodes(); len(n) != 3 {
		t.Errorf("%d nodes, want 3", len(n))
	}
}
