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

func testAddons(k8s string) []cloud.Addon {
	var out []cloud.Addon
	for _, n := range cloud.AddonNames() {
		out = append(out, cloud.Addon{Name: n, Version: defaultAddonVersion(n, k8s)})
	}
	return out
}

func (p *projectStack) renderWith(t *testing.T, groups []cloud.NodeGroup, addons []cloud.Addon) {
	t.Helper()
	body, err := cloud.RenderEKSClusterTemplate(groups, addons...)
	if err != nil {
		t.Fatal(err)
	}
	p.body = body
}

func (p *projectStack) addon(t *testing.T, name string) *ekstypes.Addon {
	t.Helper()
	out, err := p.e.DescribeAddon(p.v.ctx, &eks.DescribeAddonInput{ClusterName: aws.String(p.name), AddonName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeAddon %s: %v", name, err)
	}
	return out.Addon
}

// DescribeAddonVersions: by add-on and Kubernetes version, with EKS's default flagged;
// without a Kubernetes version every version with all its compatibilities; an add-on EKS
// does not know gives an empty list, a malformed version an error.
func TestDescribeAddonVersions(t *testing.T) {
	v := newEnv(t)
	e := v.eks(v.assume(3600))
	out, err := e.DescribeAddonVersions(v.ctx, &eks.DescribeAddonVersionsInput{AddonName: aws.String("kube-proxy"), KubernetesVersion: aws.String("1.34")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Addons) != 1 || len(out.Addons[0].AddonVersions) != 1 {
		t.Fatalf("kube-proxy on 1.34: %+v", out.Addons)
	}
	kp := out.Addons[0].AddonVersions[0]
	if aws.ToString(kp.AddonVersion) != "v1.34.0-eksbuild.2" || len(kp.Compatibilities) != 1 || !kp.Compatibilities[0].DefaultVersion ||
		aws.ToString(kp.Compatibilities[0].ClusterVersion) != "1.34" {
		t.Errorf("kube-proxy 1.34: %+v", kp)
	}
	out, err = e.DescribeAddonVersions(v.ctx, &eks.DescribeAddonVersionsInput{AddonName: aws.String("coredns"), KubernetesVersion: aws.String("1.35")})
	if err != nil {
		t.Fatal(err)
	}
	var versions, defaults []string
	for _, av := range out.Addons[0].AddonVersions {
		versions = append(versions, aws.ToString(av.AddonVersion))
		if av.Compatibilities[0].DefaultVersion {
			defaults = append(defaults, aws.ToString(av.AddonVersion))
		}
	}
	if !slices.Equal(versions, []string{"v1.13.2-eksbuild.1", "v1.12.3-eksbuild.1"}) || !slices.Equal(defaults, []string{"v1.13.2-eksbuild.1"}) {
		t.Errorf("coredns on 1.35: %v, defaults %v", versions, defaults)
	}
	out, err = e.DescribeAddonVersions(v.ctx, &eks.DescribeAddonVersionsInput{AddonName: aws.String("vpc-cni")})
	if err != nil || len(out.Addons[0].AddonVersions) != 4 || len(out.Addons[0].AddonVersions[0].Compatibilities) != 6 {
		t.Errorf("vpc-cni, every version: %+v %v", out, err)
	}
	if out, err := e.DescribeAddonVersions(v.ctx, &eks.DescribeAddonVersionsInput{AddonName: aws.String("no-such-addon")}); err != nil || len(out.Addons) != 0 {
		t.Errorf("unknown add-on: %+v %v", out, err)
	}
	if _, err := e.DescribeAddonVersions(v.ctx, &eks.DescribeAddonVersionsInput{KubernetesVersion: aws.String("latest")}); err == nil {
		t.Error("kubernetesVersion=latest accepted")
	} else if code, _ := apiErr(err); code != "InvalidParameterException" {
		t.Errorf("kubernetesVersion=latest: %v", err)
	}
	// The provider's own reader agrees.
	sess := &cloud.Session{EKS: e}
	got, err := sess.DescribeAddonVersions(v.ctx, "vpc-cni", "1.33")
	if err != nil || got.Default != "v1.21.1-eksbuild.3" || !slices.Equal(got.Versions, []string{"v1.21.1-eksbuild.3", "v1.20.4-eksbuild.2", "v1.20.1-eksbuild.3"}) {
		t.Errorf("Session.DescribeAddonVersions = %+v %v", got, err)
	}
}

// The add-ons of the rendered template, as ListAddons / DescribeAddon report them; a
// configuration change updates in place; removing an add-on deletes it.
func TestProjectTemplate_Addons(t *testing.T) {
	p := newProjectStack(t, "ck-addons")
	addons := testAddons("1.34")
	addons[0].ConfigurationValues = `{"replicaCount":3}` // coredns
	p.renderWith(t, ngTestGroups(), addons)
	st := p.create(nil, "NodeCount", "0", "KubernetesVersion", "1.34")
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %s", st.StackStatus, p.resourceFailure("AddonCoredns"))
	}
	list, err := p.e.ListAddons(p.v.ctx, &eks.ListAddonsInput{ClusterName: aws.String(p.name)})
	if err != nil || !slices.Equal(list.Addons, []string{"coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"}) {
		t.Fatalf("ListAddons = %+v %v", list, err)
	}
	dns := p.addon(t, "coredns")
	if dns.Status != ekstypes.AddonStatusActive || aws.ToString(dns.AddonVersion) != "v1.12.3-eksbuild.1" || aws.ToString(dns.ConfigurationValues) != `{"replicaCount":3}` {
		t.Errorf("coredns = %+v", dns)
	}
	if kp := p.addon(t, "kube-proxy"); aws.ToString(kp.AddonVersion) != "v1.34.0-eksbuild.2" {
		t.Errorf("kube-proxy = %s", aws.ToString(kp.AddonVersion))
	}
	// CoreDNS waited for the node groups.
	_, evs := p.v.events(p.c, p.name)
	slices.Reverse(evs) // oldest first
	order := map[string]int{}
	for i, ev := range evs {
		if ev.ResourceStatus == cfntypes.ResourceStatusCreateComplete {
			order[aws.ToString(ev.LogicalResourceId)] = i
		}
	}
	if order["AddonCoredns"] < order["NodeGroupweb"] || order["AddonVpcCni"] < order["EKSCluster"] {
		t.Errorf("create order %v", order)
	}

	addons[0].ConfigurationValues = `{"replicaCount":2}`
	addons = addons[:3] // vpc-cni goes
	p.renderWith(t, ngTestGroups(), addons)
	st = p.update("NodeCount", "0", "KubernetesVersion", "1.34")
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("update %s: %s", st.StackStatus, p.resourceFailure("AddonCoredns"))
	}
	if dns := p.addon(t, "coredns"); aws.ToString(dns.ConfigurationValues) != `{"replicaCount":2}` || dns.Status != ekstypes.AddonStatusActive {
		t.Errorf("coredns after the update = %+v", dns)
	}
	if _, err := p.e.DescribeAddon(p.v.ctx, &eks.DescribeAddonInput{ClusterName: aws.String(p.name), AddonName: aws.String("vpc-cni")}); err == nil {
		t.Error("vpc-cni still there after its removal")
	} else if code, _ := apiErr(err); code != "ResourceNotFoundException" {
		t.Errorf("DescribeAddon vpc-cni: %v", err)
	}
}

