package cloud

// An independent wire check of the real SDK calls and of the embedded template against
// moto (tools/pytools), a Python AWS emulator: STS AssumeRole, seeding through EC2/SSM/EKS,
// CloudFormation CreateStack / DescribeStacks / DescribeStackEvents / DeleteStack.
//
// What moto (5.2.5) cannot do, and how this test copes:
//   - AWS::EKS::Cluster (and AWS::EC2::SecurityGroupEgress) are not supported by moto's
//     CloudFormation: they are skipped with a warning. A Fn::GetAtt of a skipped resource
//     fails the whole stack: in Outputs with an HTTP 500 (AttributeError in
//     validate_outputs), in resource properties (our node UserData) with a 400
//     ValidationError that leaves a zombie CREATE_IN_PROGRESS stack. The real template
//     must read the cluster's Endpoint and CA (nodeadm needs them, and the provider reads
//     Arn/Endpoint from the outputs), so it cannot run on moto unchanged:
//     the RealTemplateRefused subtest records that. TestMotoEKSClusterStack instead seeds the
//     cluster through moto's EKS API under the same name and deploys a copy of the
//     template in which each {"Fn::GetAtt": ["EKSCluster", X]} node (and nothing else) is
//     replaced by that cluster's X. The deployed template stays EKSClusterTemplate().
//   - SSM: moto ships no /aws/service/eks/optimized-ami/ parameters and refuses
//     PutParameter on reserved /aws/... names, yet resolves the NodeImageId *default*
//     even when a value is passed (HTTP 500 when it is missing). The test publishes an AMI
//     that moto knows under "/clusterkit-test" + NodeAMIParameter(version), passes that
//     path, and sets the copy's NodeImageId default to it as well.
//   - moto is synchronous (CREATE_COMPLETE on the first DescribeStacks), ignores
//     Capabilities and ClientRequestToken, emits stack-level events only, and has no
//     failure/rollback states; those paths are covered by the in-project fake.
//   - AWS::EKS::AccessEntry (the nodes' EC2_LINUX entry and the provisioning role's admin
//     entry) is not supported either and skipped with a warning: the test passes the
//     parameters the provider sends a new cluster (AuthenticationMode API, the role as
//     ClusterAdminRoleArn), so moto resolves the conditions the entries depend on, and
//     expects exactly those two entries among the resources it did not create. Their
//     properties are checked by cfn-lint on each mode (templates_lint_test.go) and by the
//     in-project emulator (awsemu/accessentry_test.go), which also serves the access entry APIs.
//   - AWS::EKS::Nodegroup (the managed node groups) is not supported either and skipped
//     with a warning: the NodeGroups subtest checks that the rendered template deploys,
//     creates ManagedNodeRole and its output, and that moto skips exactly the node groups
//     besides the types above.
//   - ManagedPolicyArns on the role are accepted but not attached.
//   - Skipping AWS::EKS::Cluster, moto never sees the cluster's endpoint access, logging,
//     encryption or IP family: those properties are checked by cfn-lint on each parameter
//     variant (templates_lint_test.go) and by the in-project emulator, whose DescribeCluster
//     reports them. moto still resolves their parameters, conditions and the Fn::If
//     branches the nodes get (the IPv6 subtest).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.yaml.in/yaml/v3"
)

const (
	motoRegion     = "us-east-1"
	motoAccount    = "111122223333" // not moto's default account: proves the assumed-role credentials are used
	motoKubeVer    = "1.35"
	motoNodeCount  = 2
	motoServiceNet = "172.20.0.0/16"
)

// ---- tests ----

type motoEnv struct {
	srv            *motoServer
	cfg            aws.Config // assumed-role credentials
	vpcID          string
	subnetIDs      []string
	cpSGID         string
	amiID          string
	amiParam       string
	clusterRoleArn string // the EKS service role passed as ClusterRoleArn
}

