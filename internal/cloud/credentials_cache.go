package cloud

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
)

// renewingCache holds one set of temporary credentials and asks for new ones when they
// near their expiry on the factory's clock: credentialsRefreshWindow before it, or a
// quarter of their lifetime when that is shorter. Like the SDK's cache, it reports that
// earlier moment as their Expires, so nothing is signed with credentials about to lapse.
type renewingCache struct {
	provider aws.CredentialsProvider
	clock    Clock

	mu    sync.Mutex
	creds aws.Credentials
	have  bool
}

func newRenewingCache(p aws.CredentialsProvider, clock Clock) *renewingCache {
	if clock == nil {
		clock = RealClock
	}
	return &renewingCache{provider: p, clock: clock}
}

func (c *renewingCache) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.have && (!c.creds.CanExpire || now.Before(c.creds.Expires)) {
		return c.creds, nil
	}
	creds, err := c.provider.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	if creds.CanExpire {
		window := credentialsRefreshWindow
		if life := creds.Expires.Sub(now); life/4 < window {
			window = max(life/4, 0)
		}
		creds.Expires = creds.Expires.Add(-window)
	}
	c.creds, c.have = creds, true
	return creds, nil
}

// stagedCredentials names the step of the base credentials a provider is, so a failure
// says which one failed (and is not taken for the customer role's).
type stagedCredentials struct {
	stage       string
	inner       aws.CredentialsProvider
	webIdentity bool
	token       interface{ GetIdentityToken() ([]byte, error) }
	// sdkWebIdentity is the web identity the SDK's own chain may use (AWS_ROLE_ARN and
	// AWS_WEB_IDENTITY_TOKEN_FILE, or a profile's role_arn and web_identity_token_file).
	sdkWebIdentity *sdkWebIdentity
	observe        CredentialsObserver

	mu      sync.Mutex
	lastKey string
}

// CredentialsEvent says that a step of the provider's own credentials produced new
// credentials (the first ones, or a renewal): which step, the SDK's name of the source,
// and when they will be renewed. It holds no part of the credentials.
type CredentialsEvent struct {
	Step      string
	Source    string
	CanExpire bool
	Expires   time.Time
}

// CredentialsObserver hears of every CredentialsEvent; it must not block.
type CredentialsObserver func(ctx context.Context, e CredentialsEvent)

type sdkWebIdentity struct {
	role string
	file tokenFile
}

func (s *stagedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := s.inner.Retrieve(ctx)
	if err == nil {
		s.mu.Lock()
		fresh := creds.AccessKeyID != s.lastKey
		s.lastKey = creds.AccessKeyID
		s.mu.Unlock()
		if fresh && s.observe != nil {
			s.observe(ctx, CredentialsEvent{Step: s.stage, Source: creds.Source, CanExpire: creds.CanExpire, Expires: creds.Expires})
		}
		return creds, nil
	}
	var earlier *CredentialsError
	if errors.As(err, &earlier) {
		return aws.Credentials{}, earlier // an earlier step failed: that is the news
	}
	ce := &CredentialsError{Stage: s.stage}
	var api smithy.APIError
	var op *smithy.OperationError
	switch {
	case errors.As(err, &api):
		ce.Code, ce.Reason = api.ErrorCode(), scrub(api.ErrorMessage())
	case errors.As(err, &op) && httpStatus(err) != 0:
		ce.Reason = fmt.Sprintf("%s %s answered HTTP %d, not as AWS does (check endpoints.sts)", op.Service(), op.Operation(), httpStatus(err))
	case errors.As(err, &op):
		ce.Reason = fmt.Sprintf("no answer from %s %s: %s", op.Service(), op.Operation(), transportCause(err))
	default:
		ce.Reason = credentialsReason(err)
	}
	if s.token == nil && s.sdkWebIdentity != nil && errors.As(err, &op) && op.Operation() == "AssumeRoleWithWebIdentity" {
		ce.Stage = "assuming role " + s.sdkWebIdentity.role + " with the web identity token of " + string(s.sdkWebIdentity.file)
		if tok, terr := s.sdkWebIdentity.file.GetIdentityToken(); terr == nil {
			ce.Token = describeToken(string(tok))
		}
	}
	if s.webIdentity && s.token != nil {
		if tok, terr := s.token.GetIdentityToken(); terr == nil {
			ce.Token = describeToken(string(tok))
		}
	}
	return aws.Credentials{}, ce
}

// credentialsReason is the innermost useful words of a credential provider's error.
func credentialsReason(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"failed to refresh cached credentials, ", "failed to retrieve credentials, "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return scrub(msg)
}

// CredentialsError says that the provider's own (platform) credentials could not be
// obtained, at which step, and why: AWS's error code and message, or the local reason
// (a missing file, no source of credentials). It never holds a secret.
type CredentialsError struct {
	Stage  string // e.g. "assuming role arn:... with a web identity token"
	Code   string // AWS error code, when AWS refused
	Reason string
	Token  string // what the web identity token claims (issuer, audience, subject), when one was sent
}

func (e *CredentialsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the provider's AWS credentials could not be obtained: %s failed", e.Stage)
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Reason != "" {
		b.WriteString(": " + strings.TrimSuffix(e.Reason, "."))
	}
	b.WriteString(".")
	if e.Token != "" {
		b.WriteString(" The token presented " + e.Token + ".")
		switch e.Code {
		case "AccessDenied":
			b.WriteString(" The role's trust policy must allow this issuer, audience and subject (for Terraform Cloud the subject is " +
				"organization:<org>:project:<project>:workspace:<workspace>:run_phase:<plan|apply>).")
		case "InvalidIdentityToken":
			b.WriteString(" The account needs an IAM OpenID Connect provider for this issuer with this audience, and the token must be signed by the issuer's current key.")
		case "ExpiredTokenException":
			b.WriteString(" The token has expired: the platform that issues it must write a fresh one (Terraform Cloud does for each run).")
		}
	}
	return b.String()
}

// describeToken reads a JWT's public claims (never its signature) for a diagnostic.
func describeToken(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "is not a JWT"
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "is not a JWT"
	}
	var claims struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp int64           `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return "is not a JWT"
	}
	var aud []string
	if json.Unmarshal(claims.Aud, &aud) != nil {
		var one string
		_ = json.Unmarshal(claims.Aud, &one)
		aud = []string{one}
	}
	clip := func(s string) string {
		if len(s) > 200 {
			return s[:200] + "…"
		}
		return s
	}
	out := fmt.Sprintf("has issuer %q, audience %q and subject %q", clip(claims.Iss), clip(strings.Join(aud, ",")), clip(claims.Sub))
	if claims.Exp > 0 {
		out += ", expiring " + time.Unix(claims.Exp, 0).UTC().Format(time.RFC3339)
	}
	return out
}
