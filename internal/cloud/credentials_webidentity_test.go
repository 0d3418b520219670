package cloud

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// The emulator refuses web identity tokens the way STS does, and the provider's error
// says which step failed, with AWS's code and what the token claims (never the token).
func TestWebIdentity_Refusals(t *testing.T) {
	w := newAuthWorld(t)
	now := time.Now()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := awsemu.Token{Subject: tfcSubject, Audience: "aws.workload.identity", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	wrongSub, wrongAud, expired := good, good, good
	wrongSub.Subject = "organization:evil:project:Default:workspace:clusters:run_phase:apply"
	wrongAud.Audience = "sts.amazonaws.com"
	expired.IssuedAt, expired.ExpiresAt = now.Add(-2*time.Hour), now.Add(-time.Hour)
	cases := []struct {
		name, token, code, want string
	}{
		{"subject not in the trust policy", w.issuer.Mint(wrongSub), "AccessDenied", `subject "organization:evil:project:Default:workspace:clusters:run_phase:apply"`},
		{"audience of no OIDC provider", w.issuer.Mint(wrongAud), "InvalidIdentityToken", `audience "sts.amazonaws.com"`},
		{"expired", w.issuer.Mint(expired), "ExpiredTokenException", "Token expired"},
		{"signed with another key", w.issuer.MintWithKey(other, good), "InvalidIdentityToken", "could not be validated"},
		{"not a JWT", "not-a-token", "InvalidIdentityToken", "is not a JWT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := NewFactory(w.config(Config{WebIdentity: &WebIdentity{RoleARN: webRole, TokenFile: w.file(t, "token-"+c.code, c.token)},
				AssumeRoles: []AssumeRole{{RoleARN: platformRole}}}))
			sess, err := f.Session(context.Background(), Target{RoleARN: customerRole, ExternalID: "x-123", SessionName: "ck"})
			if err != nil {
				t.Fatal(err)
			}
			err = sess.VerifyAccess(context.Background())
			var ce *CredentialsError
			if !errors.As(err, &ce) || ce.Code != c.code {
				t.Fatalf("err %v, want a CredentialsError %s (the platform's web identity failed, not the customer role)", err, c.code)
			}
			msg := Sanitize(err).Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, "the provider's AWS credentials could not be obtained: assuming role "+webRole+" with a web identity token failed ("+c.code+")") ||
				!strings.Contains(msg, c.want) {
				t.Fatalf("message %q, want the step, the code and %q", msg, c.want)
			}
			if strings.Contains(msg, c.token) || strings.Contains(msg, "eyJ") || strings.Contains(msg, "*stscreds") || strings.Contains(msg, "operation error") {
				t.Fatalf("message holds the token or Go/SDK words: %q", msg)
			}
		})
	}
}

// A token file is read again for each renewal (platforms replace it), and sessions are
// renewed before they expire: with the emulator's sessions 120 times faster, an hour's
// session lasts 30 seconds; the cache asks again a quarter of a lifetime early.
func TestWebIdentity_RenewsWithTheCurrentTokenFile(t *testing.T) {
	w := newAuthWorld(t)
	w.emu.SetSessionSpeed(1800) // 1h -> 2s
	tok := w.file(t, "token", w.token(tfcSubject))
	f := NewFactory(w.config(Config{WebIdentity: &WebIdentity{RoleARN: webRole, TokenFile: tok, SessionName: "renew"}}))
	ctx := context.Background()
	if id := whoami(t, f); !strings.HasSuffix(id.ARN, "/tfc-run/renew") {
		t.Fatalf("identity %+v", id)
	}
	// The platform rotates the token; the next renewal must use the new one (the old one
	// is now refused by the trust policy, so a stale read would fail).
	if err := os.WriteFile(tok, []byte(w.token("organization:acme:project:Default:workspace:other:run_phase:apply")), 0o600); err != nil {
		t.Fatal(err)
	}
	w.emu.AddRole(awsemu.Role{ARN: webRole, WebIdentity: &awsemu.WebIdentityTrust{Issuer: w.issuer.URL(), Audience: "aws.workload.identity",
		Subjects: []string{"organization:acme:project:Default:workspace:other:run_phase:*"}}})
	time.Sleep(2 * time.Second)
	if _, err := f.Identity(ctx); err != nil {
		t.Fatalf("after the session expired: %v", err)
	}
	n := 0
	for _, c := range w.emu.Calls() {
		if c.Action == "AssumeRoleWithWebIdentity" && c.ErrorCode == "" {
			n++
		}
		if c.ErrorCode == "ExpiredToken" {
			t.Errorf("a call was signed with expired credentials: %+v", c)
		}
	}
	if n != 2 {
		t.Fatalf("%d AssumeRoleWithWebIdentity calls, want 2 (one renewal)", n)
	}
}

// Terraform Cloud's dynamic credentials go through the SDK's own web identity provider
// (a shared config file): a refusal still names the role, the token file and the subject.
func TestWebIdentity_SharedConfigRefusalNamesTheSubject(t *testing.T) {
	w := newAuthWorld(t)
	sub := "organization:other-org:project:Default:workspace:clusters:run_phase:apply"
	tok := w.file(t, "tfc/token", w.token(sub))
	conf := w.file(t, "tfc/config", "[default]\nrole_arn = "+webRole+"\nweb_identity_token_file = "+tok+"\n")
	_, err := NewFactory(w.config(Config{SharedConfigFiles: []string{conf}})).Identity(context.Background())
	want := "the provider's AWS credentials could not be obtained: assuming role " + webRole + " with the web identity token of " + tok +
		" failed (AccessDenied): Not authorized to perform sts:AssumeRoleWithWebIdentity. The token presented has issuer"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), `subject "`+sub+`"`) {
		t.Fatalf("err %v\nwant it to start %q and name the subject", err, want)
	}
}
