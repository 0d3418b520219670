package cloud

import (
	"net/netip"
	"strings"
)

// EKS's rules for the cluster's own settings (endpoint access, IP family) that hold
// whatever template deploys them: the provider checks them at plan time, before a stack
// exists.

// MaxPublicAccessCIDRs is EKS's quota of public endpoint CIDR blocks per cluster ("Public
// endpoint access CIDR ranges per cluster"; not adjustable).
const MaxPublicAccessCIDRs = 40

// DefaultPublicAccessCIDRs are the blocks EKS opens the public endpoint to when none are
// given: everywhere over IPv4, and for an IPv6 cluster (whose endpoint is dual-stack)
// everywhere over IPv6 too.
func DefaultPublicAccessCIDRs(ipFamily string) []string {
	if ipFamily == "ipv6" {
		return []string{"0.0.0.0/0", "::/0"}
	}
	return []string{"0.0.0.0/0"}
}

// CIDRProblem is why EKS refuses a block in a cluster's publicAccessCidrs.
type CIDRProblem int

const (
	CIDROK         CIDRProblem = iota
	CIDRMalformed              // not an IP CIDR block
	CIDRHostBits               // bits set past the prefix
	CIDRIPv6OnIPv4             // an IPv6 block for a cluster whose endpoint is IPv4 only
	CIDRNotPublic              // private, loopback, link-local, multicast: no such source reaches a public endpoint
)

// CheckPublicAccessCIDR returns what EKS finds wrong with block in the publicAccessCidrs of
// a cluster of ipFamily. IPv6 blocks reach only an IPv6 cluster's dual-stack endpoint.
func CheckPublicAccessCIDR(block, ipFamily string) CIDRProblem {
	p, err := netip.ParsePrefix(block)
	if err != nil {
		return CIDRMalformed
	}
	a := p.Addr()
	switch {
	case a.Is4In6() || a.Zone() != "":
		return CIDRMalformed
	case p.Masked() != p:
		return CIDRHostBits
	case a.Is6() && ipFamily != "ipv6":
		return CIDRIPv6OnIPv4
	case a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || (a.IsUnspecified() && p.Bits() != 0):
		return CIDRNotPublic
	}
	return CIDROK
}

// IPv6ClustersIn reports whether EKS creates IPv6 clusters in region: not in the China
// regions.
func IPv6ClustersIn(region string) bool {
	return !strings.HasPrefix(region, "cn-")
}
