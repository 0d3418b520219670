package cloud

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// authWorld is an emulated AWS with an OIDC issuer: the platform account's users, a
// platform role, a web identity role, and the customer's provisioning role.
type authWorld struct {
	emu    *awsemu.Emulator
	issuer *awsemu.Issuer
	dir    string
	// Users of the platform account, by name: access key and secret.
	keys map[string][2]string
}

const (
	platformRole = "arn:aws:iam::111111111111:role/platform"
	webRole      = "arn:aws:iam::111111111111:role/tfc-run"
	customerRole = "arn:aws:iam::222222222222:role/customer"
	tfcSubject   = "organization:acme:project:Default:workspace:clusters:run_phase:apply"
)

// isolatedEnv clears every AWS_* variable the SDK reads and points HOME at an empty
// directory, so only what a test sets is a source.
func isolatedEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			_ = os.Unsetenv(k)
		}
	}
	t.Setenv("HOME", home)
	// The SDK's default file paths are fixed when it starts: its variables move them.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, ".aws", "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, ".aws", "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return home
}

func newAuthWorld(t *testing.T) *authWorld {
	t.Helper()
	w := &authWorld{dir: isolatedEnv(t), keys: map[string][2]string{}}
	emu, err := awsemu.Start(awsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	key, err := awsemu.GenerateIssuerKey()
	if err != nil {
		t.Fatal(err)
	}
	iss, err := awsemu.StartIssuer("", key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = iss.Close() })
	w.emu, w.issuer = emu, iss
	for _, u := range []string{"config-user", "env-user", "profile-user", "source-user"} {
		k, s := emu.AddUser("111111111111", u)
		w.keys[u] = [2]string{k, s}
	}
	emu.AddOIDCProvider(iss.URL(), "aws.workload.identity")
	emu.AddRole(awsemu.Role{ARN: platformRole, TrustedAccounts: []string{"111111111111"}})
	emu.AddRole(awsemu.Role{ARN: webRole, WebIdentity: &awsemu.WebIdentityTrust{Issuer: iss.URL(), Audience: "aws.workload.identity",
		Subjects: []string{"organization:acme:project:*:workspace:*:run_phase:*"}}})
	emu.AddRole(awsemu.Role{ARN: customerRole, TrustedAccounts: []string{"111111111111"}, ExternalID: "x-123"})
	return w
}

