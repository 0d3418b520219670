package awsemu

import (
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// AssumeRoleWithWebIdentity over plain (unsigned) HTTP, as the SDK sends it: every check
// STS makes refuses with STS's code, and a good token gets credentials that sign.
func TestAssumeRoleWithWebIdentity(t *testing.T) {
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	e, err := Start(Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	key, _ := GenerateIssuerKey()
	iss, err := StartIssuer("", key)
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	role := "arn:aws:iam::111111111111:role/ci"
	e.AddOIDCProvider(iss.URL(), "aws.workload.identity")
	e.AddRole(Role{ARN: role, WebIdentity: &WebIdentityTrust{Issuer: iss.URL(), Audience: "aws.workload.identity",
		Subjects: []string{"organization:acme:project:*:workspace:prod-?:run_phase:apply"}}})
	e.AddRole(Role{ARN: "arn:aws:iam::111111111111:role/no-oidc", TrustedAccounts: []string{"111111111111"}})
	now := clock.Now()
	tok := func(sub, aud string, exp time.Duration) string {
		return iss.Mint(Token{Subject: sub, Audience: aud, IssuedAt: now, ExpiresAt: now.Add(exp)})
	}
	okSub := "organization:acme:project:Default:workspace:prod-1:run_phase:apply"
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	cases := []struct {
		name, role, token string
		status            int
		code              string
	}{
		{"good", role, tok(okSub, "aws.workload.identity", time.Hour), 200, ""},
		{"subject outside the trust policy", role, tok("organization:acme:project:Default:workspace:prod-1:run_phase:plan", "aws.workload.identity", time.Hour), 403, "AccessDenied"},
		{"role without web identity trust", "arn:aws:iam::111111111111:role/no-oidc", tok(okSub, "aws.workload.identity", time.Hour), 403, "AccessDenied"},
		{"unknown audience", role, tok(okSub, "other", time.Hour), 400, "InvalidIdentityToken"},
		{"expired", role, tok(okSub, "aws.workload.identity", -time.Minute), 400, "ExpiredTokenException"},
		{"forged signature", role, iss.MintWithKey(other, Token{Subject: okSub, Audience: "aws.workload.identity", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}), 400, "InvalidIdentityToken"},
		{"tampered claims", role, tamperClaims(tok(okSub, "aws.workload.identity", time.Hour)), 400, "InvalidIdentityToken"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.PostForm(e.URL(), url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"},
				"RoleArn": {c.role}, "RoleSessionName": {"run"}, "WebIdentityToken": {c.token}})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || (c.code != "" && !strings.Contains(string(body), "<Code>"+c.code+"</Code>")) {
				t.Fatalf("HTTP %d %s, want %d %s", resp.StatusCode, body, c.status, c.code)
			}
			if c.code == "" && (!strings.Contains(string(body), "<SubjectFromWebIdentityToken>"+okSub) ||
				!strings.Contains(string(body), "assumed-role/ci/run")) {
				t.Fatalf("answer %s", body)
			}
		})
	}
	// An issuer no OIDC provider is registered for.
	key2, _ := GenerateIssuerKey()
	stranger, _ := StartIssuer("", key2)
	defer stranger.Close()
	resp, err := http.PostForm(e.URL(), url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {role},
		"RoleSessionName": {"run"}, "WebIdentityToken": {stranger.Mint(Token{Subject: okSub, Audience: "aws.workload.identity", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "No OpenIDConnect provider found") {
		t.Fatalf("unknown issuer: HTTP %d %s", resp.StatusCode, body)
	}
}

// tamperClaims changes the claims without re-signing.
func tamperClaims(tok string) string {
	parts := strings.Split(tok, ".")
	parts[1] = parts[1][:len(parts[1])-2] + "AA"
	return strings.Join(parts, ".")
}
