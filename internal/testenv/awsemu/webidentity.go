package awsemu

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WebIdentityTrust is the web identity statement of a role's trust policy:
// Principal {"Federated": <the OIDC provider of Issuer>}, Action
// sts:AssumeRoleWithWebIdentity, with StringEquals <provider>:aud = Audience and
// StringLike <provider>:sub matching one of Subjects (* and ? wildcards).
type WebIdentityTrust struct {
	Issuer   string
	Audience string
	Subjects []string
}

// AddOIDCProvider registers an IAM OpenID Connect provider for issuerURL with its client
// IDs (the audiences it accepts), as CreateOpenIDConnectProvider does.
func (e *Emulator) AddOIDCProvider(issuerURL string, clientIDs ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.oidc == nil {
		e.oidc = map[string][]string{}
	}
	e.oidc[issuerURL] = slices.Clone(clientIDs)
}

// SetSessionSpeed makes temporary credentials issued from now on last 1/speed of the
// duration they are asked for (speed <= 1: as long as asked): the fast clock of session
// lifetimes, so a test sees credentials expire and renew within seconds while signatures
// and stacks keep the emulator's clock.
func (e *Emulator) SetSessionSpeed(speed float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sessionSpeed = speed
}

// sessionLifetime is how long a session asked for d lasts.
func (e *Emulator) sessionLifetime(d time.Duration) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sessionSpeed > 1 {
		return time.Duration(float64(d) / e.sessionSpeed)
	}
	return d
}

func isWebIdentityRequest(r *http.Request, body []byte) bool {
	return r.Method == http.MethodPost && r.Header.Get("Authorization") == "" && !r.URL.Query().Has("X-Amz-Signature") &&
		queryAction(r, body) == "AssumeRoleWithWebIdentity"
}

