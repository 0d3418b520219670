package netguard

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateURL_Accepts(t *testing.T) {
	tests := []struct {
		raw      string
		host     string
		port     string
		path     string
		allowLoc bool
	}{
		{raw: "https://example.com", host: "example.com"},
		{raw: "https://example.com.", host: "example.com."},
		{raw: "https://API.Example.com:6443", host: "API.Example.com", port: "6443"},
		{raw: "https://rancher.example.com/k8s/clusters/c-1", host: "rancher.example.com", path: "/k8s/clusters/c-1"},
		{raw: "https://8.8.8.8:443", host: "8.8.8.8", port: "443"},
		{raw: "https://[2606:4700::1111]:6443", host: "2606:4700::1111", port: "6443"},
		{raw: "https://my_cluster.internal-dns.example", host: "my_cluster.internal-dns.example"},
		{raw: "https://1.example.com", host: "1.example.com"},
		{raw: "https://0x10.example.com", host: "0x10.example.com"},
		{raw: "https://k8s.localhost.example.com", host: "k8s.localhost.example.com"},
		{raw: "https://example.com:1", host: "example.com", port: "1"},
		{raw: "https://example.com:65535", host: "example.com", port: "65535"},
		// AllowLocal opens up addresses and http, nothing else.
		{raw: "http://127.0.0.1:8080", host: "127.0.0.1", port: "8080", allowLoc: true},
		{raw: "https://localhost:6443", host: "localhost", port: "6443", allowLoc: true},
		{raw: "https://[::1]", host: "::1", allowLoc: true},
		{raw: "https://169.254.169.254", host: "169.254.169.254", allowLoc: true},
		{raw: "https://10.0.0.1/api", host: "10.0.0.1", path: "/api", allowLoc: true},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			u, err := Policy{AllowLocal: tt.allowLoc}.ValidateURL(tt.raw)
			if err != nil {
				t.Fatalf("ValidateURL(%q) = %v", tt.raw, err)
			}
			if u.Hostname() != tt.host || u.Port() != tt.port || u.Path != tt.path {
				t.Errorf("host, port, path = %q, %q, %q; want %q, %q, %q",
					u.Hostname(), u.Port(), u.Path, tt.host, tt.port, tt.path)
			}
		})
	}
}

func TestValidateURL_RefusesForm(t *testing.T) {
	tests := []struct {
		raw    string
		reason string // substring of URLError.Reason
	}{
		{"http://example.com", `"https"`},
		{"ftp://example.com", `scheme "ftp"`},
		{"example.com", "scheme is missing"},
		{"https:example.com", "https://host"},
		{"https://", "host is missing"},
		{"https:///path", "host is missing"},
		{"https://admin:s3cr3t-pw@example.com", "user name or password"},
		{"https://admin@example.com", "user name or password"},
		{"https://example.com?x=1", "query"},
		{"https://example.com/?", "query"},
		{"https://example.com/#frag", "fragment"},
		{"https://example.com#", "fragment"},
		{"https://example.com:0", "out of range"},
		{"https://example.com:65536", "out of range"},
		{"https://example.com:99999999999999999999", "out of range"},
		{"https://example.com:", "port is empty"},
		{"https://example.com:https", "well-formed"},
		{"https://[fe80::1%25eth0]:6443", "zone"},
		{"https://[2606:4700::1111%25eth0]", "zone"},
		{"https://[127.0.0.1]", "well-formed"},
		{"https://::1", "well-formed"},
		{"https://%31%32%37.0.0.1", "well-formed"},
		{"https://exa mple.com", "well-formed"},
		{"https://exa!mple.com", "valid host name"},
		{"https://-example.com", "valid host name"},
		{"https://example..com", "valid host name"},
		{"https://.", "valid host name"},
		{"https://bücher.example", "punycode"},
		{"https://" + strings.Repeat("a", 64) + ".example.com", "valid host name"},
		// Numeric shorthands that resolvers and curl turn into IPv4 addresses.
		{"https://127.1", "canonical IPv4"},
		{"https://127.0.1", "canonical IPv4"},
		{"https://2130706433", "canonical IPv4"},
		{"https://0x7f000001", "canonical IPv4"},
		{"https://0x7f.0.0.1", "canonical IPv4"},
		{"https://0177.0.0.1", "canonical IPv4"},
		{"https://127.0.0.01", "canonical IPv4"},
		{"https://0", "canonical IPv4"},
		{"https://1.2.3.4.5", "canonical IPv4"},
		{"https://256.0.0.1", "canonical IPv4"},
		{"https://169.254.169.254.", "canonical IPv4"},
		{"https://example.0x7f", "canonical IPv4"},
		{"https://example.123", "canonical IPv4"},
	}
	for _, allowLocal := range []bool{false, true} {
		for _, tt := range tests {
			if allowLocal && strings.HasPrefix(tt.raw, "http://") {
				continue
			}
			t.Run(tt.raw, func(t *testing.T) {
				u, err := Policy{AllowLocal: allowLocal}.ValidateURL(tt.raw)
				var ue *URLError
				if !errors.As(err, &ue) {
					t.Fatalf("AllowLocal=%v: ValidateURL(%q) = %v, %v; want *URLError", allowLocal, tt.raw, u, err)
				}
				if u != nil {
					t.Error("URL returned alongside an error")
				}
				if !strings.Contains(ue.Reason, tt.reason) {
					t.Errorf("Reason = %q, want it to contain %q", ue.Reason, tt.reason)
				}
				if got := ue.Error(); got != "invalid cluster URL: "+ue.Reason {
					t.Errorf("Error() = %q", got)
				}
			})
		}
	}
}