// setupMoto starts moto, assumes a role, and seeds the network, the AMI parameter and
// everything else the template references, all with the assumed-role credentials.
func setupMoto(t *testing.T, ctx context.Context) *motoEnv {
	t.Helper()
	srv := startMoto(t)
	e := &motoEnv{srv: srv}

	// Step 2 of the eks_cluster flow: AssumeRole with an external ID; later calls use the
	// temporary credentials only.
	base := srv.awsConfig(credentials.NewStaticCredentialsProvider("testing", "testing", ""))
	roleArn := "arn:aws:iam::" + motoAccount + ":role/clusterkit-provisioner"
	ar, err := sts.NewFromConfig(base).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(roleArn),
		RoleSessionName: aws.String("clusterkit-moto-test"),
		ExternalId:      aws.String("clusterkit-test-external-id"),
		DurationSeconds: aws.Int32(3600),
	})
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	c := ar.Credentials
	if c == nil || !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || aws.ToString(c.SessionToken) == "" {
		t.Fatalf("AssumeRole: unexpected credentials %+v", c)
	}
	e.cfg = srv.awsConfig(credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)))
	id, err := sts.NewFromConfig(e.cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if want := "arn:aws:sts::" + motoAccount + ":assumed-role/clusterkit-provisioner/clusterkit-moto-test"; aws.ToString(id.Arn) != want {
		t.Fatalf("GetCallerIdentity ARN = %s, want %s", aws.ToString(id.Arn), want)
	}

	// Network: a VPC, two subnets in two AZs, the control-plane security group.
	const ec2Version = "2016-11-15"
	var vpc struct {
		VpcID string `xml:"vpc>vpcId"`
	}
	srv.query(t, ctx, e.cfg, "ec2", ec2Version, "CreateVpc", url.Values{"CidrBlock": {"10.42.0.0/16"}}, &vpc)
	e.vpcID = vpc.VpcID
	for i, az := range []string{"us-east-1a", "us-east-1b"} {
		var sn struct {
			SubnetID string `xml:"subnet>subnetId"`
		}
		srv.query(t, ctx, e.cfg, "ec2", ec2Version, "CreateSubnet", url.Values{
			"VpcId": {e.vpcID}, "CidrBlock": {fmt.Sprintf("10.42.%d.0/24", i)}, "AvailabilityZone": {az},
		}, &sn)
		e.subnetIDs = append(e.subnetIDs, sn.SubnetID)
	}
	var sg struct {
		GroupID string `xml:"groupId"`
	}
	srv.query(t, ctx, e.cfg, "ec2", ec2Version, "CreateSecurityGroup", url.Values{
		"GroupName": {"clusterkit-control-plane"}, "GroupDescription": {"EKS control plane"}, "VpcId": {e.vpcID},
	}, &sg)
	e.cpSGID = sg.GroupID
	if e.vpcID == "" || len(e.subnetIDs) != 2 || e.subnetIDs[0] == "" || e.subnetIDs[1] == "" || e.cpSGID == "" {
		t.Fatalf("seeding the network: vpc %q subnets %q sg %q", e.vpcID, e.subnetIDs, e.cpSGID)
	}

	// The node AMI: an image moto knows, published in SSM. moto refuses PutParameter on
	// reserved /aws/... names and ships no /aws/service/eks/optimized-ami/ tree, so the
	// parameter lives under a test prefix; the template resolves it the same way.
	var imgs struct {
		IDs []string `xml:"imagesSet>item>imageId"`
	}
	srv.query(t, ctx, e.cfg, "ec2", ec2Version, "DescribeImages", url.Values{
		"Owner.1": {"amazon"}, "Filter.1.Name": {"architecture"}, "Filter.1.Value.1": {"x86_64"},
	}, &imgs)
	if len(imgs.IDs) == 0 {
		t.Fatal("DescribeImages: moto knows no x86_64 Amazon image")
	}
	e.amiID = imgs.IDs[0]
	realParam, err := NodeAMIParameter(motoKubeVer)
	if err != nil {
		t.Fatal(err)
	}
	e.amiParam = "/clusterkit-test" + realParam
	put, _ := json.Marshal(map[string]any{"Name": e.amiParam, "Type": "String", "Value": e.amiID, "Overwrite": true})
	srv.rawCall(t, ctx, e.cfg, "ssm", map[string]string{
		"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.PutParameter",
	}, string(put))

	e.clusterRoleArn = "arn:aws:iam::" + motoAccount + ":role/eks-cluster-service-role"
	return e
}

