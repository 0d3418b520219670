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
)

func (p *projectStack) entries() ([]string, error) {
	out, err := p.e.ListAccessEntries(p.v.ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(p.name)})
	if err != nil {
		return nil, err
	}
	return out.AccessEntries, nil
}

func (p *projectStack) nodeRole() string {
	p.v.t.Helper()
	for _, o := range p.v.describe(p.c, p.name).Outputs {
		if aws.ToString(o.OutputKey) == "NodeInstanceRoleArn" {
			return aws.ToString(o.OutputValue)
		}
	}
	p.v.t.Fatal("no NodeInstanceRoleArn output")
	return ""
}

// failureOf is the reason of the latest *_FAILED event of logical ID id.
func (p *projectStack) failureOf(id string) string {
	_, evs := p.v.events(p.c, p.name)
	for _, ev := range evs { // newest first
		if aws.ToString(ev.LogicalResourceId) == id && strings.HasSuffix(string(ev.ResourceStatus), "_FAILED") {
			return aws.ToString(ev.ResourceStatusReason)
		}
	}
	return ""
}

// identity is what the token webhook makes of a token of the provisioning role for the
// cluster; aws-auth answers "from-aws-auth" for every ARN and records that it was asked.
func (p *projectStack) identity(t *testing.T) (user string, groups []string, authenticated, askedAWSAuth bool) {
	t.Helper()
	asked := false
	st := p.v.e.review(eksToken(t, p.v.sts(p.v.assume(3600)), p.name), func(string) (string, []string, bool) {
		asked = true
		return "from-aws-auth", []string{"aws-auth-group"}, true
	})
	return st.User.Username, st.User.Groups, st.Authenticated, asked
}

// API mode with the provisioning role as ClusterAdminRoleArn: no creator bootstrap, an
// EC2_LINUX entry for the nodes and an admin entry for the role, readable through the
// signed EKS API; tokens map by access entry only; the delete removes the entries.
func TestProjectTemplate_AccessEntriesAPIMode(t *testing.T) {
	p := newProjectStack(t, "ck-api")
	if st := p.create(nil, "AuthenticationMode", "API", "ClusterAdminRoleArn", roleARN); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %s", st.StackStatus, p.failure())
	}
	ac := p.cluster().AccessConfig
	if ac == nil || ac.AuthenticationMode != ekstypes.AuthenticationModeApi || aws.ToBool(ac.BootstrapClusterCreatorAdminPermissions) {
		t.Fatalf("accessConfig %+v", ac)
	}
	node := p.nodeRole()
	got, err := p.entries()
	if want := []string{node, roleARN}; err != nil || !slices.Equal(got, want) {
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("ListAccessEntries = %q, %v; want %q", got, err, want)
		}
	}
	ne, err := p.e.DescribeAccessEntry(p.v.ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(p.name), PrincipalArn: aws.String(node)})
	if err != nil {
		t.Fatal(err)
	}
	if e := ne.AccessEntry; aws.ToString(e.Type) != "EC2_LINUX" || aws.ToString(e.Username) != "system:node:{{EC2PrivateDNSName}}" ||
		!slices.Equal(e.KubernetesGroups, []string{"system:nodes"}) || !strings.HasPrefix(aws.ToString(e.AccessEntryArn), "arn:aws:eks:us-east-1:222222222222:access-entry/ck-api/role/") {
		t.Errorf("node entry %+v", e)
	}
	pols, err := p.e.ListAssociatedAccessPolicies(p.v.ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(p.name), PrincipalArn: aws.String(roleARN)})
	if err != nil {
		t.Fatal(err)
	}
	if len(pols.AssociatedAccessPolicies) != 1 || aws.ToString(pols.AssociatedAccessPolicies[0].PolicyArn) != clusterAdminPolicy ||
		pols.AssociatedAccessPolicies[0].AccessScope.Type != ekstypes.AccessScopeTypeCluster {
		t.Errorf("admin policies %+v", pols.AssociatedAccessPolicies)
	}
	if pols, err := p.e.ListAssociatedAccessPolicies(p.v.ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(p.name), PrincipalArn: aws.String(node)}); err != nil || len(pols.AssociatedAccessPolicies) != 0 {
		t.Errorf("node policies %+v %v", pols, err)
	}
	_, err = p.e.DescribeAccessEntry(p.v.ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(p.name), PrincipalArn: aws.String("arn:aws:iam::222222222222:role/nobody")})
	if code, _ := apiErr(err); code != "ResourceNotFoundException" {
		t.Errorf("unknown principal: %v", err)
	}
	for _, a := range []string{"ListAccessEntries", "DescribeAccessEntry", "ListAssociatedAccessPolicies"} {
		if p.v.countCalls(a) == 0 {
			t.Errorf("no %s in the call log", a)
		}
	}
	user, groups, ok, asked := p.identity(t)
	if !ok || asked || user != "arn:aws:sts::222222222222:assumed-role/clusterkit-provision/clusterkit-test" || !slices.Equal(groups, []string{"system:masters"}) {
		t.Errorf("provisioning role: %q %q authenticated %v, aws-auth asked %v", user, groups, ok, asked)
	}

	id := aws.ToString(p.v.describe(p.c, p.name).StackId)
	if _, err := p.c.DeleteStack(p.v.ctx, &cfn.DeleteStackInput{StackName: aws.String(p.name)}); err != nil {
		t.Fatal(err)
	}
	p.v.clock.Advance(time.Second)
	lines, _ := p.v.events(p.c, id)
	for _, want := range []string{"NodeAccessEntry DELETE_COMPLETE", "AdminAccessEntry DELETE_COMPLETE", "EKSCluster DELETE_COMPLETE"} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, want) }) {
			t.Errorf("no %s in %q", want, lines)
		}
	}
	if _, err := p.entries(); err == nil {
		t.Error("ListAccessEntries answers for a deleted cluster")
	}
	if _, _, ok, _ := p.identity(t); ok {
		t.Error("a token of the deleted cluster is accepted")
	}
}

