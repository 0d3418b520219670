package awsemu

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Role is an IAM role principals of other accounts may assume.
type Role struct {
	ARN             string        // arn:aws:iam::<acct>:role/<name>
	TrustedAccounts []string      // accounts whose principals may assume it
	ExternalID      string        // required (and must match exactly) when non-empty
	MaxSession      time.Duration // default 1h
	// WebIdentity, when set, lets tokens of an OIDC provider assume the role with
	// AssumeRoleWithWebIdentity under its conditions.
	WebIdentity *WebIdentityTrust
}

const (
	stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"
	cfnNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
)

var (
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	externalIDRE  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	roleARNRE     = regexp.MustCompile(`^arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$`)
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// stableID derives an AWS-looking unique ID from seed, so the same role or user
// always gets the same ID.
func stableID(prefix, seed string, n int) string {
	sum := sha256.Sum256([]byte(seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[int(sum[i%len(sum)])%len(alnum)]
	}
	return prefix + string(b)
}

// AddUser registers a long-term IAM user access key in accountID.
func (e *Emulator) AddUser(accountID, name string) (accessKeyID, secretKey string) {
	return e.AddUserKey(accountID, name, "AKIA"+randString(16, alnum), randString(40, alnum+"abcdefghijklmnopqrstuvwxyz+/"))
}

// AddUserKey registers a user with keys chosen by the caller (a stack started in another
// process hands them over this way).
func (e *Emulator) AddUserKey(accountID, name, accessKeyID, secretKey string) (string, string) {
	c := &credential{
		AccessKeyID: accessKeyID,
		Secret:      secretKey,
		principal: principal{
			Account: accountID,
			ARN:     fmt.Sprintf("arn:aws:iam::%s:user/%s", accountID, name),
			UserID:  stableID("AIDA", accountID+"/"+name, 17),
		},
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.creds[c.AccessKeyID] = c
	return c.AccessKeyID, c.Secret
}

// AddRole registers (or replaces) an assumable role.
func (e *Emulator) AddRole(r Role) {
	if r.MaxSession == 0 {
		r.MaxSession = time.Hour
	}
	r.TrustedAccounts = slices.Clone(r.TrustedAccounts)
	if r.WebIdentity != nil {
		w := *r.WebIdentity
		w.Subjects = slices.Clone(w.Subjects)
		r.WebIdentity = &w
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.roles[r.ARN] = r
}

// CanonicalRoleARN turns arn:aws:sts::<acct>:assumed-role/<role>/<session>
// into arn:aws:iam::<acct>:role/<role>, the form aws-auth mapRoles matches.
// Any other ARN is returned unchanged.
func CanonicalRoleARN(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[2] != "sts" || !strings.HasPrefix(parts[5], "assumed-role/") {
		return arn
	}
	res := strings.Split(parts[5], "/")
	if len(res) != 3 {
		return arn
	}
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", parts[1], parts[4], res[1])
}

// queryParams returns the Query-protocol parameters of a request: the form body
// of a POST, or the query string (minus signing parameters) of a presigned GET.
func queryParams(r *http.Request, body []byte) url.Values {
	if r.Method == http.MethodPost {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return url.Values{}
		}
		return v
	}
	v := r.URL.Query()
	for k := range v {
		if strings.HasPrefix(k, "X-Amz-") {
			v.Del(k)
		}
	}
	return v
}

func queryAction(r *http.Request, body []byte) string {
	return queryParams(r, body).Get("Action")
}

func (e *Emulator) serveQuery(w http.ResponseWriter, r *http.Request, body []byte, sig *sigInfo, caller principal, action string) *apiError {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return errf(405, "InvalidAction", "Method %s is not allowed", r.Method)
	}
	p := queryParams(r, body)
	version, ns := "2011-06-15", stsNS
	if sig.service == "cloudformation" {
		version, ns = "2010-05-15", cfnNS
	}
	if p.Get("Version") != version {
		return errf(400, "InvalidAction", "Could not find operation %s for version %s", action, p.Get("Version"))
	}
	var result any
	var aerr *apiError
	switch sig.service + "/" + action {
	case "sts/AssumeRole":
		result, aerr = e.assumeRole(p, caller)
	case "sts/GetCallerIdentity":
		result = getCallerIdentityResult{Arn: caller.ARN, UserId: caller.UserID, Account: caller.Account}
	case "cloudformation/CreateStack":
		result, aerr = e.createStack(p, caller)
	case "cloudformation/UpdateStack":
		result, aerr = e.updateStack(p, caller)
	case "cloudformation/DeleteStack":
		aerr = e.deleteStack(p, caller)
	case "cloudformation/DescribeStacks":
		result, aerr = e.describeStacks(p, caller)
	case "cloudformation/DescribeStackEvents":
		result, aerr = e.describeStackEvents(p, caller)
	case "cloudformation/GetTemplate":
		result, aerr = e.getTemplate(p, caller)
	default:
		return errf(400, "InvalidAction", "Could not find operation %s for version %s", action, version)
	}
	if aerr != nil {
		return aerr
	}
	writeXML(w, action, ns, result)
	return nil
}

// writeXML writes a Query-protocol success envelope around result.
func writeXML(w http.ResponseWriter, action, ns string, result any) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "<%sResponse xmlns=\"%s\">\n", action, ns)
	if result != nil {
		enc := xml.NewEncoder(w)
		_ = enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
		_ = enc.Flush()
	}
	fmt.Fprintf(w, "\n<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>\n</%sResponse>\n",
		w.Header().Get("X-Amzn-RequestId"), action)
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

type getCallerIdentityResult struct {
	Arn     string
	UserId  string
	Account string
}

type assumeRoleResult struct {
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
	PackedPolicySize int
}

func memberNull(field string) *apiError {
	return validationErr("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
}

func (e *Emulator) assumeRole(p url.Values, caller principal) (any, *apiError) {
	roleARN, session, extID := p.Get("RoleArn"), p.Get("RoleSessionName"), p.Get("ExternalId")
	switch {
	case !p.Has("RoleArn"):
		return nil, memberNull("roleArn")
	case len(roleARN) < 20 || len(roleARN) > 2048:
		return nil, validationErr("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048", roleARN)
	case !p.Has("RoleSessionName"):
		return nil, memberNull("roleSessionName")
	case !sessionNameRE.MatchString(session):
		return nil, validationErr("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*", session)
	case p.Has("ExternalId") && (len(extID) < 2 || len(extID) > 1224 || !externalIDRE.MatchString(extID)):
		// The value is the caller's own, so echoing it reveals nothing.
		return nil, validationErr("1 validation error detected: Value at 'externalId' failed to satisfy constraint: Member must have length between 2 and 1224 and satisfy regular expression pattern: [\\w+=,.@:\\/-]*")
	}
	duration := time.Hour
	if p.Has("DurationSeconds") {
		secs, err := strconv.Atoi(p.Get("DurationSeconds"))
		if err != nil {
			return nil, validationErr("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be an integer", p.Get("DurationSeconds"))
		}
		if secs < 900 {
			return nil, validationErr("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", secs)
		}
		if secs > 43200 {
			return nil, validationErr("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200", secs)
		}
		duration = time.Duration(secs) * time.Second
	}

	e.mu.Lock()
	role, ok := e.roles[roleARN]
	callerIsTemp := false
	for _, c := range e.creds {
		if c.ARN == caller.ARN && c.SessionToken != "" {
			callerIsTemp = true
			break
		}
	}
	e.mu.Unlock()
	// One message for unknown role, untrusted caller and wrong or missing
	// external ID, as AWS does: it must not help guess the external ID.
	denied := errf(403, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, roleARN)
	if !ok || !slices.Contains(role.TrustedAccounts, caller.Account) {
		return nil, denied
	}
	if role.ExternalID != "" && extID != role.ExternalID {
		return nil, denied
	}
	if duration > role.MaxSession {
		return nil, validationErr("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	if callerIsTemp && duration > time.Hour {
		return nil, validationErr("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	m := roleARNRE.FindStringSubmatch(roleARN)
	if m == nil {
		return nil, validationErr("%s is invalid", roleARN)
	}
	c := e.issueSession(roleARN, m[1], m[2], session, duration)

	var res assumeRoleResult
	res.Credentials.AccessKeyId = c.AccessKeyID
	res.Credentials.SecretAccessKey = c.Secret
	res.Credentials.SessionToken = c.SessionToken
	res.Credentials.Expiration = c.Expires.UTC().Format("2006-01-02T15:04:05Z")
	res.AssumedRoleUser.Arn = c.ARN
	res.AssumedRoleUser.AssumedRoleId = c.UserID
	return res, nil
}

// IssuedSecrets lists every temporary credential part (access key ID, secret, session
// token) the emulator handed out and every EKS token it was shown, for tests that prove
// none of them leaked into state, plans or logs.
func (e *Emulator) IssuedSecrets() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, c := range e.creds {
		if c.SessionToken != "" {
			out = append(out, c.AccessKeyID, c.Secret, c.SessionToken)
		}
	}
	for t := range e.seenTokens {
		out = append(out, t)
	}
	return out
}
