package awsemu

import (
	"slices"
	"strings"
	"testing"

	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// The public endpoint turned off and on again, in place: the template always gives
// PublicAccessCidrs, so the update keeps it (as CloudFormation wants), DescribeCluster
// shows the blocks kept while the endpoint is private, and they are in force again once
// it is public.
func TestProjectTemplate_PublicCIDRsKeptWhilePrivate(t *testing.T) {
	p := newProjectStack(t, "ck-private")
	blocks := "203.0.113.0/24,198.51.100.7/32"
	on := []string{"EndpointPublicAccess", "true", "EndpointPrivateAccess", "true", "PublicAccessCidrs", blocks}
	off := []string{"EndpointPublicAccess", "false", "EndpointPrivateAccess", "true", "PublicAccessCidrs", blocks}
	if st := p.create(nil, on...); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("create: %s %s", st.StackStatus, p.failure())
	}
	if st := p.update(off...); st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("public off: %s %s", st.StackStatus, p.failure())
	}
	want := strings.Split(blocks, ",")
	c := p.cluster().ResourcesVpcConfig
	if c.EndpointPublicAccess || !c.EndpointPrivateAccess || !slices.Equal(c.PublicAccessCidrs, want) {
		t.Errorf("private: public %v private %v blocks %q", c.EndpointPublicAccess, c.EndpointPrivateAccess, c.PublicAccessCidrs)
	}
	if st := p.update(on...); st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("public on again: %s %s", st.StackStatus, p.failure())
	}
	if c := p.cluster().ResourcesVpcConfig; !c.EndpointPublicAccess || !slices.Equal(c.PublicAccessCidrs, want) {
		t.Errorf("public again: public %v blocks %q", c.EndpointPublicAccess, c.PublicAccessCidrs)
	}
}

// A template that drops PublicAccessCidrs when the endpoint turns private (this project's
// before) fails the update: CloudFormation wants the property kept once the cluster had it.
func TestProjectTemplate_PublicCIDRsDropRefused(t *testing.T) {
	p := newProjectStack(t, "ck-private-drop")
	const always = "        PublicAccessCidrs:\n          Ref: PublicAccessCidrs\n"
	if !strings.Contains(p.body, always) {
		t.Fatal("the project template no longer gives PublicAccessCidrs as a plain Ref")
	}
	p.body = strings.Replace(p.body, always, "        PublicAccessCidrs:\n          Fn::If:\n            - Public\n            - Ref: PublicAccessCidrs\n            - Ref: AWS::NoValue\n", 1)
	p.body = strings.Replace(p.body, "Conditions:\n", "Conditions:\n  Public:\n    Fn::Equals:\n      - Ref: EndpointPublicAccess\n      - \"true\"\n", 1)
	if st := p.create(nil, "PublicAccessCidrs", "203.0.113.0/24"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("create: %s %s", st.StackStatus, p.failure())
	}
	if st := p.update("EndpointPublicAccess", "false", "EndpointPrivateAccess", "true", "PublicAccessCidrs", "203.0.113.0/24"); st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete {
		t.Fatalf("update: %s", st.StackStatus)
	}
	if got, want := p.failure(), "Properties validation failed for resource EKSCluster with message: [#/ResourcesVpcConfig: PublicAccessCidrs must be included in an update: the previous template had it]"; got != want {
		t.Errorf("failure %q, want %q", got, want)
	}
	if c := p.cluster().ResourcesVpcConfig; !c.EndpointPublicAccess || !slices.Equal(c.PublicAccessCidrs, []string{"203.0.113.0/24"}) {
		t.Errorf("after the rollback: public %v blocks %q", c.EndpointPublicAccess, c.PublicAccessCidrs)
	}
}