// CONFIG_MAP: no access entry resources, the entry APIs refuse, the creator is the
// implicit admin and everyone else goes through aws-auth; the mode then moves forward
// one step at a time (access entries appear: EKS's creator entry and the nodes'), never back.
func TestProjectTemplate_AuthenticationModeChanges(t *testing.T) {
	p := newProjectStack(t, "ck-cm")
	if st := p.create(nil, "AuthenticationMode", "CONFIG_MAP"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %s", st.StackStatus, p.failure())
	}
	lines, _ := p.v.events(p.c, p.name)
	if slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "AccessEntry") }) {
		t.Errorf("access entries made in CONFIG_MAP mode: %q", lines)
	}
	if ac := p.cluster().AccessConfig; ac.AuthenticationMode != ekstypes.AuthenticationModeConfigMap || !aws.ToBool(ac.BootstrapClusterCreatorAdminPermissions) {
		t.Errorf("accessConfig %+v", ac)
	}
	if _, err := p.entries(); err == nil || !strings.Contains(err.Error(), "authentication mode must be set to one of [API, API_AND_CONFIG_MAP]") {
		t.Errorf("ListAccessEntries in CONFIG_MAP mode: %v", err)
	}
	if user, groups, ok, asked := p.identity(t); !ok || asked || user != "kubernetes-admin" || !slices.Equal(groups, []string{"system:masters"}) {
		t.Errorf("creator in CONFIG_MAP mode: %q %q %v asked aws-auth %v", user, groups, ok, asked)
	}

	// CONFIG_MAP -> API skips a step.
	if st := p.update("AuthenticationMode", "API"); st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete ||
		!strings.Contains(p.failureOf("EKSCluster"), "Unsupported authentication mode update from CONFIG_MAP to API") {
		t.Fatalf("CONFIG_MAP -> API: %s %q", st.StackStatus, p.failureOf("EKSCluster"))
	}
	if st := p.update("AuthenticationMode", "API_AND_CONFIG_MAP"); st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("CONFIG_MAP -> API_AND_CONFIG_MAP: %s %s", st.StackStatus, p.failureOf("NodeAccessEntry"))
	}
	got, err := p.entries()
	want := []string{p.nodeRole(), roleARN}
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("entries after CONFIG_MAP -> API_AND_CONFIG_MAP: %q %v, want %q", got, err, want)
	}
	if user, _, ok, asked := p.identity(t); !ok || asked || user != "arn:aws:sts::222222222222:assumed-role/clusterkit-provision/clusterkit-test" {
		t.Errorf("creator entry: %q %v asked aws-auth %v", user, ok, asked)
	}
	if st := p.update("AuthenticationMode", "API"); st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("API_AND_CONFIG_MAP -> API: %s %s", st.StackStatus, p.failure())
	}
	if st := p.update("AuthenticationMode", "API_AND_CONFIG_MAP"); st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete ||
		!strings.Contains(p.failureOf("EKSCluster"), "Unsupported authentication mode update from API to API_AND_CONFIG_MAP") {
		t.Errorf("API -> API_AND_CONFIG_MAP: %s %q", st.StackStatus, p.failureOf("EKSCluster"))
	}
	// The bootstrap setting is create-only.
	if st := p.update("AuthenticationMode", "API", "ClusterAdminRoleArn", roleARN); st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete ||
		!strings.Contains(p.failureOf("EKSCluster"), "Rename ck-cm") {
		t.Errorf("bootstrap change: %s %q", st.StackStatus, p.failureOf("EKSCluster"))
	}
}