type assumeRoleWithWebIdentityResult struct {
	Credentials struct {
		AccessKeyId     string
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
	AssumedRoleUser struct {
		AssumedRoleId string
		Arn           string
	}
	SubjectFromWebIdentityToken string
	Audience                    string
	Provider                    string
	PackedPolicySize            int
}

var errNotAuthorizedWebIdentity = errf(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")

func invalidToken(format string, args ...any) *apiError {
	return errf(400, "InvalidIdentityToken", format, args...)
}

// serveWebIdentity answers an unsigned AssumeRoleWithWebIdentity like STS: the token must
// be an RS256 JWT signed by a key of its issuer's JWKS, the issuer a registered OIDC
// provider, the audience one of its client IDs, the token current, and the role's trust
// policy must name the issuer, the audience and the subject.
func (e *Emulator) serveWebIdentity(w http.ResponseWriter, p url.Values) (string, *apiError) {
	if p.Get("Version") != "2011-06-15" {
		return "", errf(400, "InvalidAction", "Could not find operation AssumeRoleWithWebIdentity for version %s", p.Get("Version"))
	}
	roleARN, session, tok := p.Get("RoleArn"), p.Get("RoleSessionName"), p.Get("WebIdentityToken")
	switch {
	case !p.Has("RoleArn"):
		return "", memberNull("roleArn")
	case !p.Has("RoleSessionName"):
		return "", memberNull("roleSessionName")
	case !sessionNameRE.MatchString(session):
		return "", validationErr("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*", session)
	case !p.Has("WebIdentityToken"):
		return "", memberNull("webIdentityToken")
	case len(tok) < 4 || len(tok) > 20000:
		return "", validationErr("1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000")
	}
	duration := time.Hour
	if p.Has("DurationSeconds") {
		secs, err := strconv.Atoi(p.Get("DurationSeconds"))
		if err != nil || secs < 900 || secs > 43200 {
			return "", validationErr("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200", p.Get("DurationSeconds"))
		}
		duration = time.Duration(secs) * time.Second
	}
	claims, aerr := e.verifyWebIdentityToken(tok)
	if aerr != nil {
		return "", aerr
	}
	e.mu.Lock()
	role, ok := e.roles[roleARN]
	e.mu.Unlock()
	if !ok || role.WebIdentity == nil || role.WebIdentity.Issuer != claims.iss ||
		!slices.Contains(claims.aud, role.WebIdentity.Audience) || !subjectAllowed(role.WebIdentity.Subjects, claims.sub) {
		return "", errNotAuthorizedWebIdentity
	}
	if duration > role.MaxSession {
		return "", validationErr("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	m := roleARNRE.FindStringSubmatch(roleARN)
	if m == nil {
		return "", validationErr("%s is invalid", roleARN)
	}
	c := e.issueSession(roleARN, m[1], m[2], session, duration)
	var res assumeRoleWithWebIdentityResult
	res.Credentials.AccessKeyId, res.Credentials.SecretAccessKey, res.Credentials.SessionToken = c.AccessKeyID, c.Secret, c.SessionToken
	res.Credentials.Expiration = c.Expires.UTC().Format("2006-01-02T15:04:05Z")
	res.AssumedRoleUser.Arn, res.AssumedRoleUser.AssumedRoleId = c.ARN, c.UserID
	res.SubjectFromWebIdentityToken = claims.sub
	res.Audience = role.WebIdentity.Audience
	res.Provider = providerARN(m[1], claims.iss)
	writeXML(w, "AssumeRoleWithWebIdentity", stsNS, res)
	return c.ARN, nil
}

func providerARN(account, issuer string) string {
	return fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", account, strings.TrimPrefix(strings.TrimPrefix(issuer, "https://"), "http://"))
}

// issueSession records and returns new temporary credentials of a role session.
func (e *Emulator) issueSession(roleARN, acct, roleName, session string, duration time.Duration) *credential {
	tok := make([]byte, 96)
	_, _ = rand.Read(tok)
	c := &credential{
		AccessKeyID:  "ASIA" + randString(16, alnum),
		Secret:       randString(40, alnum+"abcdefghijklmnopqrstuvwxyz+/"),
		SessionToken: "IQoJb3JpZ2luX2Vj" + base64.StdEncoding.EncodeToString(tok),
		Expires:      e.now().Add(e.sessionLifetime(duration)),
		principal: principal{
			Account: acct,
			ARN:     fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", acct, roleName, session),
			UserID:  stableID("AROA", roleARN, 17) + ":" + session,
		},
	}
	e.mu.Lock()
	e.creds[c.AccessKeyID] = c
	e.mu.Unlock()
	return c
}

// subjectAllowed applies StringLike: * matches any run of characters, ? one.
func subjectAllowed(patterns []string, sub string) bool {
	for _, p := range patterns {
		if ok, err := path.Match(strings.ReplaceAll(p, "/", "\x00"), strings.ReplaceAll(sub, "/", "\x00")); err == nil && ok {
			return true
		}
	}
	return false
}

type webClaims struct {
	iss, sub string
	aud      []string
}

func (e *Emulator) verifyWebIdentityToken(tok string) (webClaims, *apiError) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return webClaims{}, invalidToken("The web identity token that was passed is not a valid JWT.")
	}
	var hdr struct{ Alg, Kid string }
	var raw struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp *int64          `json:"exp"`
		Nbf *int64          `json:"nbf"`
		Iat *int64          `json:"iat"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(pb, &raw) != nil {
		return webClaims{}, invalidToken("The web identity token that was passed is not a valid JWT.")
	}
	if hdr.Alg != "RS256" {
		return webClaims{}, invalidToken("The web identity token was signed with an unsupported algorithm %q.", hdr.Alg)
	}
	e.mu.Lock()
	clientIDs, known := e.oidc[raw.Iss]
	e.mu.Unlock()
	if !known {
		return webClaims{}, invalidToken("No OpenIDConnect provider found in your account for %s", raw.Iss)
	}
	keys, err := fetchJWKS(raw.Iss)
	if err != nil {
		return webClaims{}, errf(400, "IDPCommunicationError", "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements")
	}
	key, ok := keys[hdr.Kid]
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ok || rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) != nil {
		return webClaims{}, invalidToken("The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.")
	}
	now := e.now()
	if raw.Exp == nil {
		return webClaims{}, invalidToken("The web identity token that was passed has no expiration.")
	}
	if exp := time.Unix(*raw.Exp, 0).UTC(); !now.Before(exp) {
		return webClaims{}, errf(400, "ExpiredTokenException", "Token expired: current date/time %d must be before the expiration date/time %d", now.Unix(), *raw.Exp)
	}
	for _, t := range []*int64{raw.Nbf, raw.Iat} {
		if t != nil && time.Unix(*t, 0).After(now.Add(maxSkew)) {
			return webClaims{}, invalidToken("The web identity token that was passed is not yet valid.")
		}
	}
	var aud []string
	if json.Unmarshal(raw.Aud, &aud) != nil {
		var one string
		if json.Unmarshal(raw.Aud, &one) != nil || one == "" {
			return webClaims{}, invalidToken("Incorrect token audience")
		}
		aud = []string{one}
	}
	if !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(clientIDs, a) }) {
		return webClaims{}, invalidToken("Incorrect token audience")
	}
	if raw.Sub == "" {
		return webClaims{}, invalidToken("The web identity token that was passed has no subject.")
	}
	return webClaims{iss: raw.Iss, sub: raw.Sub, aud: aud}, nil
}
