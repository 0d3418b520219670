package netguard

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckAddr_Classes(t *testing.T) {
	tests := []struct {
		addr  string
		class string // "" means allowed
	}{
		// IPv4
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"169.254.169.254", "link-local (cloud metadata)"},
		{"169.254.1.1", "link-local"},
		{"10.0.0.1", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"100.64.0.1", "shared address space (CGNAT)"},
		{"100.127.255.255", "shared address space (CGNAT)"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"198.18.0.1", "reserved"},
		{"198.19.255.255", "reserved"},
		{"192.0.2.1", "reserved"},
		{"198.51.100.7", "reserved"},
		{"203.0.113.10", "reserved"},
		{"192.0.0.8", "reserved"},
		// Public IPv4, including neighbours of blocked ranges.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"172.32.0.1", ""},
		{"100.128.0.1", ""},
		{"11.0.0.1", ""},
		{"223.255.255.255", ""},
		// IPv6
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fd00:ec2::254", "link-local (cloud metadata)"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"ff02::1", "multicast"},
		{"2001:db8::1", "reserved"},
		{"2606:4700::1111", ""},
		{"2001:4860:4860::8888", ""},
		// IPv6 forms embedding IPv4.
		{"::ffff:127.0.0.1", "loopback (IPv4-mapped IPv6)"},
		{"::ffff:169.254.169.254", "link-local (cloud metadata) (IPv4-mapped IPv6)"},
		{"::ffff:10.1.2.3", "private (IPv4-mapped IPv6)"},
		{"::ffff:8.8.8.8", ""},
		{"::127.0.0.1", "loopback (IPv4-compatible IPv6)"},
		{"::a9fe:a9fe", "link-local (cloud metadata) (IPv4-compatible IPv6)"},
		{"::8.8.8.8", ""},
		{"64:ff9b::a9fe:a9fe", "link-local (cloud metadata) (NAT64 IPv6)"},
		{"64:ff9b::127.0.0.1", "loopback (NAT64 IPv6)"},
		{"64:ff9b::808:808", ""},
		{"2002:7f00:0001::", "loopback (6to4 IPv6)"},
		{"2002:a9fe:a9fe::1", "link-local (cloud metadata) (6to4 IPv6)"},
		{"2002:c0a8:0101::", "private (6to4 IPv6)"},
		{"2002:808:808::", ""},
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback (Teredo IPv6)"},
		{"2001:0:4136:e378:8000:63bf:5601:5601", "link-local (cloud metadata) (Teredo IPv6)"},
		{"2001:0:4136:e378:8000:63bf:f7f7:f7f7", ""}, // client 8.8.8.8
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			err := Policy{}.CheckAddr(a)
			if tt.class == "" {
				if err != nil {
					t.Fatalf("CheckAddr(%s) = %v, want allowed", a, err)
				}
			} else {
				var be *BlockedError
				if !errors.As(err, &be) {
					t.Fatalf("CheckAddr(%s) = %v, want *BlockedError", a, err)
				}
				if be.Class != tt.class {
					t.Errorf("class = %q, want %q", be.Class, tt.class)
				}
				if be.Host != "" || be.Addr != a {
					t.Errorf("Host, Addr = %q, %s; want \"\", %s", be.Host, be.Addr, a)
				}
			}
			if err := (Policy{AllowLocal: true}).CheckAddr(a); err != nil {
				t.Errorf("AllowLocal: CheckAddr(%s) = %v, want nil", a, err)
			}
		})
	}
}

func TestCheckAddr_Invalid(t *testing.T) {
	var be *BlockedError
	if err := (Policy{}).CheckAddr(netip.Addr{}); !errors.As(err, &be) || be.Class != "invalid" {
		t.Fatalf("zero Addr: got %v, want class \"invalid\"", err)
	}
}

func TestBlockedError_Message(t *testing.T) {
	tests := []struct {
		err  *BlockedError
		want []string
	}{
		{&BlockedError{Addr: netip.MustParseAddr("127.0.0.1"), Class: "loopback"},
			[]string{"127.0.0.1", "loopback", "allow_local_requests = true", "provider configuration"}},
		{&BlockedError{Host: "metadata.internal", Addr: netip.MustParseAddr("169.254.169.254"), Class: metadataClass},
			[]string{`"metadata.internal"`, "169.254.169.254", "link-local (cloud metadata)", "allow_local_requests = true"}},
		{&BlockedError{Host: "localhost", Class: "loopback"},
			[]string{`"localhost"`, "loopback", "allow_local_requests = true"}},
	}
	for _, tt := range tests {
		msg := tt.err.Error()
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%q does not mention %q", msg, w)
			}
		}
	}
}