// What EKS refuses in an add-on fails the resource with EKS's kind of message, and the
// stack rolls back.
func TestProjectTemplate_AddonRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		addon   cloud.Addon
		groups  []cloud.NodeGroup
		nodes   string
		logical string
		want    string
	}{
		"version of another Kubernetes": {cloud.Addon{Name: "kube-proxy", Version: "v1.33.0-eksbuild.2"}, ngTestGroups(), "0", "AddonKubeProxy",
			"Addon version v1.33.0-eksbuild.2 is not supported in 1.34 Kubernetes version"},
		"version EKS never built": {cloud.Addon{Name: "vpc-cni", Version: "v1.99.0-eksbuild.1"}, ngTestGroups(), "0", "AddonVpcCni", "Addon version specified is not supported"},
		"unknown add-on":          {cloud.Addon{Name: "no-such-addon", Version: "v1.0.0-eksbuild.1"}, ngTestGroups(), "0", "AddonNoSuchAddon", "Addon no-such-addon specified is not supported"},
		"configuration no object": {cloud.Addon{Name: "vpc-cni", Version: "v1.21.1-eksbuild.3", ConfigurationValues: `[1]`}, ngTestGroups(), "0", "AddonVpcCni", "Json schema validation failed"},
		"coredns without nodes":   {cloud.Addon{Name: "coredns", Version: "v1.12.3-eksbuild.1"}, nil, "0", "AddonCoredns", "Addon coredns is DEGRADED: InsufficientNumberOfReplicas"},
	} {
		t.Run(name, func(t *testing.T) {
			p := newProjectStack(t, "ck-addonbad")
			p.renderWith(t, tc.groups, []cloud.Addon{tc.addon})
			st := p.create(nil, "NodeCount", tc.nodes, "KubernetesVersion", "1.34")
			if st.StackStatus != cfntypes.StackStatusRollbackComplete || !strings.Contains(p.resourceFailure(tc.logical), tc.want) {
				t.Errorf("%s: %q, want %q", st.StackStatus, p.resourceFailure(tc.logical), tc.want)
			}
		})
	}
	// The self-managed group's nodes are nodes too.
	p := newProjectStack(t, "ck-addonasg")
	p.renderWith(t, nil, []cloud.Addon{{Name: "coredns", Version: "v1.12.3-eksbuild.1"}})
	if st := p.create(nil, "NodeCount", "2", "KubernetesVersion", "1.34"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Errorf("coredns with self-managed nodes: %s %q", st.StackStatus, p.resourceFailure("AddonCoredns"))
	}
}