// API_AND_CONFIG_MAP without an entry for the caller falls back to aws-auth.
func TestProjectTemplate_APIAndConfigMapFallsBackToAWSAuth(t *testing.T) {
	p := newProjectStack(t, "ck-both")
	// An admin entry for another role: the provisioning role has none (no bootstrap either).
	if st := p.create(nil, "ClusterAdminRoleArn", "arn:aws:iam::222222222222:role/someone-else"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %s", st.StackStatus, p.failure())
	}
	if user, _, ok, asked := p.identity(t); !ok || !asked || user != "from-aws-auth" {
		t.Errorf("identity %q %v asked aws-auth %v", user, ok, asked)
	}
}

// What CloudFormation's schema and EKS refuse in an AWS::EKS::AccessEntry fails it.
func TestAccessEntryProperties(t *testing.T) {
	cluster := func(mode, bootstrap string) string {
		return `Resources:
  C:
    Type: AWS::EKS::Cluster
    Properties:
      Name: ae
      RoleArn: arn:aws:iam::222222222222:role/eks
      ResourcesVpcConfig:
        SubnetIds: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]
      AccessConfig:
        AuthenticationMode: ` + mode + `
        BootstrapClusterCreatorAdminPermissions: ` + bootstrap + `
  E:
    Type: AWS::EKS::AccessEntry
    Properties:
      ClusterName: ae
`
	}
	admin := "      AccessPolicies:\n        - PolicyArn: " + clusterAdminPolicy + "\n          AccessScope: {Type: cluster}\n"
	for _, tc := range []struct{ name, body, want string }{
		{"unknown key", cluster("API", "false") + "      PrincipalArn: " + roleARN + "\n      Groups: [a]\n", "#: extraneous key [Groups] is not permitted"},
		{"no principal", cluster("API", "false"), "#: required key [PrincipalArn] not found"},
		{"bad type", cluster("API", "false") + "      PrincipalArn: " + roleARN + "\n      Type: EC2_LINUXX\n", "#/Type: EC2_LINUXX is not a valid enum value"},
		{"assumed-role principal", cluster("API", "false") + "      PrincipalArn: arn:aws:sts::222222222222:assumed-role/x/y\n", "The specified principalArn is invalid"},
		{"policy on a node entry", cluster("API", "false") + "      PrincipalArn: " + roleARN + "\n      Type: EC2_LINUX\n" + admin, "doesn't support access policy association"},
		{"unknown policy", cluster("API", "false") + "      PrincipalArn: " + roleARN + "\n" + strings.Replace(admin, "AmazonEKSClusterAdminPolicy", "AmazonEKSGodPolicy", 1), "The specified policyArn is invalid"},
		{"scope type", cluster("API", "false") + "      PrincipalArn: " + roleARN + "\n" + strings.Replace(admin, "{Type: cluster}", "{Type: everything}", 1), "AccessScope/Type: everything is not a valid enum value"},
		{"system group", cluster("API", "false") + "      PrincipalArn: " + roleARN + "\n      KubernetesGroups: [system:masters]\n", "can't contain groups that start with system:"},
		{"CONFIG_MAP cluster", cluster("CONFIG_MAP", "true") + "      PrincipalArn: " + roleARN + "\n", "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP]"},
		{"the creator's bootstrap entry", cluster("API", "true") + "      PrincipalArn: " + roleARN + "\n", "The specified access entry resource is already in use on this cluster."},
		{"bootstrap off in CONFIG_MAP", cluster("CONFIG_MAP", "false") + "      PrincipalArn: " + roleARN + "\n", "bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set to CONFIG_MAP"},
		{"no such cluster", strings.Replace(cluster("API", "false"), "      ClusterName: ae\n", "      ClusterName: other\n", 1) + "      PrincipalArn: " + roleARN + "\n", "No cluster found for name: other."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			v.e.SetStackScript("ae", StackScript{StepDelay: time.Millisecond})
			c := v.cfn(v.assume(3600))
			if _, err := c.CreateStack(v.ctx, &cfn.CreateStackInput{StackName: aws.String("ae"), TemplateBody: aws.String(tc.body)}); err != nil {
				t.Fatal(err)
			}
			v.clock.Advance(time.Second)
			_, evs := v.events(c, "ae")
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
