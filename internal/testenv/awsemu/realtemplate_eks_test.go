package awsemu

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

const testKey = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// projectStack runs the project template with the required parameters plus extra, on a
// fast timeline, and returns the stack once it settled.
type projectStack struct {
	v    *env
	c    *cfn.Client
	e    *eks.Client
	name string
	body string
}

func newProjectStack(t *testing.T, name string) *projectStack {
	t.Helper()
	body, err := os.ReadFile("../../cloud/templates/eks-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v := newEnv(t)
	temp := v.assume(3600)
	v.e.SetStackScript(name, StackScript{StepDelay: time.Millisecond})
	return &projectStack{v: v, c: v.cfn(temp), e: v.eks(temp), name: name, body: string(body)}
}

func (p *projectStack) params(extra ...string) []cfntypes.Parameter {
	return params(append([]string{"ClusterName", p.name, "ClusterRoleArn", "arn:aws:iam::222222222222:role/eks-service",
		"VpcId", "vpc-0123456789abcdef0", "SubnetIds", "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
		"ControlPlaneSecurityGroupId", "sg-0123456789abcdef0"}, extra...)...)
}

func (p *projectStack) create(tags map[string]string, extra ...string) cfntypes.Stack {
	p.v.t.Helper()
	in := &cfn.CreateStackInput{
		StackName: aws.String(p.name), TemplateBody: aws.String(p.body), Parameters: p.params(extra...),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
	}
	for k, v := range tags {
		in.Tags = append(in.Tags, cfntypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := p.c.CreateStack(p.v.ctx, in); err != nil {
		p.v.t.Fatal(err)
	}
	p.v.clock.Advance(time.Second)
	return p.v.describe(p.c, p.name)
}

func (p *projectStack) update(extra ...string) cfntypes.Stack {
	p.v.t.Helper()
	if _, err := p.c.UpdateStack(p.v.ctx, &cfn.UpdateStackInput{
		StackName: aws.String(p.name), TemplateBody: aws.String(p.body), Parameters: p.params(extra...),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
	}); err != nil {
		p.v.t.Fatal(err)
	}
	p.v.clock.Advance(time.Second)
	return p.v.describe(p.c, p.name)
}

func (p *projectStack) cluster() *ekstypes.Cluster {
	p.v.t.Helper()
	out, err := p.e.DescribeCluster(p.v.ctx, &eks.DescribeClusterInput{Name: aws.String(p.name)})
	if err != nil {
		p.v.t.Fatal(err)
	}
	return out.Cluster
}

// failure is the reason of the cluster's latest *_FAILED event.
func (p *projectStack) failure() string {
	_, evs := p.v.events(p.c, p.name)
	reason := ""
	for _, ev := range evs {
		if aws.ToString(ev.LogicalResourceId) == "EKSCluster" && strings.HasSuffix(string(ev.ResourceStatus), "_FAILED") {
			reason = aws.ToString(ev.ResourceStatusReason)
		}
	}
	return reason
}

func logTypes(c *ekstypes.Cluster) (on, off []string) {
	for _, l := range c.Logging.ClusterLogging {
		for _, t := range l.Types {
			if aws.ToBool(l.Enabled) {
				on = append(on, string(t))
			} else {
				off = append(off, string(t))
			}
		}
	}
	return on, off
}

// The template's endpoint, logging, encryption and tag settings reach the cluster as
// DescribeCluster shows it; endpoint access and logging change in place, encryption cannot.
func TestProjectTemplate_EndpointLoggingEncryption(t *testing.T) {
	p := newProjectStack(t, "ck-secure")
	st := p.create(map[string]string{"team": "platform", "cost-center": "42"},
		"EndpointPublicAccess", "true", "EndpointPrivateAccess", "true", "PublicAccessCidrs", "203.0.113.0/24,198.51.100.7/32",
		"LogApi", "true", "LogAudit", "true", "SecretsKmsKeyArn", testKey)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %s", st.StackStatus, p.failure())
	}
	c := p.cluster()
	vpc := c.ResourcesVpcConfig
	if !vpc.EndpointPublicAccess || !vpc.EndpointPrivateAccess || !slices.Equal(vpc.PublicAccessCidrs, []string{"203.0.113.0/24", "198.51.100.7/32"}) ||
		!slices.Equal(vpc.SubnetIds, []string{"subnet-0123456789abcdef0", "subnet-0123456789abcdef1"}) || !slices.Equal(vpc.SecurityGroupIds, []string{"sg-0123456789abcdef0"}) ||
		!regexp.MustCompile(`^sg-[0-9a-z]{17}$`).MatchString(aws.ToString(vpc.ClusterSecurityGroupId)) {
		t.Errorf("resourcesVpcConfig %+v", vpc)
	}
	if on, off := logTypes(c); !slices.Equal(on, []string{"api", "audit"}) || !slices.Equal(off, []string{"authenticator", "controllerManager", "scheduler"}) {
		t.Errorf("logging on %q off %q", on, off)
	}
	if len(c.EncryptionConfig) != 1 || aws.ToString(c.EncryptionConfig[0].Provider.KeyArn) != testKey {
		t.Errorf("encryptionConfig %+v", c.EncryptionConfig)
	}
	if n := c.KubernetesNetworkConfig; n.IpFamily != ekstypes.IpFamilyIpv4 || aws.ToString(n.ServiceIpv4Cidr) != "172.20.0.0/16" || n.ServiceIpv6Cidr != nil {
		t.Errorf("kubernetesNetworkConfig %+v", n)
	}
	if c.Tags["team"] != "platform" || c.Tags["cost-center"] != "42" || c.Tags["aws:cloudformation:logical-id"] != "EKSCluster" || c.Tags["aws:cloudformation:stack-name"] != "ck-secure" {
		t.Errorf("tags %v", c.Tags)
	}

	// Logging and endpoint access change in place: the cluster is updated, not replaced.
	st = p.update("EndpointPublicAccess", "false", "EndpointPrivateAccess", "true", "LogAuthenticator", "true", "SecretsKmsKeyArn", testKey)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("update: %s %s", st.StackStatus, p.failure())
	}
	c = p.cluster()
	if on, _ := logTypes(c); !slices.Equal(on, []string{"authenticator"}) {
		t.Errorf("logging after the update: %q", on)
	}
	// The blocks stay while the endpoint is private (the parameter's default here), as EKS
	// keeps them.
	if vpc := c.ResourcesVpcConfig; vpc.EndpointPublicAccess || !vpc.EndpointPrivateAccess || !slices.Equal(vpc.PublicAccessCidrs, []string{"0.0.0.0/0"}) {
		t.Errorf("resourcesVpcConfig after the update %+v", vpc)
	}
	_, evs := p.v.events(p.c, p.name)
	lines := eventLines(evs) // newest first
	if i := slices.Index(lines, "ck-secure UPDATE_IN_PROGRESS"); i < 0 || !slices.Equal(lines[:i], []string{"ck-secure UPDATE_COMPLETE",
		"ck-secure UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "EKSCluster UPDATE_COMPLETE", "EKSCluster UPDATE_IN_PROGRESS"}) {
		t.Errorf("events of the update %q", lines)
	}

	// Encryption is create-only: removing it needs a replacement, which a named cluster
	// cannot have, so the update fails and rolls back.
	st = p.update("EndpointPublicAccess", "false", "EndpointPrivateAccess", "true", "LogAuthenticator", "true")
	if st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete {
		t.Fatalf("update removing encryption: %s", st.StackStatus)
	}
	if got := p.failure(); got != "CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename ck-secure and update the stack again." {
		t.Errorf("failure %q", got)
	}
	if c := p.cluster(); len(c.EncryptionConfig) != 1 {
		t.Errorf("encryption after the rollback %+v", c.EncryptionConfig)
	}
}

func eventLines(evs []cfntypes.StackEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, aws.ToString(ev.LogicalResourceId)+" "+string(ev.ResourceStatus))
	}
	return out
}