// An upgrade moves the cluster, the node groups and the add-ons in one UpdateStack: the
// cluster's update completes before the node groups and add-ons start theirs, and
// DescribeCluster shows the old version until then.
func TestProjectTemplate_UpgradeOrder(t *testing.T) {
	p := newProjectStack(t, "ck-upgrade")
	p.renderWith(t, ngTestGroups()[:1], testAddons("1.34"))
	if st := p.create(nil, "NodeCount", "0", "KubernetesVersion", "1.34"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("create %s", st.StackStatus)
	}
	p.v.e.SetStackScript(p.name, StackScript{StepDelay: time.Millisecond, ResourceDelays: map[string]time.Duration{"EKSCluster": time.Minute}})
	p.renderWith(t, ngTestGroups()[:1], testAddons("1.35"))
	if _, err := p.c.UpdateStack(p.v.ctx, &cfn.UpdateStackInput{StackName: aws.String(p.name), TemplateBody: aws.String(p.body),
		Parameters: p.params("NodeCount", "0", "KubernetesVersion", "1.35"), Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam}}); err != nil {
		t.Fatal(err)
	}
	p.v.clock.Advance(30 * time.Second)
	if c := p.cluster(); c.Status != ekstypes.ClusterStatusUpdating || aws.ToString(c.Version) != "1.34" {
		t.Errorf("mid-upgrade cluster: %s %s, want UPDATING 1.34", c.Status, aws.ToString(c.Version))
	}
	p.v.clock.Advance(time.Minute)
	if st := p.v.describe(p.c, p.name); st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("upgrade %s: %s %s", st.StackStatus, p.resourceFailure("NodeGroupweb"), p.resourceFailure("AddonKubeProxy"))
	}
	_, evs := p.v.events(p.c, p.name)
	slices.Reverse(evs) // oldest first
	// the upgrade's event: the latest of its kind
	at := func(id string, status cfntypes.ResourceStatus) int {
		last := -1
		for i, ev := range evs {
			if aws.ToString(ev.LogicalResourceId) == id && ev.ResourceStatus == status {
				last = i
			}
		}
		if last < 0 {
			t.Fatalf("no %s %s", id, status)
		}
		return last
	}
	clusterDone := at("EKSCluster", cfntypes.ResourceStatusUpdateComplete)
	// vpc-cni and the Pod Identity agent have the same default on 1.34 and 1.35: unchanged.
	for _, id := range []string{"NodeGroupweb", "AddonKubeProxy", "AddonCoredns"} {
		if at(id, cfntypes.ResourceStatusUpdateInProgress) < clusterDone {
			t.Errorf("%s started its update before the cluster's completed", id)
		}
	}
	if c := p.cluster(); aws.ToString(c.Version) != "1.35" || c.Status != ekstypes.ClusterStatusActive {
		t.Errorf("cluster after the upgrade: %s %s", c.Status, aws.ToString(c.Version))
	}
	if kp := p.addon(t, "kube-proxy"); aws.ToString(kp.AddonVersion) != "v1.35.0-eksbuild.2" {
		t.Errorf("kube-proxy after the upgrade: %s", aws.ToString(kp.AddonVersion))
	}
	if dns := p.addon(t, "coredns"); aws.ToString(dns.AddonVersion) != "v1.13.2-eksbuild.1" {
		t.Errorf("coredns after the upgrade: %s", aws.ToString(dns.AddonVersion))
	}
	ng, err := p.e.DescribeNodegroup(p.v.ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(p.name), NodegroupName: aws.String("web")})
	if err != nil || aws.ToString(ng.Nodegroup.Version) != "1.35" {
		t.Errorf("node group after the upgrade: %+v %v", ng, err)
	}
}

