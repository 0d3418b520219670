package cloud

import (
	"slices"
	"testing"
)

func TestCheckPublicAccessCIDR(t *testing.T) {
	for _, tc := range []struct {
		block, family string
		want          CIDRProblem
	}{
		{"0.0.0.0/0", "ipv4", CIDROK},
		{"203.0.113.0/24", "ipv4", CIDROK},
		{"198.51.100.7/32", "ipv6", CIDROK},
		{"::/0", "ipv6", CIDROK},
		{"2001:db8:1234::/48", "ipv6", CIDROK},
		{"::/0", "ipv4", CIDRIPv6OnIPv4},
		{"2001:db8::/32", "ipv4", CIDRIPv6OnIPv4},
		{"2001:db8::1/32", "ipv6", CIDRHostBits},
		{"203.0.113.9/24", "ipv4", CIDRHostBits},
		{"10.0.0.0/8", "ipv4", CIDRNotPublic},
		{"fd00::/8", "ipv6", CIDRNotPublic},
		{"fe80::/10", "ipv6", CIDRNotPublic},
		{"::1/128", "ipv6", CIDRNotPublic},
		{"127.0.0.0/8", "ipv4", CIDRNotPublic},
		{"224.0.0.0/4", "ipv4", CIDRNotPublic},
		{"0.0.0.0/8", "ipv4", CIDRNotPublic},
		{"::ffff:203.0.113.0/120", "ipv6", CIDRMalformed},
		{"203.0.113.0", "ipv4", CIDRMalformed},
		{"everywhere", "ipv4", CIDRMalformed},
	} {
		if got := CheckPublicAccessCIDR(tc.block, tc.family); got != tc.want {
			t.Errorf("CheckPublicAccessCIDR(%q, %s) = %d, want %d", tc.block, tc.family, got, tc.want)
		}
	}
}

func TestDefaultPublicAccessCIDRs(t *testing.T) {
	if got := DefaultPublicAccessCIDRs("ipv4"); !slices.Equal(got, []string{"0.0.0.0/0"}) {
		t.Errorf("ipv4: %q", got)
	}
	if got := DefaultPublicAccessCIDRs("ipv6"); !slices.Equal(got, []string{"0.0.0.0/0", "::/0"}) {
		t.Errorf("ipv6: %q", got)
	}
	// A cluster given no blocks gets its family's default in the template parameter.
	if p := (ClusterAccess{PublicAccess: true, IPFamily: "ipv6"}).Parameters(); p["PublicAccessCidrs"] != "0.0.0.0/0,::/0" {
		t.Errorf("ipv6 parameters: PublicAccessCidrs %q", p["PublicAccessCidrs"])
	}
	if p := (ClusterAccess{PublicAccess: true}).Parameters(); p["PublicAccessCidrs"] != "0.0.0.0/0" || p["IpFamily"] != "ipv4" {
		t.Errorf("default parameters: PublicAccessCidrs %q IpFamily %q", p["PublicAccessCidrs"], p["IpFamily"])
	}
}

func TestIPv6ClustersIn(t *testing.T) {
	for region, want := range map[string]bool{"eu-west-1": true, "us-gov-west-1": true, "cn-north-1": false, "cn-northwest-1": false} {
		if got := IPv6ClustersIn(region); got != want {
			t.Errorf("IPv6ClustersIn(%s) = %v", region, got)
		}
	}
}
