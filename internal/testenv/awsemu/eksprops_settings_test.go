package awsemu

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// An IPv6 cluster's public endpoint is dual-stack: it takes IPv6 blocks, and DescribeCluster
// reports them as given.
func TestProjectTemplate_IPv6PublicCIDRs(t *testing.T) {
	p := newProjectStack(t, "ck-v6-cidrs")
	cidrs := []string{"0.0.0.0/0", "::/0", "2001:db8:1234::/48"}
	if st := p.create(nil, "IpFamily", "ipv6", "PublicAccessCidrs", strings.Join(cidrs, ",")); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %s", st.StackStatus, p.failure())
	}
	c := p.cluster()
	if got := c.ResourcesVpcConfig.PublicAccessCidrs; !slices.Equal(got, cidrs) {
		t.Errorf("publicAccessCidrs %q, want %q", got, cidrs)
	}
	if c.KubernetesNetworkConfig.IpFamily != ekstypes.IpFamilyIpv6 {
		t.Errorf("ipFamily %s", c.KubernetesNetworkConfig.IpFamily)
	}
	// In place: the blocks change through UpdateStack, the cluster stays.
	if st := p.update("IpFamily", "ipv6", "PublicAccessCidrs", "2001:db8:1234::/48"); st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("update: %s %s", st.StackStatus, p.failure())
	}
	if got := p.cluster().ResourcesVpcConfig.PublicAccessCidrs; !slices.Equal(got, []string{"2001:db8:1234::/48"}) {
		t.Errorf("publicAccessCidrs after the update %q", got)
	}
}

// What EKS refuses of the public endpoint's blocks fails the cluster, and the stack rolls
// back: IPv6 blocks on an IPv4 cluster, reserved IPv6 ranges, more blocks than the quota.
func TestProjectTemplate_PublicCIDRsRefused(t *testing.T) {
	many := make([]string, maxPublicAccessCIDRs+1)
	for i := range many {
		many[i] = fmt.Sprintf("198.51.100.%d/32", i+1)
	}
	for _, tc := range []struct {
		name   string
		params []string
		want   string
	}{
		{"IPv6 block, IPv4 cluster", []string{"PublicAccessCidrs", "0.0.0.0/0,::/0"}, `"The following CIDRs are invalid in publicAccessCidrs: \[::/0\]"`},
		{"unique local block", []string{"IpFamily", "ipv6", "PublicAccessCidrs", "fd00::/8,2001:db8::/32"}, `invalid in publicAccessCidrs: \[fd00::/8\]`},
		{"41 blocks", []string{"PublicAccessCidrs", strings.Join(many, ",")}, `"publicAccessCidrs can have at most 40 CIDR blocks, got 41"`},
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
	// 40 blocks are fine.
	p := newProjectStack(t, "ck-forty")
	if st := p.create(nil, "PublicAccessCidrs", strings.Join(many[:maxPublicAccessCIDRs], ",")); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("40 blocks: %s %s", st.StackStatus, p.failure())
	}
	if n := len(p.cluster().ResourcesVpcConfig.PublicAccessCidrs); n != maxPublicAccessCIDRs {
		t.Errorf("%d blocks reported", n)
	}
}

// EKS's own checks that depend on the region: no IPv6 clusters in the China regions; the
// default public blocks of a cluster given none follow its IP family.
func TestEKSSemantics_Region(t *testing.T) {
	cn := &Emulator{opts: Options{Region: "cn-north-1"}}
	if got := cn.eksSemantics(eksConfig{publicAccess: true, ipFamily: "ipv6"}); got != "ipFamily ipv6 is not supported in region cn-north-1" {
		t.Errorf("ipv6 in cn-north-1: %q", got)
	}
	if got := cn.eksSemantics(eksConfig{publicAccess: true, ipFamily: "ipv4"}); got != "" {
		t.Errorf("ipv4 in cn-north-1: %q", got)
	}
	if got := (&Emulator{opts: Options{Region: "eu-west-1"}}).eksSemantics(eksConfig{publicAccess: true, ipFamily: "ipv6"}); got != "" {
		t.Errorf("ipv6 in eu-west-1: %q", got)
	}
}
