package awsemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDateFmt   = "20060102T150405Z"
	maxSkew      = 5 * time.Minute
)

// principal is who signed a request.
type principal struct {
	Account string
	ARN     string // arn:aws:iam::<acct>:user/<name> or arn:aws:sts::<acct>:assumed-role/<role>/<session>
	UserID  string // AIDA... for users, AROA...:<session> for assumed roles
}

// credential is one access key the emulator knows.
type credential struct {
	AccessKeyID  string
	Secret       string
	SessionToken string    // "" for long-term user keys
	Expires      time.Time // zero for long-term user keys
	principal
}

// sigInfo is the parsed (not yet verified) signature of a request.
type sigInfo struct {
	presigned     bool
	accessKey     string
	scopeDate     string
	region        string
	service       string
	signedHeaders string
	signature     string
	amzDate       string
	t             time.Time
	expires       time.Duration // presigned only
	token         string
}

func (s *sigInfo) scope() string {
	return s.scopeDate + "/" + s.region + "/" + s.service + "/aws4_request"
}

func incomplete(format string, args ...any) *apiError {
	return errf(400, "IncompleteSignature", format, args...)
}

func sigMismatch(format string, args ...any) *apiError {
	return errf(403, "SignatureDoesNotMatch", format, args...)
}

// parseSig extracts the SigV4 fields from the Authorization header or the
// presigned query string. sig is non-nil whenever a credential scope was found,
// so errors can still be attributed to a service.
func parseSig(r *http.Request) (*sigInfo, *apiError) {
	q := r.URL.Query()
	auth := r.Header.Get("Authorization")
	s := &sigInfo{}
	var cred string
	switch {
	case auth != "":
		alg, rest, _ := strings.Cut(auth, " ")
		if alg != sigAlgorithm {
			return nil, incomplete("Unsupported AWS 'algorithm': '%s'", alg)
		}
		for _, part := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "Credential":
				cred = v
			case "SignedHeaders":
				s.signedHeaders = v
			case "Signature":
				s.signature = v
			}
		}
		s.amzDate = r.Header.Get("X-Amz-Date")
		s.token = r.Header.Get("X-Amz-Security-Token")
	case q.Get("X-Amz-Algorithm") != "":
		s.presigned = true
		if q.Get("X-Amz-Algorithm") != sigAlgorithm {
			return nil, incomplete("Unsupported AWS 'algorithm': '%s'", q.Get("X-Amz-Algorithm"))
		}
		cred = q.Get("X-Amz-Credential")
		s.signedHeaders = q.Get("X-Amz-SignedHeaders")
		s.signature = q.Get("X-Amz-Signature")
		s.amzDate = q.Get("X-Amz-Date")
		s.token = q.Get("X-Amz-Security-Token")
		// The SDK v2 STS presigner leaves X-Amz-Expires out unless told;
		// STS then applies 15 minutes.
		secs, err := 900, error(nil)
		if q.Has("X-Amz-Expires") {
			secs, err = strconv.Atoi(q.Get("X-Amz-Expires"))
		}
		if err != nil || secs < 1 || secs > 604800 {
			return nil, incomplete("X-Amz-Expires must be an integer between 1 and 604800")
		}
		s.expires = time.Duration(secs) * time.Second
		// STS ignores X-Amz-Expires on a presigned GetCallerIdentity (the EKS token): it is
		// good for 15 minutes after X-Amz-Date, as aws-iam-authenticator documents.
		if q.Get("Action") == "GetCallerIdentity" {
			s.expires = 15 * time.Minute
		}
	default:
		return nil, errf(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return nil, incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", cred)
	}
	s.accessKey, s.scopeDate, s.region, s.service = parts[0], parts[1], parts[2], parts[3]
	if s.signedHeaders == "" || s.signature == "" {
		return s, incomplete("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters")
	}
	t, err := time.Parse(amzDateFmt, s.amzDate)
	if err != nil {
		return s, incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	s.t = t
	if s.scopeDate != t.Format("20060102") {
		return s, sigMismatch("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'", s.scopeDate, t.Format("20060102"))
	}
	return s, nil
}

