// Package netguard keeps the provider from being used as an SSRF proxy: cluster URLs
// come from configuration that may be attacker-influenced, and the requests we make to
// them carry bearer tokens, so destinations are checked both when a URL is accepted and
// again on every socket the HTTP client opens.
package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Policy decides which destinations are acceptable. The zero value is the strict
// production policy.
type Policy struct {
	// AllowLocal permits loopback, private, link-local and other non-public addresses,
	// and plain http, for tests and clusters running on the same machine or network.
	AllowLocal bool
}

// URLError reports a cluster URL refused for its form rather than its destination.
type URLError struct {
	// URL is the input with any userinfo removed; it may be empty if it could not be
	// redacted reliably.
	URL    string
	Reason string
}

func (e *URLError) Error() string { return "invalid cluster URL: " + e.Reason }

// BlockedError reports a destination address in a class the policy refuses.
type BlockedError struct {
	Host  string     // host name as given, if any
	Addr  netip.Addr // zero when the refusal is by name (e.g. "localhost")
	Class string
}

func (e *BlockedError) Error() string {
	var target string
	switch {
	case e.Host != "" && e.Addr.IsValid() && e.Host != e.Addr.String():
		target = fmt.Sprintf("%q (%s)", e.Host, e.Addr)
	case e.Addr.IsValid():
		target = e.Addr.String()
	case e.Host != "":
		target = strconv.Quote(e.Host)
	default:
		target = "the address"
	}
	return fmt.Sprintf("refusing to connect to %s: %s addresses are blocked; "+
		"set allow_local_requests = true in the provider configuration to permit it", target, e.Class)
}

// ValidateURL parses raw and checks that it is an acceptable cluster URL.
//
// Host names that are not IP literals are only checked by name here (localhost and
// friends); the addresses they resolve to are checked at dial time by DialContext.
// Numeric hosts must be canonical dotted-decimal IPv4 or bracketed IPv6. Shorthand and
// octal/hex forms such as "127.1", "2130706433" or "0177.0.0.1" are refused even when
// AllowLocal is true, because resolvers and tools disagree about what they mean.
func (p Policy) ValidateURL(raw string) (*url.URL, error) {
	fail := func(reason string) (*url.URL, error) {
		return nil, &URLError{URL: redact(raw), Reason: reason}
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error echoes the raw input, password included, so never pass it on.
		return fail("it is not a well-formed URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowLocal {
			return fail(`scheme must be "https" (plain "http" is only allowed with allow_local_requests = true)`)
		}
	case "":
		return fail(`scheme is missing; use "https://host[:port]"`)
	default:
		return fail(fmt.Sprintf("scheme %q is not supported; use \"https\"", u.Scheme))
	}
	if u.Opaque != "" {
		return fail(`expected "` + u.Scheme + `://host[:port]"`)
	}
	if u.User != nil {
		return fail("it must not contain a user name or password; pass credentials in their own attributes")
	}
	if u.RawQuery != "" || u.ForceQuery {
		return fail("it must not contain a query string")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fail("it must not contain a fragment")
	}
	if strings.HasSuffix(u.Host, ":") {
		return fail("port is empty")
	}
	if port := u.Port(); port != "" {
		if !isDigits(port) {
			return fail(fmt.Sprintf("port %q is not a number", port))
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fail(fmt.Sprintf("port %s is out of range 1-65535", port))
		}
	}
	host := u.Hostname()
	if host == "" {
		return fail("host is missing")
	}
	if strings.Contains(host, "%") {
		return fail("IPv6 zone identifiers are not allowed")
	}
	if strings.HasPrefix(u.Host, "[") {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return fail(fmt.Sprintf("%q is not a valid IPv6 address", host))
		}
		if err := p.check(host, a); err != nil {
			return nil, err
		}
		return u, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Is4() {
			return fail("IPv6 addresses must be enclosed in brackets")
		}
		if err := p.check(host, a); err != nil {
			return nil, err
		}
		return u, nil
	}
	name, reason := checkHostname(host)
	if reason != "" {
		return fail(reason)
	}
	if !p.AllowLocal && isLocalhostName(name) {
		return nil, &BlockedError{Host: host, Class: "loopback"}
	}
	return u, nil
}

func (p Policy) check(host string, a netip.Addr) error {
	if err := p.CheckAddr(a); err != nil {
		var blocked *BlockedError
		if errors.As(err, &blocked) {
			blocked.Host = host
		}
		return err
	}
	return nil
}

// checkHostname returns the lower-cased name without its trailing dot, or a reason the
// name is unacceptable.
func checkHostname(host string) (string, string) {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "" || len(name) > 253 {
		return "", fmt.Sprintf("host %q is not a valid host name", host)
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Sprintf("host %q is not a valid host name", host)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Sprintf("host %q is not a valid host name (internationalised names must be written in punycode)", host)
			}
		}
	}
	// A numeric last label makes WHATWG parsers, curl and inet_aton treat the whole
	// host as an IPv4 address in some shorthand; no real TLD is numeric.
	if isNumericLabel(labels[len(labels)-1]) {
		return "", fmt.Sprintf("host %q is not a canonical IPv4 address; write it as four decimal numbers without leading zeros, e.g. 192.0.2.10", host)
	}
	return name, ""
}

func isNumericLabel(l string) bool {
	if strings.HasPrefix(l, "0x") {
		for i := 2; i < len(l); i++ {
			c := l[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	return isDigits(l)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLocalhostName(name string) bool {
	switch name {
	case "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback":
		return true
	}
	return strings.HasSuffix(name, ".localhost")
}

// redact strips userinfo without relying on a successful parse, since the input that
// failed to parse is exactly the one we cannot trust url.URL.Redacted for.
func redact(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		if strings.Contains(raw, "@") {
			return ""
		}
		return raw
	}
	rest := raw[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		rest = rest[at+1:]
	}
	if strings.Contains(rest, "@") {
		// Ambiguous (e.g. "@" after a backslash); better to report nothing.
		return ""
	}
	return raw[:i+3] + rest
}