func (w *authWorld) file(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(w.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *authWorld) token(sub string) string {
	now := time.Now()
	return w.issuer.Mint(awsemu.Token{Subject: sub, Audience: "aws.workload.identity", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
}

func (w *authWorld) config(c Config) Config {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	c.Endpoints = Endpoints{STS: w.emu.URL(), CloudFormation: w.emu.URL(), EKS: w.emu.URL()}
	return c
}

// whoami is the identity the factory's base credentials sign as, over signed HTTP.
func whoami(t *testing.T, f *Factory) Identity {
	t.Helper()
	id, err := f.Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func userARN(name string) string { return "arn:aws:iam::111111111111:user/" + name }

// One test per authentication setting: who AWS sees, and which source the SDK says won.
func TestAuth_SourceThatWins(t *testing.T) {
	t.Run("access_key and secret_key win over the environment", func(t *testing.T) {
		w := newAuthWorld(t)
		t.Setenv("AWS_ACCESS_KEY_ID", w.keys["env-user"][0])
		t.Setenv("AWS_SECRET_ACCESS_KEY", w.keys["env-user"][1])
		id := whoami(t, NewFactory(w.config(Config{AccessKey: w.keys["config-user"][0], SecretKey: w.keys["config-user"][1]})))
		if id.ARN != userARN("config-user") || id.Source != "StaticCredentials" {
			t.Fatalf("identity %+v, want config-user from StaticCredentials", id)
		}
	})
	t.Run("token goes with access_key (temporary keys)", func(t *testing.T) {
		w := newAuthWorld(t)
		// Temporary keys of the platform role, as a CI system would hand them over.
		tmp := NewFactory(w.config(Config{AccessKey: w.keys["config-user"][0], SecretKey: w.keys["config-user"][1],
			AssumeRoles: []AssumeRole{{RoleARN: platformRole, SessionName: "handed-over"}}}))
		base, err := tmp.Base(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		creds, err := base.Credentials.Retrieve(context.Background())
		if err != nil || creds.SessionToken == "" {
			t.Fatalf("no temporary credentials: %v", err)
		}
		id := whoami(t, NewFactory(w.config(Config{AccessKey: creds.AccessKeyID, SecretKey: creds.SecretAccessKey, Token: creds.SessionToken})))
		if id.ARN != "arn:aws:sts::111111111111:assumed-role/platform/handed-over" {
			t.Fatalf("identity %+v, want the platform role session the keys belong to", id)
		}
		// Without the token the emulator refuses the temporary key, as STS does.
		_, err = NewFactory(w.config(Config{AccessKey: creds.AccessKeyID, SecretKey: creds.SecretAccessKey})).Identity(context.Background())
		if err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
			t.Fatalf("temporary keys without token: %v, want InvalidClientTokenId", err)
		}
	})
	t.Run("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN", func(t *testing.T) {
		w := newAuthWorld(t)
		t.Setenv("AWS_ACCESS_KEY_ID", w.keys["env-user"][0])
		t.Setenv("AWS_SECRET_ACCESS_KEY", w.keys["env-user"][1])
		w.file(t, ".aws/credentials", "[default]\naws_access_key_id = "+w.keys["profile-user"][0]+"\naws_secret_access_key = "+w.keys["profile-user"][1]+"\n")
		id := whoami(t, NewFactory(w.config(Config{})))
		if id.ARN != userARN("env-user") || id.Source != "EnvConfigCredentials" {
			t.Fatalf("identity %+v, want env-user from EnvConfigCredentials (the environment wins over the default profile)", id)
		}
	})
	t.Run("profile set in the configuration wins over the environment's keys", func(t *testing.T) {
		w := newAuthWorld(t)
		t.Setenv("AWS_ACCESS_KEY_ID", w.keys["env-user"][0])
		t.Setenv("AWS_SECRET_ACCESS_KEY", w.keys["env-user"][1])
		w.file(t, ".aws/credentials", "[ops]\naws_access_key_id = "+w.keys["profile-user"][0]+"\naws_secret_access_key = "+w.keys["profile-user"][1]+"\n")
		id := whoami(t, NewFactory(w.config(Config{Profile: "ops"})))
		if id.ARN != userARN("profile-user") || !strings.HasPrefix(id.Source, "SharedConfigCredentials") {
			t.Fatalf("identity %+v, want profile-user from the shared credentials file", id)
		}
	})
	t.Run("AWS_PROFILE with shared_config_files and shared_credentials_files", func(t *testing.T) {
		w := newAuthWorld(t)
		// The default locations hold another user: the listed files must be the ones read.
		w.file(t, ".aws/credentials", "[ops]\naws_access_key_id = "+w.keys["env-user"][0]+"\naws_secret_access_key = "+w.keys["env-user"][1]+"\n")
		creds := w.file(t, "elsewhere/creds", "[ops]\naws_access_key_id = "+w.keys["profile-user"][0]+"\naws_secret_access_key = "+w.keys["profile-user"][1]+"\n")
		conf := w.file(t, "elsewhere/config", "[profile ops]\nregion = eu-west-2\n")
		t.Setenv("AWS_PROFILE", "ops")
		id := whoami(t, NewFactory(w.config(Config{SharedConfigFiles: []string{conf}, SharedCredentialsFiles: []string{creds}})))
		if id.ARN != userARN("profile-user") || id.Source != "SharedConfigCredentials: "+creds {
			t.Fatalf("identity %+v, want profile-user from %s", id, creds)
		}
	})
	t.Run("assume_role blocks are chained", func(t *testing.T) {
		w := newAuthWorld(t)
		f := NewFactory(w.config(Config{AccessKey: w.keys["config-user"][0], SecretKey: w.keys["config-user"][1], AssumeRoles: []AssumeRole{
			{RoleARN: platformRole, SessionName: "first"},
			{RoleARN: customerRole, ExternalID: "x-123", SessionName: "second", Duration: 30 * time.Minute},
		}}))
		id := whoami(t, f)
		if id.ARN != "arn:aws:sts::222222222222:assumed-role/customer/second" || id.Source != stscreds.ProviderName {
			t.Fatalf("identity %+v, want the second role's session from %s", id, stscreds.ProviderName)
		}
		var callers []string
		for _, c := range w.emu.Calls() {
			if c.Action == "AssumeRole" && c.ErrorCode == "" {
				callers = append(callers, c.Principal)
			}
		}
		want := []string{userARN("config-user"), "arn:aws:sts::111111111111:assumed-role/platform/first"}
		if strings.Join(callers, " ") != strings.Join(want, " ") {
			t.Fatalf("AssumeRole callers %q, want %q: each role with the credentials of the one before", callers, want)
		}
	})
	t.Run("assume_role_with_web_identity from a token file wins over keys", func(t *testing.T) {
		w := newAuthWorld(t)
		t.Setenv("AWS_ACCESS_KEY_ID", w.keys["env-user"][0])
		t.Setenv("AWS_SECRET_ACCESS_KEY", w.keys["env-user"][1])
		tok := w.file(t, "token", w.token(tfcSubject))
		id := whoami(t, NewFactory(w.config(Config{WebIdentity: &WebIdentity{RoleARN: webRole, TokenFile: tok, SessionName: "run-1"}})))
		if id.ARN != "arn:aws:sts::111111111111:assumed-role/tfc-run/run-1" || id.Source != stscreds.WebIdentityProviderName {
			t.Fatalf("identity %+v, want the web identity role", id)
		}
	})
	t.Run("assume_role_with_web_identity with the token itself", func(t *testing.T) {
		w := newAuthWorld(t)
		id := whoami(t, NewFactory(w.config(Config{WebIdentity: &WebIdentity{RoleARN: webRole, Token: w.token(tfcSubject), SessionName: "run-2"}})))
		if id.ARN != "arn:aws:sts::111111111111:assumed-role/tfc-run/run-2" {
			t.Fatalf("identity %+v", id)
		}
	})
	// The SDK's own web identity provider builds its own STS client: endpoints.sts must
	// reach it (without, it would call sts.us-east-1.amazonaws.com).
	t.Run("AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, through endpoints.sts", func(t *testing.T) {
		w := newAuthWorld(t)
		t.Setenv("AWS_ROLE_ARN", webRole)
		t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", w.file(t, "token", w.token(tfcSubject)))
		t.Setenv("AWS_ROLE_SESSION_NAME", "env-session")
		id := whoami(t, NewFactory(w.config(Config{})))
		if id.ARN != "arn:aws:sts::111111111111:assumed-role/tfc-run/env-session" || id.Source != stscreds.WebIdentityProviderName {
			t.Fatalf("identity %+v, want the web identity role from the environment", id)
		}
	})
	t.Run("shared config profile with role_arn and web_identity_token_file (Terraform Cloud)", func(t *testing.T) {
		w := newAuthWorld(t)
		tok := w.file(t, "tfc/token", w.token(tfcSubject))
		conf := w.file(t, "tfc/config", "[default]\nrole_arn = "+webRole+"\nweb_identity_token_file = "+tok+"\n")
		id := whoami(t, NewFactory(w.config(Config{SharedConfigFiles: []string{conf}})))
		if !strings.HasPrefix(id.ARN, "arn:aws:sts::111111111111:assumed-role/tfc-run/") || id.Source != stscreds.WebIdentityProviderName {
			t.Fatalf("identity %+v, want the web identity role of the shared configuration", id)
		}
	})
	t.Run("shared config profile with role_arn and source_profile, through endpoints.sts", func(t *testing.T) {
		w := newAuthWorld(t)
		w.file(t, ".aws/credentials", "[base]\naws_access_key_id = "+w.keys["source-user"][0]+"\naws_secret_access_key = "+w.keys["source-user"][1]+"\n")
		w.file(t, ".aws/config", "[profile deploy]\nrole_arn = "+platformRole+"\nsource_profile = base\nrole_session_name = from-profile\n")
		id := whoami(t, NewFactory(w.config(Config{Profile: "deploy"})))
		if id.ARN != "arn:aws:sts::111111111111:assumed-role/platform/from-profile" || id.Source != stscreds.ProviderName {
			t.Fatalf("identity %+v, want the profile's role", id)
		}
	})
}

func TestAuth_RegionSource(t *testing.T) {
	w := newAuthWorld(t)
	conf := w.file(t, ".aws/config", "[default]\nregion = eu-central-1\n[profile ops]\nregion = ap-south-1\n")
	cases := []struct {
		name       string
		cfg        Config
		env        map[string]string
		want, from string
	}{
		{"region setting", Config{Region: "us-west-2", Profile: "ops"}, map[string]string{"AWS_REGION": "eu-west-1"}, "us-west-2", "region"},
		{"AWS_REGION", Config{Profile: "ops"}, map[string]string{"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-north-1"}, "eu-west-1", "AWS_REGION"},
		{"AWS_DEFAULT_REGION", Config{Profile: "ops"}, map[string]string{"AWS_DEFAULT_REGION": "eu-north-1"}, "eu-north-1", "AWS_DEFAULT_REGION"},
		{"profile setting", Config{Profile: "ops"}, nil, "ap-south-1", "profile ops"},
		{"AWS_PROFILE", Config{}, map[string]string{"AWS_PROFILE": "ops"}, "ap-south-1", "profile ops"},
		{"default profile", Config{}, nil, "eu-central-1", "profile default"},
		{"shared_config_files", Config{SharedConfigFiles: []string{w.file(t, "other", "[default]\nregion = sa-east-1\n")}}, nil, "sa-east-1", "profile default"},
		{"AWS_CONFIG_FILE", Config{}, map[string]string{"AWS_CONFIG_FILE": w.file(t, "other2", "[default]\nregion = ca-central-1\n")}, "ca-central-1", "profile default"},
	}
	_ = conf
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			got, from, err := ResolveRegion(context.Background(), c.cfg)
			if err != nil || got != c.want || from != c.from {
				t.Fatalf("region %q from %q (%v), want %q from %q", got, from, err, c.want, c.from)
			}
		})
	}
	t.Run("missing profile", func(t *testing.T) {
		_, _, err := ResolveRegion(context.Background(), Config{Profile: "nope"})
		var ce *CredentialsError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "profile nope") {
			t.Fatalf("err %v, want a CredentialsError naming the profile", err)
		}
	})
	t.Run("no shared configuration at all", func(t *testing.T) {
		isolatedEnv(t)
		got, _, err := ResolveRegion(context.Background(), Config{})
		if err != nil || got != "" {
			t.Fatalf("region %q, %v: want none and no error", got, err)
		}
	})
}