func TestValidateURL_NeverLeaksPassword(t *testing.T) {
	for _, raw := range []string{
		"https://admin:s3cr3t-pw@example.com",
		"https://admin:s3cr3t-pw@example.com:6443/path",
		"http://admin:s3cr3t-pw@127.0.0.1",
		"https://admin:s3cr3t-pw@exa mple.com",          // parse failure
		"https://admin:s3cr3t-pw%zz@example.com",        // bad escape
		"https://admin:s3cr3t-pw@example.com/a@b",       // '@' in path
		"https://admin:s3cr3t-pw@example.com\\@8.8.8.8", // backslash trick
		"admin:s3cr3t-pw@example.com",
	} {
		for _, p := range []Policy{{}, {AllowLocal: true}} {
			_, err := p.ValidateURL(raw)
			var ue *URLError
			if !errors.As(err, &ue) {
				t.Fatalf("%q: got %v, want *URLError", raw, err)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(ue.URL, "s3cr3t") || strings.Contains(ue.Reason, "s3cr3t") {
				t.Errorf("%q: password leaked: URL=%q, Error()=%q", raw, ue.URL, err.Error())
			}
		}
	}
	_, err := Policy{}.ValidateURL("https://admin:s3cr3t-pw@example.com:6443/path")
	var ue *URLError
	if !errors.As(err, &ue) || ue.URL != "https://example.com:6443/path" {
		t.Errorf("redacted URL of %v, want %q", err, "https://example.com:6443/path")
	}
}

func TestValidateURL_Blocked(t *testing.T) {
	tests := []struct {
		raw   string
		host  string
		addr  string // "" when refused by name
		class string
	}{
		{"https://localhost", "localhost", "", "loopback"},
		{"https://LOCALHOST:6443", "LOCALHOST", "", "loopback"},
		{"https://localhost.", "localhost.", "", "loopback"},
		{"https://api.localhost", "api.localhost", "", "loopback"},
		{"https://localhost.localdomain", "localhost.localdomain", "", "loopback"},
		{"https://ip6-localhost", "ip6-localhost", "", "loopback"},
		{"https://ip6-loopback", "ip6-loopback", "", "loopback"},
		{"https://127.0.0.1:6443", "127.0.0.1", "127.0.0.1", "loopback"},
		{"https://0.0.0.0", "0.0.0.0", "0.0.0.0", "unspecified"},
		{"https://169.254.169.254/latest/meta-data", "169.254.169.254", "169.254.169.254", "link-local (cloud metadata)"},
		{"https://10.1.2.3", "10.1.2.3", "10.1.2.3", "private"},
		{"https://100.64.1.1", "100.64.1.1", "100.64.1.1", "shared address space (CGNAT)"},
		{"https://203.0.113.10:6443", "203.0.113.10", "203.0.113.10", "reserved"},
		{"https://[::1]", "::1", "::1", "loopback"},
		{"https://[::]:443", "::", "::", "unspecified"},
		{"https://[fd00:ec2::254]", "fd00:ec2::254", "fd00:ec2::254", "link-local (cloud metadata)"},
		{"https://[::ffff:127.0.0.1]", "::ffff:127.0.0.1", "::ffff:127.0.0.1", "loopback (IPv4-mapped IPv6)"},
		{"https://[64:ff9b::a9fe:a9fe]", "64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe", "link-local (cloud metadata) (NAT64 IPv6)"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			_, err := Policy{}.ValidateURL(tt.raw)
			var be *BlockedError
			if !errors.As(err, &be) {
				t.Fatalf("ValidateURL(%q) = %v, want *BlockedError", tt.raw, err)
			}
			if be.Host != tt.host || be.Class != tt.class {
				t.Errorf("Host, Class = %q, %q; want %q, %q", be.Host, be.Class, tt.host, tt.class)
			}
			if got := be.Addr.String(); tt.addr != "" && got != tt.addr || tt.addr == "" && be.Addr.IsValid() {
				t.Errorf("Addr = %s, want %q", be.Addr, tt.addr)
			}
			if !strings.Contains(err.Error(), "allow_local_requests") {
				t.Errorf("message %q does not mention allow_local_requests", err.Error())
			}
			if _, err := (Policy{AllowLocal: true}).ValidateURL(tt.raw); err != nil {
				t.Errorf("AllowLocal: %v", err)
			}
		})
	}
}

func TestErrorMessagesMentionAllowLocal(t *testing.T) {
	for _, raw := range []string{"https://127.0.0.1", "https://localhost", "http://example.com", "https://[::ffff:169.254.169.254]"} {
		_, err := Policy{}.ValidateURL(raw)
		if err == nil || !strings.Contains(err.Error(), "allow_local_requests = true") {
			t.Errorf("%q: error %v does not mention allow_local_requests = true", raw, err)
		}
	}
}