// authenticate verifies a request's signature and returns its caller.
func (e *Emulator) authenticate(r *http.Request, body []byte) (principal, *sigInfo, *apiError) {
	s, aerr := parseSig(r)
	if aerr != nil {
		return principal{}, s, aerr
	}
	now := e.now()
	if s.region != e.opts.Region {
		return principal{}, s, sigMismatch("Credential should be scoped to a valid region, not '%s'. ", s.region)
	}
	e.mu.Lock()
	c, ok := e.creds[s.accessKey]
	var cc credential
	if ok {
		cc = *c
	}
	e.mu.Unlock()
	if !ok {
		return principal{}, s, errf(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	if cc.SessionToken != "" && !hmac.Equal([]byte(s.token), []byte(cc.SessionToken)) {
		return principal{}, s, errf(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	if cc.SessionToken == "" && s.token != "" {
		return principal{}, s, errf(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	// Skew before signature: the SDK only corrects its clock when the error
	// is a signature error and the response Date shows the skew.
	if s.presigned {
		if now.After(s.t.Add(s.expires)) {
			return principal{}, s, sigMismatch("Signature expired: %s is now earlier than %s (%s - %s.)",
				s.t.Add(s.expires).Format(amzDateFmt), now.Format(amzDateFmt), now.Format(amzDateFmt), s.expires)
		}
		if s.t.After(now.Add(maxSkew)) {
			return principal{}, s, sigMismatch("Signature not yet current: %s is still later than %s (%s + 5 min.)",
				s.amzDate, now.Add(maxSkew).Format(amzDateFmt), now.Format(amzDateFmt))
		}
	} else {
		if s.t.Before(now.Add(-maxSkew)) {
			return principal{}, s, sigMismatch("Signature expired: %s is now earlier than %s (%s - 5 min.)",
				s.amzDate, now.Add(-maxSkew).Format(amzDateFmt), now.Format(amzDateFmt))
		}
		if s.t.After(now.Add(maxSkew)) {
			return principal{}, s, sigMismatch("Signature not yet current: %s is still later than %s (%s + 5 min.)",
				s.amzDate, now.Add(maxSkew).Format(amzDateFmt), now.Format(amzDateFmt))
		}
	}
	want, aerr := canonicalSignature(r, body, s, cc.Secret)
	if aerr != nil {
		return principal{}, s, aerr
	}
	if !hmac.Equal([]byte(want), []byte(s.signature)) {
		return principal{}, s, sigMismatch("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	if !cc.Expires.IsZero() && !now.Before(cc.Expires) {
		return principal{}, s, errf(403, "ExpiredToken", "The security token included in the request is expired")
	}
	return cc.principal, s, nil
}

// canonicalSignature recomputes the SigV4 signature from exactly the headers
// the client listed in SignedHeaders.
func canonicalSignature(r *http.Request, body []byte, s *sigInfo, secret string) (string, *apiError) {
	names := strings.Split(s.signedHeaders, ";")
	if !sort.StringsAreSorted(names) {
		return "", sigMismatch("SignedHeaders must be sorted lower-case header names")
	}
	hasHost, hasDate := false, false
	var ch strings.Builder
	for _, n := range names {
		if n == "" || n != strings.ToLower(n) {
			return "", sigMismatch("SignedHeaders must be sorted lower-case header names")
		}
		var vals []string
		switch n {
		case "host":
			hasHost = true
			vals = []string{r.Host}
		case "content-length":
			vals = r.Header.Values(n)
			if len(vals) == 0 && r.ContentLength > 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		default:
			vals = r.Header.Values(n)
		}
		if n == "x-amz-date" {
			hasDate = true
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		ch.WriteString(n + ":" + strings.Join(vals, ",") + "\n")
	}
	if !hasHost {
		return "", sigMismatch("'Host' must be a signed header")
	}
	if !s.presigned && !hasDate {
		return "", sigMismatch("'X-Amz-Date' must be a signed header")
	}

	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", sigMismatch("malformed query string")
	}
	if s.presigned {
		q.Del("X-Amz-Signature")
	}
	type kv struct{ k, v string }
	var params []kv
	for k, vs := range q {
		for _, v := range vs {
			params = append(params, kv{sigEscape(k, false), sigEscape(v, false)})
		}
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	qs := make([]string, len(params))
	for i, p := range params {
		qs[i] = p.k + "=" + p.v
	}

	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	sum := sha256.Sum256(body)
	canonical := strings.Join([]string{
		r.Method,
		sigEscape(path, true), // non-S3 services encode the already-escaped path again
		strings.Join(qs, "&"),
		ch.String(),
		s.signedHeaders,
		hex.EncodeToString(sum[:]),
	}, "\n")
	crSum := sha256.Sum256([]byte(canonical))
	toSign := sigAlgorithm + "\n" + s.amzDate + "\n" + s.scope() + "\n" + hex.EncodeToString(crSum[:])
	key := hmacSHA256([]byte("AWS4"+secret), s.scopeDate)
	key = hmacSHA256(key, s.region)
	key = hmacSHA256(key, s.service)
	key = hmacSHA256(key, "aws4_request")
	return hex.EncodeToString(hmacSHA256(key, toSign)), nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// sigEscape percent-encodes everything outside the RFC 3986 unreserved set
// (and '/' when keepSlash), with upper-case hex, as SigV4 requires.
func sigEscape(s string, keepSlash bool) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}
