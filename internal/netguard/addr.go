package netguard

import "net/netip"

type prefixClass struct {
	prefix netip.Prefix
	class  string
}

const metadataClass = "link-local (cloud metadata)"

var (
	// Order matters: the first match wins, so narrow entries precede the wider ones.
	v4Classes = classes(
		"169.254.169.254/32", metadataClass,
		"0.0.0.0/8", "unspecified",
		"127.0.0.0/8", "loopback",
		"169.254.0.0/16", "link-local",
		"10.0.0.0/8", "private",
		"172.16.0.0/12", "private",
		"192.168.0.0/16", "private",
		"100.64.0.0/10", "shared address space (CGNAT)",
		"224.0.0.0/4", "multicast",
		"255.255.255.255/32", "broadcast",
		"240.0.0.0/4", "reserved",
		"192.0.0.0/24", "reserved",
		"192.0.2.0/24", "reserved",
		"192.88.99.0/24", "reserved",
		"198.18.0.0/15", "reserved",
		"198.51.100.0/24", "reserved",
		"203.0.113.0/24", "reserved",
	)
	v6Classes = classes(
		"fd00:ec2::254/128", metadataClass,
		"::/128", "unspecified",
		"::1/128", "loopback",
		"fe80::/10", "link-local",
		"fec0::/10", "private", // deprecated site-local
		"fc00::/7", "private",
		"64:ff9b:1::/48", "private", // local-use NAT64, RFC 8215
		"ff00::/8", "multicast",
		"100::/64", "reserved", // discard-only
		"2001:2::/48", "reserved", // benchmarking
		"2001:10::/28", "reserved", // ORCHID
		"2001:db8::/32", "reserved",
		"3fff::/20", "reserved", // documentation, RFC 9637
	)

	// IPv6 ranges whose addresses carry an IPv4 address that is what really gets
	// reached; each maps to the label appended to the embedded address's class.
	compatPrefix = netip.MustParsePrefix("::/96")
	nat64Prefix  = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour    = netip.MustParsePrefix("2002::/16")
	teredoPrefix = netip.MustParsePrefix("2001::/32")
)

func classes(pairs ...string) []prefixClass {
	out := make([]prefixClass, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, prefixClass{netip.MustParsePrefix(pairs[i]), pairs[i+1]})
	}
	return out
}

// CheckAddr returns nil if the policy allows connecting to a, otherwise a *BlockedError
// with an empty Host.
func (p Policy) CheckAddr(a netip.Addr) error {
	if p.AllowLocal {
		return nil
	}
	if !a.IsValid() {
		return &BlockedError{Class: "invalid"}
	}
	if class := classify(a); class != "" {
		return &BlockedError{Addr: a, Class: class}
	}
	return nil
}

// classify names the non-public class a belongs to, or returns "" for a public
// address. IPv6 forms that embed an IPv4 address are judged by the embedded address.
func classify(a netip.Addr) string {
	a = a.WithZone("")
	if a.Is4In6() {
		return embedded(a.Unmap(), "IPv4-mapped IPv6")
	}
	if a.Is4() {
		return lookup(v4Classes, a)
	}
	// Explicit v6 classes first so ::, ::1 and fd00:ec2::254 keep their own labels.
	if c := lookup(v6Classes, a); c != "" {
		return c
	}
	b := a.As16()
	switch {
	case compatPrefix.Contains(a):
		return embedded(v4(b[12:16]), "IPv4-compatible IPv6")
	case nat64Prefix.Contains(a):
		return embedded(v4(b[12:16]), "NAT64 IPv6")
	case sixToFour.Contains(a):
		return embedded(v4(b[2:6]), "6to4 IPv6")
	case teredoPrefix.Contains(a):
		// The Teredo client address is stored inverted.
		c := [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}
		return embedded(netip.AddrFrom4(c), "Teredo IPv6")
	}
	return ""
}

func embedded(a netip.Addr, via string) string {
	if c := lookup(v4Classes, a); c != "" {
		return c + " (" + via + ")"
	}
	return ""
}

func v4(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b)) }

func lookup(table []prefixClass, a netip.Addr) string {
	for _, pc := range table {
		if pc.prefix.Contains(a) {
			return pc.class
		}
	}
	return ""
}