func TestAuth_RetryModeSource(t *testing.T) {
	w := newAuthWorld(t)
	mode := func(c Config) aws.RetryMode {
		cfg, err := NewFactory(w.config(c)).Base(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return cfg.RetryMode
	}
	t.Setenv("AWS_RETRY_MODE", "adaptive")
	if got := mode(Config{}); got != aws.RetryModeAdaptive {
		t.Errorf("AWS_RETRY_MODE=adaptive: mode %q", got)
	}
	if got := mode(Config{RetryMode: "standard"}); got != aws.RetryModeStandard {
		t.Errorf("retry_mode = standard with AWS_RETRY_MODE=adaptive: mode %q, want the setting's", got)
	}
	_, err := NewFactory(w.config(Config{RetryMode: "sometimes"})).Base(context.Background())
	if err == nil || !strings.Contains(err.Error(), "retry_mode must be standard or adaptive") {
		t.Errorf("bad retry_mode: %v", err)
	}
}

func TestAuth_AssumeRoleOptions(t *testing.T) {
	var o stscreds.AssumeRoleOptions
	AssumeRole{RoleARN: platformRole, ExternalID: "x", SessionName: "s", Duration: time.Hour, Policy: `{"Version":"2012-10-17"}`,
		PolicyARNs: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}, SourceIdentity: "alice",
		Tags: map[string]string{"team": "platform", "env": "prod"}, TransitiveTagKeys: []string{"team"}}.options(&o)
	if aws.ToString(o.ExternalID) != "x" || o.RoleSessionName != "s" || o.Duration != time.Hour || aws.ToString(o.Policy) == "" ||
		len(o.PolicyARNs) != 1 || aws.ToString(o.SourceIdentity) != "alice" || len(o.Tags) != 2 || aws.ToString(o.Tags[0].Key) != "env" ||
		len(o.TransitiveTagKeys) != 1 {
		t.Fatalf("options %+v", o)
	}
	var d stscreds.AssumeRoleOptions
	AssumeRole{RoleARN: platformRole}.options(&d)
	if d.Duration != time.Hour {
		t.Fatalf("default duration %s, want the documented 1h (the SDK's own default is 15m)", d.Duration)
	}
}