func TestProjectTemplate_IPv6(t *testing.T) {
	p := newProjectStack(t, "ck-v6")
	if st := p.create(nil, "IpFamily", "ipv6"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %s", st.StackStatus, p.failure())
	}
	n := p.cluster().KubernetesNetworkConfig
	if n.IpFamily != ekstypes.IpFamilyIpv6 || n.ServiceIpv4Cidr != nil || !regexp.MustCompile(`^fd[0-9a-f]{2}:[0-9a-f]{4}:[0-9a-f]{4}::/108$`).MatchString(aws.ToString(n.ServiceIpv6Cidr)) {
		t.Errorf("kubernetesNetworkConfig %+v", n)
	}
	// The IP family is create-only too.
	if st := p.update("IpFamily", "ipv4"); st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete || !strings.Contains(p.failure(), "Rename ck-v6") {
		t.Errorf("ipv6 -> ipv4: %s %q", st.StackStatus, p.failure())
	}
}

// What EKS or CloudFormation's schema refuses fails the cluster resource, and the stack
// rolls back.
func TestProjectTemplate_ClusterRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params []string
		want   string
	}{
		{"no endpoint", []string{"EndpointPublicAccess", "false", "EndpointPrivateAccess", "false"},
			`^Resource handler returned message: "Both endpointPublicAccess and endpointPrivateAccess cannot be false" \(Service: Eks, Status Code: 400, Request ID: [0-9a-f-]+\)$`},
		{"private CIDR", []string{"PublicAccessCidrs", "0.0.0.0/0,10.0.0.0/8"}, `"The following CIDRs are invalid in publicAccessCidrs: \[10\.0\.0\.0/8\]"`},
		{"host bits", []string{"PublicAccessCidrs", "203.0.113.1/24"}, `invalid in publicAccessCidrs: \[203\.0\.113\.1/24\]`},
		{"key in another region", []string{"SecretsKmsKeyArn", "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
			`KMS key arn:aws:kms:eu-west-1:.* must be in the cluster's region us-east-1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProjectStack(t, "ck-refused")
			if st := p.create(nil, tc.params...); st.StackStatus != cfntypes.StackStatusRollbackComplete {
				t.Fatalf("stack %s", st.StackStatus)
			}
			if got := p.failure(); !regexp.MustCompile(tc.want).MatchString(got) {
				t.Errorf("failure %q, want %s", got, tc.want)
			}
		})
	}
	// The template's parameter constraints refuse values before anything is created.
	p := newProjectStack(t, "ck-refused")
	for param, val := range map[string]string{"IpFamily": "ipv5", "LogApi": "yes", "EndpointPublicAccess": "1", "SecretsKmsKeyArn": "alias/mine"} {
		_, err := p.c.CreateStack(p.v.ctx, &cfn.CreateStackInput{
			StackName: aws.String(p.name), TemplateBody: aws.String(p.body), Parameters: p.params(param, val),
			Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
		})
		if code, msg := apiErr(err); code != "ValidationError" || !strings.Contains(msg, "Parameter '"+param+"'") {
			t.Errorf("%s=%s: %s %s", param, val, code, msg)
		}
	}
}

// The resource schema: types, allowed values and unknown keys of the cluster's properties.
func TestEKSClusterProperties_Schema(t *testing.T) {
	base := `Resources:
  C:
    Type: AWS::EKS::Cluster
    Properties:
      RoleArn: arn:aws:iam::222222222222:role/eks
      ResourcesVpcConfig:
        SubnetIds: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]
`
	for _, tc := range []struct{ name, extra, want string }{
		{"boolean", "        EndpointPublicAccess: yes\n", "#/ResourcesVpcConfig/EndpointPublicAccess: expected type: Boolean, found: String"},
		{"unknown key", "        EndpointAccess: true\n", "#/ResourcesVpcConfig: extraneous key [EndpointAccess] is not permitted"},
		{"log type", "      Logging:\n        ClusterLogging:\n          EnabledTypes: [{Type: apis}]\n", "#/Logging/ClusterLogging/EnabledTypes/0/Type: apis is not a valid enum value"},
		{"log type twice", "      Logging:\n        ClusterLogging:\n          EnabledTypes: [{Type: api}, {Type: api}]\n", "#/Logging/ClusterLogging/EnabledTypes: array items are not unique"},
		{"ip family", "      KubernetesNetworkConfig:\n        IpFamily: IPv6\n", "#/KubernetesNetworkConfig/IpFamily: IPv6 is not a valid enum value"},
		{"encryption resources", "      EncryptionConfig:\n        - Provider: {KeyArn: " + testKey + "}\n          Resources: [configmaps]\n", `#/EncryptionConfig/0/Resources: ["configmaps"]: the only supported value is [secrets]`},
		{"two encryption configs", "      EncryptionConfig:\n        - Provider: {KeyArn: " + testKey + "}\n          Resources: [secrets]\n        - Provider: {KeyArn: " + testKey + "}\n          Resources: [secrets]\n", "#/EncryptionConfig: expected maximum item count: 1, found: 2"},
		{"ipv6 with a v4 CIDR", "      KubernetesNetworkConfig:\n        IpFamily: ipv6\n        ServiceIpv4Cidr: 172.20.0.0/16\n", "serviceIpv4Cidr can not be specified with ipFamily ipv6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			v.e.SetStackScript("schema", StackScript{StepDelay: time.Millisecond})
			c := v.cfn(v.assume(3600))
			body := base
			if strings.HasPrefix(tc.extra, "        ") {
				body += tc.extra
			} else {
				body = strings.Replace(body, "      ResourcesVpcConfig:", strings.TrimSuffix(tc.extra, "\n")+"\n      ResourcesVpcConfig:", 1)
			}
			if _, err := c.CreateStack(v.ctx, &cfn.CreateStackInput{StackName: aws.String("schema"), TemplateBody: aws.String(body)}); err != nil {
				t.Fatal(err)
			}
			v.clock.Advance(time.Second)
			_, evs := v.events(c, "schema")
			var got string
			for _, ev := range evs {
				if ev.ResourceStatus == cfntypes.ResourceStatusCreateFailed {
					got = aws.ToString(ev.ResourceStatusReason)
				}
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("failure %q, want %q", got, tc.want)
			}
		})
	}
}

// Fn::If must name a condition of the template.
func TestTemplateConditions_Checked(t *testing.T) {
	v := newEnv(t)
	c := v.cfn(v.assume(3600))
	for body, want := range map[string]string{
		"Resources:\n  R:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: {\"Fn::If\": [Missing, a, b]}\n": "Template format error: Unresolved condition dependency Missing in Fn::If",
		"Conditions:\n  C: {\"Fn::Equals\": [{Ref: R}, x]}\nResources:\n  R:\n    Type: AWS::SNS::Topic\n":               "Template format error: Unresolved dependencies [R]. Cannot reference resources in the Conditions block of the template",
		"Conditions:\n  C: x\nResources:\n  R:\n    Type: AWS::SNS::Topic\n":                                             "Template format error: Conditions can only be boolean operations on parameters and other conditions: C",
	} {
		_, err := c.CreateStack(v.ctx, &cfn.CreateStackInput{StackName: aws.String("conds"), TemplateBody: aws.String(body)})
		if code, msg := apiErr(err); code != "ValidationError" || msg != want {
			t.Errorf("%s: %s %q, want %q", body, code, msg, want)
		}
	}
}