func (e *motoEnv) parameters(clusterName string) []cfntypes.Parameter {
	p := func(k, v string) cfntypes.Parameter {
		return cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)}
	}
	return []cfntypes.Parameter{
		p("ClusterName", clusterName),
		p("ClusterRoleArn", e.clusterRoleArn),
		p("KubernetesVersion", motoKubeVer),
		p("VpcId", e.vpcID),
		p("SubnetIds", strings.Join(e.subnetIDs, ",")),
		p("ControlPlaneSecurityGroupId", e.cpSGID),
		p("ServiceIpv4Cidr", motoServiceNet),
		p("NodeInstanceType", "t3.large"),
		p("NodeCount", strconv.Itoa(motoNodeCount)),
		p("NodeVolumeSize", "30"),
		p("KeyName", ""),
		p("NodeImageId", e.amiParam),
		// moto skips the cluster, so these reach no resource there; they are here so that
		// moto resolves every condition and Fn::If of the template with values the provider
		// sends (moto fails a stack on an Fn::If it cannot resolve).
		p("EndpointPublicAccess", "true"),
		p("EndpointPrivateAccess", "true"),
		p("PublicAccessCidrs", "203.0.113.0/24,198.51.100.7/32"),
		p("LogApi", "true"),
		p("LogAudit", "true"),
		p("LogAuthenticator", "false"),
		p("LogControllerManager", "false"),
		p("LogScheduler", "false"),
		p("SecretsKmsKeyArn", "arn:aws:kms:"+motoRegion+":"+motoAccount+":key/1234abcd-12ab-34cd-56ef-1234567890ab"),
		p("IpFamily", "ipv4"),
		p("AuthenticationMode", AuthModeAPI),
		p("ClusterAdminRoleArn", "arn:aws:iam::"+motoAccount+":role/clusterkit-provisioner"),
	}
}