// The SDK builds its web identity STS client before it attaches the endpoint variables
// to the configuration: AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL must still reach it
// (before: it called sts.us-east-1.amazonaws.com, found by the Terraform Cloud test).
func TestAuth_EndpointVariablesReachTheSDKsSTSClients(t *testing.T) {
	for _, env := range []string{"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"} {
		t.Run(env, func(t *testing.T) {
			w := newAuthWorld(t)
			t.Setenv(env, w.emu.URL())
			t.Setenv("AWS_ROLE_ARN", webRole)
			t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", w.file(t, "token", w.token(tfcSubject)))
			c := w.config(Config{})
			c.Endpoints = Endpoints{}
			id := whoami(t, NewFactory(c))
			if !strings.Contains(id.ARN, ":assumed-role/tfc-run/") {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

// custom_ca_bundle and AWS_CA_BUNDLE: the emulator behind TLS with a certificate of its
// own authority is trusted only through one of them, and the setting wins.
func TestAuth_CustomCABundleSource(t *testing.T) {
	w := newAuthWorld(t)
	target, err := url.Parse(w.emu.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // the Host the request was signed for
	}}
	srv := httptest.NewTLSServer(proxy)
	defer srv.Close()
	ca := w.file(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	other := w.file(t, "other.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherCert(t)})))
	cfg := func(bundle string) Config {
		return Config{Region: "us-east-1", AccessKey: w.keys["config-user"][0], SecretKey: w.keys["config-user"][1], CustomCABundle: bundle,
			Endpoints: Endpoints{STS: srv.URL}, MaxRetries: 1}
	}
	if _, err := NewFactory(cfg("")).Identity(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without a bundle: %v, want a certificate error", err)
	}
	if id := whoami(t, NewFactory(cfg(ca))); id.ARN != userARN("config-user") {
		t.Fatalf("custom_ca_bundle: %+v", id)
	}
	t.Setenv("AWS_CA_BUNDLE", ca)
	if id := whoami(t, NewFactory(cfg(""))); id.ARN != userARN("config-user") {
		t.Fatalf("AWS_CA_BUNDLE: %+v", id)
	}
	t.Setenv("AWS_CA_BUNDLE", other)
	if _, err := NewFactory(cfg("")).Identity(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("AWS_CA_BUNDLE of another authority: %v, want a certificate error", err)
	}
	if id := whoami(t, NewFactory(cfg(ca))); id.ARN != userARN("config-user") {
		t.Fatalf("custom_ca_bundle over AWS_CA_BUNDLE: %+v", id)
	}
	_, err = NewFactory(cfg(filepath.Join(w.dir, "missing.pem"))).Base(context.Background())
	if err == nil || !strings.Contains(err.Error(), "reading custom_ca_bundle") || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("missing bundle: %v", err)
	}
}

// otherCert is a self-signed certificate of an unrelated authority (every httptest
// server shares one certificate, so it cannot be another server's).
func otherCert(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "other CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// OnCredentials hears which step and source produced credentials, once per new set.
func TestAuth_CredentialsEventsNameTheSource(t *testing.T) {
	w := newAuthWorld(t)
	var events []CredentialsEvent
	c := w.config(Config{AccessKey: w.keys["config-user"][0], SecretKey: w.keys["config-user"][1],
		AssumeRoles: []AssumeRole{{RoleARN: platformRole, SessionName: "ev"}}})
	c.OnCredentials = func(_ context.Context, e CredentialsEvent) { events = append(events, e) }
	f := NewFactory(c)
	whoami(t, f)
	whoami(t, f)
	if len(events) != 2 || events[0].Step != "using access_key and secret_key" || events[0].Source != "StaticCredentials" ||
		events[1].Step != "assuming role "+platformRole+" (assume_role)" || events[1].Source != stscreds.ProviderName || !events[1].CanExpire {
		t.Fatalf("events %+v", events)
	}
}