// dropDependsOn removes kube-proxy's DependsOn from a rendered template.
func dropDependsOn(t *testing.T, body string) string {
	t.Helper()
	const block = "    DependsOn:\n      - EKSCluster\n    Properties:\n      ClusterName:\n        Ref: ClusterName\n      AddonName: kube-proxy"
	out := strings.Replace(body, block, block[strings.Index(block, "    Properties"):], 1)
	if out == body {
		t.Fatal("the kube-proxy block was not found")
	}
	return out
}

// An add-on that does not depend on the cluster's resource is refused: CloudFormation
// would create it before the cluster exists, or update it while the cluster updates.
func TestProjectTemplate_AddonWithoutClusterDependency(t *testing.T) {
	p := newProjectStack(t, "ck-nodep")
	p.renderWith(t, nil, []cloud.Addon{{Name: "kube-proxy", Version: "v1.34.0-eksbuild.2"}})
	p.body = dropDependsOn(t, p.body)
	if st := p.create(nil, "KubernetesVersion", "1.34"); st.StackStatus != cfntypes.StackStatusRollbackComplete ||
		!strings.Contains(p.resourceFailure("AddonKubeProxy"), "No cluster found for name: ck-nodep.") {
		t.Errorf("create: %s %q", st.StackStatus, p.resourceFailure("AddonKubeProxy"))
	}

	p = newProjectStack(t, "ck-nodep2")
	p.renderWith(t, nil, []cloud.Addon{{Name: "kube-proxy", Version: "v1.34.0-eksbuild.2"}})
	if st := p.create(nil, "KubernetesVersion", "1.34"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("create %s", st.StackStatus)
	}
	p.renderWith(t, nil, []cloud.Addon{{Name: "kube-proxy", Version: "v1.35.0-eksbuild.2"}})
	p.body = dropDependsOn(t, p.body)
	if st := p.update("KubernetesVersion", "1.35"); st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete ||
		!strings.Contains(p.resourceFailure("AddonKubeProxy"), "Cluster ck-nodep2 is currently being updated") {
		t.Errorf("upgrade: %s %q", st.StackStatus, p.resourceFailure("AddonKubeProxy"))
	}
	if kp := p.addon(t, "kube-proxy"); aws.ToString(kp.AddonVersion) != "v1.34.0-eksbuild.2" {
		t.Errorf("kube-proxy after the rollback: %s", aws.ToString(kp.AddonVersion))
	}
}

// A node group Version above the cluster's is refused.
func TestProjectTemplate_NodeGroupVersionAboveCluster(t *testing.T) {
	p := newProjectStack(t, "ck-ngver")
	p.renderWith(t, ngTestGroups()[:1], nil)
	p.body = strings.Replace(p.body, "      Version:\n        Ref: KubernetesVersion\n      AmiType", "      Version: \"1.35\"\n      AmiType", 1)
	if st := p.create(nil, "KubernetesVersion", "1.34"); st.StackStatus != cfntypes.StackStatusRollbackComplete ||
		!strings.Contains(p.resourceFailure("NodeGroupweb"), "Nodegroup Kubernetes version should be equal to Cluster kubernetes version 1.34") {
		t.Errorf("%s %q", st.StackStatus, p.resourceFailure("NodeGroupweb"))
	}
}