func TestMotoEKSClusterStack(t *testing.T) {
	ctx := t.Context()
	e := setupMoto(t, ctx)
	const name = "clusterkit-moto"

	// moto's CloudFormation skips AWS::EKS::Cluster: create the cluster through the EKS
	// API under the stack's cluster name, and feed its attributes to the template copy.
	ekc := eks.NewFromConfig(e.cfg)
	if _, err := ekc.CreateCluster(ctx, &eks.CreateClusterInput{
		Name:    aws.String(name),
		RoleArn: aws.String(e.clusterRoleArn),
		Version: aws.String(motoKubeVer),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{
			SubnetIds: e.subnetIDs, SecurityGroupIds: []string{e.cpSGID},
		},
	}); err != nil {
		t.Fatalf("eks CreateCluster: %v", err)
	}
	dc, err := ekc.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		t.Fatalf("eks DescribeCluster: %v", err)
	}
	cl := dc.Cluster
	attrs := map[string]string{
		"Arn":                      aws.ToString(cl.Arn),
		"Endpoint":                 aws.ToString(cl.Endpoint),
		"CertificateAuthorityData": aws.ToString(cl.CertificateAuthority.Data),
		// Only read for IpFamily ipv6 (the Fn::If branch not taken here); moto's IPv4
		// cluster has none.
		"KubernetesNetworkConfig.ServiceIpv6Cidr": "fd00:ec2:0:1::/108",
	}
	t.Run("RealTemplateRefused", func(t *testing.T) { checkRealTemplateRefused(t, ctx, e, attrs) })

	body, replaced, err := motoTemplate(EKSClusterTemplate(), motoRewrite{NodeImageDefault: e.amiParam, ClusterAttrs: attrs})
	if err != nil {
		t.Fatalf("motoTemplate: %v", err)
	}
	// UserData: Endpoint + CA + the IPv6 service CIDR; Outputs: Arn + Endpoint. Anything
	// else would be a new dependency on the cluster that moto cannot check.
	if replaced != 5 {
		t.Fatalf("motoTemplate replaced %d Fn::GetAtt EKSCluster nodes, want 5", replaced)
	}

	cfn := cloudformation.NewFromConfig(e.cfg)
	token := "clusterkit-" + name + "-create-1"
	cs, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:          aws.String(name),
		TemplateBody:       aws.String(body),
		Parameters:         e.parameters(name),
		Capabilities:       []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
		ClientRequestToken: aws.String(token),
		Tags:               []cfntypes.Tag{{Key: aws.String("managed-by"), Value: aws.String("clusterkit")}},
	})
	if err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	stackID := aws.ToString(cs.StackId)
	if !strings.HasPrefix(stackID, "arn:aws:cloudformation:"+motoRegion+":"+motoAccount+":stack/"+name+"/") {
		t.Fatalf("StackId = %s: not in the assumed role's account", stackID)
	}

	stack := waitStackStatus(t, ctx, cfn, stackID, cfntypes.StackStatusCreateComplete)
	if aws.ToString(stack.StackName) != name {
		t.Errorf("StackName = %s", aws.ToString(stack.StackName))
	}
	outputs := map[string]string{}
	for _, o := range stack.Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	for k, want := range map[string]string{
		OutputClusterName:     name,
		OutputClusterArn:      attrs["Arn"],
		OutputClusterEndpoint: attrs["Endpoint"],
	} {
		if outputs[k] != want {
			t.Errorf("output %s = %q, want %q", k, outputs[k], want)
		}
	}
	if !regexp.MustCompile(`^arn:aws:iam::` + motoAccount + `:role/` + name + `-NodeInstanceRole-`).MatchString(outputs[OutputNodeInstanceRoleArn]) {
		t.Errorf("output %s = %q", OutputNodeInstanceRoleArn, outputs[OutputNodeInstanceRoleArn])
	}
	if !strings.HasPrefix(outputs[OutputNodeSecurityGroupID], "sg-") {
		t.Errorf("output %s = %q", OutputNodeSecurityGroupID, outputs[OutputNodeSecurityGroupID])
	}

	// Resources: all but the types moto skips exist.
	sr, err := cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(stackID)})
	if err != nil {
		t.Fatalf("DescribeStackResources: %v", err)
	}
	physical := map[string]string{}
	for _, r := range sr.StackResources {
		physical[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
	}
	tpl := parseTemplateMap(t)
	var missing []string
	for id, r := range tpl["Resources"].(map[string]any) {
		if _, ok := physical[id]; !ok {
			missing = append(missing, id+" ("+r.(map[string]any)["Type"].(string)+")")
		}
	}
	slices.Sort(missing)
	wantMissing := []string{ // moto has no CloudFormation model for these three types
		"AdminAccessEntry (AWS::EKS::AccessEntry)",
		"ControlPlaneEgressToNodeSecurityGroup (AWS::EC2::SecurityGroupEgress)",
		"ControlPlaneEgressToNodeSecurityGroupOn443 (AWS::EC2::SecurityGroupEgress)",
		"EKSCluster (AWS::EKS::Cluster)",
		"NodeAccessEntry (AWS::EKS::AccessEntry)",
	}
	if !slices.Equal(missing, wantMissing) {
		t.Errorf("resources moto did not create = %q, want %q", missing, wantMissing)
	}

	// The launch template as EC2 sees it, including the rendered nodeadm user data.
	var ltv struct {
		Items []struct {
			Version int `xml:"versionNumber"`
			Data    struct {
				ImageID      string `xml:"imageId"`
				InstanceType string `xml:"instanceType"`
				UserData     string `xml:"userData"`
				HTTPTokens   string `xml:"metadataOptions>httpTokens"`
				HopLimit     int    `xml:"metadataOptions>httpPutResponseHopLimit"`
				ProfileArn   string `xml:"iamInstanceProfile>arn"`
				VolumeType   string `xml:"blockDeviceMappingSet>item>ebs>volumeType"`
				VolumeSize   int    `xml:"blockDeviceMappingSet>item>ebs>volumeSize"`
				Encrypted    bool   `xml:"blockDeviceMappingSet>item>ebs>encrypted"`
			} `xml:"launchTemplateData"`
		} `xml:"launchTemplateVersionSet>item"`
	}
	e.srv.query(t, ctx, e.cfg, "ec2", "2016-11-15", "DescribeLaunchTemplateVersions", url.Values{
		"LaunchTemplateId": {physical["NodeLaunchTemplate"]},
	}, &ltv)
	if len(ltv.Items) != 1 {
		t.Fatalf("launch template %s: %d versions", physical["NodeLaunchTemplate"], len(ltv.Items))
	}
	lt := ltv.Items[0].Data
	if lt.ImageID != e.amiID || lt.InstanceType != "t3.large" || lt.HTTPTokens != "required" || lt.HopLimit != 2 ||
		lt.VolumeType != "gp3" || lt.VolumeSize != 30 || !lt.Encrypted || !strings.Contains(lt.ProfileArn, ":instance-profile/") {
		t.Errorf("launch template data = %+v (want AMI %s from SSM %s)", lt, e.amiID, e.amiParam)
	}
	ud, err := base64.StdEncoding.DecodeString(lt.UserData)
	if err != nil {
		t.Fatalf("user data is not base64: %v", err)
	}
	for _, want := range []string{
		"Content-Type: application/node.eks.aws",
		"kind: NodeConfig",
		"    name: " + name + "\n",
		"    apiServerEndpoint: " + attrs["Endpoint"] + "\n",
		"    certificateAuthority: " + attrs["CertificateAuthorityData"] + "\n",
		"    cidr: " + motoServiceNet + "\n",
	} {
		if !strings.Contains(string(ud), want) {
			t.Errorf("user data lacks %q:\n%s", want, ud)
		}
	}

	// The Auto Scaling group as Auto Scaling sees it.
	var asg struct {
		Groups []struct {
			Min               int      `xml:"MinSize"`
			Max               int      `xml:"MaxSize"`
			Desired           int      `xml:"DesiredCapacity"`
			LaunchTemplateID  string   `xml:"LaunchTemplate>LaunchTemplateId"`
			LaunchTemplateVer string   `xml:"LaunchTemplate>Version"`
			Subnets           string   `xml:"VPCZoneIdentifier"`
			Instances         []string `xml:"Instances>member>InstanceId"`
			Tags              []struct {
				Key, Value string
				Propagate  bool `xml:"PropagateAtLaunch"`
			} `xml:"Tags>member"`
		} `xml:"DescribeAutoScalingGroupsResult>AutoScalingGroups>member"`
	}
	e.srv.query(t, ctx, e.cfg, "autoscaling", "2011-01-01", "DescribeAutoScalingGroups", url.Values{
		"AutoScalingGroupNames.member.1": {physical["NodeGroup"]},
	}, &asg)
	if len(asg.Groups) != 1 {
		t.Fatalf("Auto Scaling group %s: found %d", physical["NodeGroup"], len(asg.Groups))
	}
	g := asg.Groups[0]
	if g.Min != motoNodeCount || g.Max != motoNodeCount || g.Desired != motoNodeCount || len(g.Instances) != motoNodeCount {
		t.Errorf("Auto Scaling group min/max/desired/instances = %d/%d/%d/%d, want %d", g.Min, g.Max, g.Desired, len(g.Instances), motoNodeCount)
	}
	if g.LaunchTemplateID != physical["NodeLaunchTemplate"] || g.LaunchTemplateVer != strconv.Itoa(ltv.Items[0].Version) {
		t.Errorf("Auto Scaling group launch template = %s v%s, want %s v%d", g.LaunchTemplateID, g.LaunchTemplateVer, physical["NodeLaunchTemplate"], ltv.Items[0].Version)
	}
	if g.Subnets != strings.Join(e.subnetIDs, ",") {
		t.Errorf("Auto Scaling group subnets = %q, want %q", g.Subnets, strings.Join(e.subnetIDs, ","))
	}
	ownedTag := false
	for _, tag := range g.Tags {
		if tag.Key == "kubernetes.io/cluster/"+name && tag.Value == "owned" && tag.Propagate {
			ownedTag = true
		}
	}
	if !ownedTag {
		t.Errorf("Auto Scaling group lacks the propagated kubernetes.io/cluster/%s=owned tag: %+v", name, g.Tags)
	}

	ev, err := cfn.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID)})
	if err != nil {
		t.Fatalf("DescribeStackEvents: %v", err)
	}
	if len(ev.StackEvents) == 0 {
		t.Fatal("DescribeStackEvents: no events")
	}
	if got := ev.StackEvents[0]; got.ResourceStatus != cfntypes.ResourceStatusCreateComplete || aws.ToString(got.StackId) != stackID {
		t.Errorf("newest event = %s %s for %s, want CREATE_COMPLETE", aws.ToString(got.LogicalResourceId), got.ResourceStatus, aws.ToString(got.StackId))
	}

	// Delete, then wait for DELETE_COMPLETE (by stack ID; by name the stack is gone).
	if _, err := cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{
		StackName: aws.String(stackID), ClientRequestToken: aws.String("clusterkit-" + name + "-delete-1"),
	}); err != nil {
		t.Fatalf("DeleteStack: %v", err)
	}
	waitStackStatus(t, ctx, cfn, stackID, cfntypes.StackStatusDeleteComplete)
	if _, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("DescribeStacks by name after delete: err = %v, want 'does not exist'", err)
	}

	t.Run("IPv6", func(t *testing.T) { checkMotoIPv6(t, ctx, e, body, attrs) })
	t.Run("NodeGroups", func(t *testing.T) { checkMotoNodeGroups(t, ctx, e, attrs) })
}

