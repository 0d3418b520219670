package awsemu

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	authv1 "k8s.io/api/authentication/v1"
)

// EKSTokenPrefix starts every EKS bearer token.
const EKSTokenPrefix = "k8s-aws-v1."

// tokenQueryParams are the only query parameters a token URL may carry, as in
// aws-iam-authenticator: anything else could change what STS is asked.
var tokenQueryParams = []string{"action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date",
	"x-amz-expires", "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders", "x-amz-user-agent"}

// AddTokenCluster lets TokenReviewHandler accept tokens for a cluster name
// that no stack created (for a Kubernetes cluster not made through CloudFormation).
func (e *Emulator) AddTokenCluster(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tokenNames[name] = true
}

// VerifyEKSToken validates an EKS bearer token for clusterName the way
// aws-iam-authenticator does, and returns the caller ARN (for assumed roles
// the arn:aws:sts::...:assumed-role/... form; see CanonicalRoleARN).
func (e *Emulator) VerifyEKSToken(token string, clusterName string) (arn string, err error) {
	e.mu.Lock()
	e.seenTokens[token] = true
	e.mu.Unlock()
	call := Call{Service: "sts", Action: "GetCallerIdentity", Time: e.now(), Presigned: true}
	defer func() {
		call.Principal = arn
		if err != nil {
			call.ErrorCode = "InvalidToken"
			var a *apiError
			if errors.As(err, &a) {
				call.ErrorCode = a.Code
			}
		}
		e.record(call)
	}()
	return e.verifyQuiet(token, clusterName)
}

// tokenRequest decodes and checks a token's URL and rebuilds the request STS
// would receive, with the x-k8s-aws-id header the signature must cover.
func (e *Emulator) tokenRequest(token, clusterName string) (*http.Request, error) {
	enc, ok := strings.CutPrefix(token, EKSTokenPrefix)
	if !ok {
		return nil, errors.New("awsemu: token is missing expected \"k8s-aws-v1.\" prefix")
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil, errors.New("awsemu: token is not base64url without padding")
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		return nil, errors.New("awsemu: token is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host != e.host || (u.Path != "/" && u.Path != "") || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("awsemu: token URL must be the emulator's STS endpoint %s, got host %q path %q", e.host, u.Host, u.Path)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errors.New("awsemu: token URL has a malformed query")
	}
	for k, vs := range q {
		if !slices.Contains(tokenQueryParams, strings.ToLower(k)) {
			return nil, fmt.Errorf("awsemu: token URL has unexpected query parameter %q", k)
		}
		if len(vs) != 1 {
			return nil, fmt.Errorf("awsemu: token URL repeats query parameter %q", k)
		}
	}
	if q.Get("Action") != "GetCallerIdentity" || q.Get("Version") != "2011-06-15" {
		return nil, errors.New("awsemu: token URL is not an STS GetCallerIdentity request")
	}
	if q.Get("X-Amz-Signature") == "" {
		return nil, errors.New("awsemu: token URL is not presigned")
	}
	signed := strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-k8s-aws-id") || len(signed) != 2 {
		return nil, fmt.Errorf("awsemu: token must sign exactly host and x-k8s-aws-id, signs %q", q.Get("X-Amz-SignedHeaders"))
	}
	if exp := q.Get("X-Amz-Expires"); exp != "" {
		if n, err := strconv.Atoi(exp); err != nil || n < 1 || n > 900 {
			return nil, fmt.Errorf("awsemu: token X-Amz-Expires must be 1..900 seconds, got %q", exp)
		}
	}
	d, err := time.Parse(amzDateFmt, q.Get("X-Amz-Date"))
	if err != nil {
		return nil, errors.New("awsemu: token URL has no valid X-Amz-Date")
	}
	// aws-iam-authenticator refuses tokens older than 15 minutes whatever
	// X-Amz-Expires says, and STS ignores X-Amz-Expires on this call.
	if e.now().After(d.Add(15 * time.Minute)) {
		return nil, errors.New("awsemu: token expired")
	}
	if clusterName == "" {
		return nil, errors.New("awsemu: cluster name is required")
	}
	r, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	r.Header.Set("x-k8s-aws-id", clusterName)
	return r, nil
}

// TokenReviewHandler serves authentication.k8s.io/v1 TokenReview POSTs for
// kube-apiserver's --authentication-token-webhook-config-file. "k8s-aws-v1."
// tokens are verified against every cluster name the emulator knows (the
// signature binds exactly one), then the caller's canonical ARN (role ARN for
// assumed roles, as aws-auth mapRoles uses) is mapped as EKS maps it: by the cluster's
// access entries in API and API_AND_CONFIG_MAP mode, by the creator's implicit admin in
// CONFIG_MAP mode, and by mapper (aws-auth) in the modes with a config map, or for a
// cluster no stack made (AddTokenCluster). Anything else is answered authenticated:false.
func (e *Emulator) TokenReviewHandler(mapper func(arn string) (username string, groups []string, ok bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST a TokenReview", http.StatusMethodNotAllowed)
			return
		}
		var tr authv1.TokenReview
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&tr); err != nil {
			http.Error(w, "malformed TokenReview", http.StatusBadRequest)
			return
		}
		if tr.APIVersion == "" {
			tr.APIVersion = "authentication.k8s.io/v1"
		}
		tr.Kind = "TokenReview"
		tr.Status = e.review(tr.Spec.Token, mapper)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(tr)
	})
}

func (e *Emulator) review(token string, mapper func(string) (string, []string, bool)) authv1.TokenReviewStatus {
	fail := func(msg string) authv1.TokenReviewStatus {
		e.opts.Log("awsemu: token review: %s", msg)
		return authv1.TokenReviewStatus{Authenticated: false, Error: msg}
	}
	if !strings.HasPrefix(token, EKSTokenPrefix) {
		return fail("not an EKS token")
	}
	e.mu.Lock()
	names := sortedKeys(e.tokenNames)
	for _, c := range e.clusters("", e.now()) {
		if !slices.Contains(names, c.name) {
			names = append(names, c.name)
		}
	}
	e.mu.Unlock()
	arn, cluster := "", ""
	var lastErr error
	for _, n := range names {
		var err error
		if arn, err = e.verifyQuiet(token, n); err == nil {
			cluster = n
			break
		}
		lastErr = err
	}
	if cluster == "" {
		if lastErr == nil {
			lastErr = errors.New("no cluster known to verify the token against")
		}
		return fail(lastErr.Error())
	}
	canonical := CanonicalRoleARN(arn)
	user, groups, ok, _ := e.entryIdentity(cluster, arn, canonical, mapper)
	if !ok {
		return fail("ARN is not mapped: " + canonical)
	}
	e.record(Call{Service: "sts", Action: "GetCallerIdentity", Principal: arn, Time: e.now(), Presigned: true})
	return authv1.TokenReviewStatus{
		Authenticated: true,
		User: authv1.UserInfo{
			Username: user,
			UID:      "aws-iam-authenticator:" + canonical,
			Groups:   groups,
			Extra: map[string]authv1.ExtraValue{
				"arn":          {arn},
				"canonicalArn": {canonical},
				"clusterName":  {cluster},
			},
		},
	}
}

// verifyQuiet is VerifyEKSToken without the call log, for trying candidates.
func (e *Emulator) verifyQuiet(token, clusterName string) (string, error) {
	r, err := e.tokenRequest(token, clusterName)
	if err != nil {
		return "", err
	}
	p, _, aerr := e.authenticate(r, nil)
	if aerr != nil {
		return "", aerr
	}
	return p.ARN, nil
}