// checkMotoNodeGroups deploys the template with two managed node groups and the four
// add-ons. moto's CloudFormation has no AWS::EKS::Nodegroup or AWS::EKS::Addon either: it
// skips them (as it skips the cluster), so this checks what moto can see, that the
// rendered template deploys (DependsOn on skipped resources, CoreDNS's conditional Ref in
// its Metadata) and creates the groups' role (ManagedNodeRole) and its output, and that
// exactly the node groups and add-ons join the resources moto skips. Their properties are
// checked by cfn-lint (templates_lint_test.go) and by the in-project emulator
// (awsemu/nodegroup_test.go, awsemu/addon_test.go), which also serves ListNodegroups /
// DescribeNodegroup and ListAddons / DescribeAddon / DescribeAddonVersions.
func checkMotoNodeGroups(t *testing.T, ctx context.Context, e *motoEnv, attrs map[string]string) {
	const name = "clusterkit-moto-ng"
	rendered, err := RenderEKSClusterTemplate(testGroups(), testAddons()...)
	if err != nil {
		t.Fatal(err)
	}
	body, replaced, err := motoTemplate(rendered, motoRewrite{NodeImageDefault: e.amiParam, ClusterAttrs: attrs})
	if err != nil || replaced != 5 {
		t.Fatalf("motoTemplate: %d replaced, %v (the node groups must not read the cluster's attributes)", replaced, err)
	}
	cfn := cloudformation.NewFromConfig(e.cfg)
	cs, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String(name), TemplateBody: aws.String(body), Parameters: e.parameters(name),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
	})
	if err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	stack := waitStackStatus(t, ctx, cfn, aws.ToString(cs.StackId), cfntypes.StackStatusCreateComplete)
	var roleOut string
	for _, o := range stack.Outputs {
		if aws.ToString(o.OutputKey) == OutputManagedNodeRoleArn {
			roleOut = aws.ToString(o.OutputValue)
		}
	}
	if !regexp.MustCompile(`^arn:aws:iam::` + motoAccount + `:role/` + name + `-ManagedNodeRole-`).MatchString(roleOut) {
		t.Errorf("output %s = %q", OutputManagedNodeRoleArn, roleOut)
	}
	sr, err := cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: cs.StackId})
	if err != nil {
		t.Fatal(err)
	}
	physical := map[string]bool{}
	for _, r := range sr.StackResources {
		physical[aws.ToString(r.LogicalResourceId)] = true
	}
	var tpl struct {
		Resources map[string]struct {
			Type string `yaml:"Type"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal([]byte(rendered), &tpl); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for id, r := range tpl.Resources {
		if !physical[id] {
			missing = append(missing, id+" ("+r.Type+")")
		}
	}
	slices.Sort(missing)
	want := []string{
		"AdminAccessEntry (AWS::EKS::AccessEntry)",
		"ControlPlaneEgressToNodeSecurityGroup (AWS::EC2::SecurityGroupEgress)",
		"ControlPlaneEgressToNodeSecurityGroupOn443 (AWS::EC2::SecurityGroupEgress)",
		"EKSCluster (AWS::EKS::Cluster)",
		"NodeAccessEntry (AWS::EKS::AccessEntry)",
		NodeGroupLogicalID("arm_pool-1") + " (AWS::EKS::Nodegroup)",
		"NodeGroupweb (AWS::EKS::Nodegroup)",
		"AddonCoredns (AWS::EKS::Addon)",
		"AddonEksPodIdentityAgent (AWS::EKS::Addon)",
		"AddonKubeProxy (AWS::EKS::Addon)",
		"AddonVpcCni (AWS::EKS::Addon)",
	}
	slices.Sort(want)
	if !slices.Equal(missing, want) {
		t.Errorf("resources moto did not create = %q, want %q", missing, want)
	}
	if _, err := cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: cs.StackId}); err != nil {
		t.Fatal(err)
	}
	waitStackStatus(t, ctx, cfn, aws.ToString(cs.StackId), cfntypes.StackStatusDeleteComplete)
}

// checkMotoIPv6 deploys the template with IpFamily ipv6: moto resolves the Fn::If
// branches the cluster does not see, those of the nodes (the service CIDR in the user
// data, the node role's inline IPv6 CNI policy).
func checkMotoIPv6(t *testing.T, ctx context.Context, e *motoEnv, body string, attrs map[string]string) {
	const name = "clusterkit-moto-v6"
	params := e.parameters(name)
	for i, p := range params {
		switch aws.ToString(p.ParameterKey) {
		case "IpFamily":
			params[i].ParameterValue = aws.String("ipv6")
		case "PublicAccessCidrs": // what the provider sends an IPv6 cluster by default
			params[i].ParameterValue = aws.String(strings.Join(DefaultPublicAccessCIDRs("ipv6"), ","))
		}
	}
	cfn := cloudformation.NewFromConfig(e.cfg)
	cs, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String(name), TemplateBody: aws.String(body), Parameters: params,
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
	})
	if err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	waitStackStatus(t, ctx, cfn, aws.ToString(cs.StackId), cfntypes.StackStatusCreateComplete)
	sr, err := cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: cs.StackId})
	if err != nil {
		t.Fatal(err)
	}
	physical := map[string]string{}
	for _, r := range sr.StackResources {
		physical[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
	}
	var ltv struct {
		UserData string `xml:"launchTemplateVersionSet>item>launchTemplateData>userData"`
	}
	e.srv.query(t, ctx, e.cfg, "ec2", "2016-11-15", "DescribeLaunchTemplateVersions", url.Values{"LaunchTemplateId": {physical["NodeLaunchTemplate"]}}, &ltv)
	ud, _ := base64.StdEncoding.DecodeString(ltv.UserData)
	if want := "    cidr: " + attrs["KubernetesNetworkConfig.ServiceIpv6Cidr"] + "\n"; !strings.Contains(string(ud), want) {
		t.Errorf("user data lacks %q:\n%s", want, ud)
	}
	var pol struct {
		Document string `xml:"GetRolePolicyResult>PolicyDocument"`
	}
	e.srv.query(t, ctx, e.cfg, "iam", "2010-05-08", "GetRolePolicy", url.Values{"RoleName": {physical[NodeInstanceRoleLogicalID]}, "PolicyName": {"vpc-cni-ipv6"}}, &pol)
	doc, _ := url.QueryUnescape(pol.Document)
	if !strings.Contains(doc, "ec2:AssignIpv6Addresses") {
		t.Errorf("node role policy vpc-cni-ipv6 = %q", doc)
	}
}

// checkRealTemplateRefused records what moto cannot run (if a moto upgrade makes one of
// these pass, shrink motoRewrite accordingly):
//   - the template's NodeImageId default (an /aws/service/eks/... SSM path) is resolved
//     even when a value is passed, and moto has no such parameter and cannot be given one;
//   - Fn::GetAtt of EKSCluster in Outputs: moto answers HTTP 500 and stores no stack;
//   - Fn::GetAtt of EKSCluster in the launch template's UserData: moto answers 400
//     ValidationError and leaves a stack in CREATE_IN_PROGRESS for ever.
func checkRealTemplateRefused(t *testing.T, ctx context.Context, e *motoEnv, attrs map[string]string) {
	cfn := cloudformation.NewFromConfig(e.cfg, func(o *cloudformation.Options) { o.RetryMaxAttempts = 1 })
	create := func(name, body string) error {
		_, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
			StackName:    aws.String(name),
			TemplateBody: aws.String(body),
			Parameters:   e.parameters(name),
			Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
		})
		return err
	}
	stored := func(name string) (cfntypes.StackStatus, bool) {
		out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil || len(out.Stacks) == 0 {
			return "", false
		}
		return out.Stacks[0].StackStatus, true
	}

	if err := create("clusterkit-real", EKSClusterTemplate()); err == nil {
		t.Error("moto accepted the unmodified template")
	} else {
		t.Logf("unmodified template refused, as expected: %v", err)
	}
	if _, ok := stored("clusterkit-real"); ok {
		t.Error("a stack was stored although CreateStack failed")
	}

	body, _, err := motoTemplate(EKSClusterTemplate(), motoRewrite{NodeImageDefault: e.amiParam})
	if err != nil {
		t.Fatal(err)
	}
	if err := create("clusterkit-outputs", body); err == nil {
		t.Error("moto accepted Fn::GetAtt EKSCluster in Outputs")
	} else if !strings.Contains(err.Error(), "StatusCode: 500") {
		t.Errorf("Fn::GetAtt EKSCluster in Outputs: err = %v, want moto's HTTP 500", err)
	}
	if _, ok := stored("clusterkit-outputs"); ok {
		t.Error("a stack was stored although CreateStack failed")
	}

	body, _, err = motoTemplate(EKSClusterTemplate(), motoRewrite{NodeImageDefault: e.amiParam, ClusterAttrs: attrs, OutputsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := create("clusterkit-userdata", body); err == nil {
		t.Error("moto accepted Fn::GetAtt EKSCluster in UserData")
	} else if !strings.Contains(err.Error(), "Fn::GetAtt references undefined resource EKSCluster") {
		t.Errorf("Fn::GetAtt EKSCluster in UserData: err = %v, want moto's ValidationError", err)
	}
	if status, ok := stored("clusterkit-userdata"); !ok || status != cfntypes.StackStatusCreateInProgress {
		t.Errorf("after the UserData refusal: stack stored=%v status=%s, want moto's zombie CREATE_IN_PROGRESS stack", ok, status)
	}
	if _, err := cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("clusterkit-userdata")}); err != nil {
		t.Errorf("DeleteStack of the zombie stack: %v", err)
	}
}
