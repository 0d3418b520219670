// Package awsemu is a strict, in-process emulator of the AWS APIs clusterkit
// calls (STS, CloudFormation, EKS DescribeCluster), served over real HTTP on
// 127.0.0.1 so the provider talks to it through the real AWS SDK with only
// BaseEndpoint changed. It verifies every SigV4 signature, runs CloudFormation
// stacks on a timeline driven by an injectable clock, and validates EKS
// bearer tokens the way aws-iam-authenticator does.
package awsemu

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configures an Emulator.
type Options struct {
	Region string           // default "us-east-1"
	Clock  func() time.Time // default time.Now; tests inject a fake clock
	Log    func(format string, args ...any)
	Addr   string // listen address; default 127.0.0.1:0
}

// Call is one entry of the call log.
type Call struct {
	Service   string // "sts", "cloudformation", "eks" ("" when the request could not be attributed)
	Action    string // e.g. "AssumeRole", "DescribeStacks", "DescribeCluster"
	Principal string // caller ARN ("" when authentication failed)
	Time      time.Time
	ErrorCode string // "" on success
	Presigned bool   // signed through the query string (presigned URL / EKS token)
}

// Fault makes the next Count calls of Action fail.
type Fault struct {
	Action string // e.g. "DescribeStacks"
	Kind   string // "throttle" (400 Throttling) or "5xx" (500 InternalFailure)
	Count  int
}

// Emulator is a running emulator. All methods are safe for concurrent use.
type Emulator struct {
	opts Options
	ln   net.Listener
	srv  *http.Server
	host string // host:port the SDK signs as the Host header

	mu          sync.Mutex
	creds       map[string]*credential // by access key ID
	roles       map[string]Role        // by role ARN
	stacks      []*stack               // every stack ever created, deleted ones too
	scripts     map[string]StackScript // by stack name
	defEndpoint string
	defCA       []byte
	faults      map[string][]Fault
	calls       []Call
	tokenNames  map[string]bool     // extra cluster names TokenReviewHandler accepts
	seenTokens  map[string]bool     // EKS tokens presented for verification
	oidc        map[string][]string // OIDC providers: issuer URL -> client IDs
	subnets     map[string]Subnet   // by ID: the subnets AddSubnet registered
	// sessionSpeed > 1 shortens the lifetime of temporary credentials (SetSessionSpeed).
	sessionSpeed float64
}

// Start listens on 127.0.0.1:0 and serves STS, CloudFormation and EKS on one URL.
func Start(opts Options) (*Emulator, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("awsemu: listen: %w", err)
	}
	e := &Emulator{
		opts:       opts,
		ln:         ln,
		host:       ln.Addr().String(),
		creds:      map[string]*credential{},
		roles:      map[string]Role{},
		scripts:    map[string]StackScript{},
		faults:     map[string][]Fault{},
		tokenNames: map[string]bool{},
		seenTokens: map[string]bool{},
	}
	e.srv = &http.Server{Handler: http.HandlerFunc(e.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.opts.Log("awsemu: serve: %v", err)
		}
	}()
	return e, nil
}

// URL is the base endpoint for all three services, e.g. http://127.0.0.1:41234.
func (e *Emulator) URL() string { return "http://" + e.host }

// Close stops the server.
func (e *Emulator) Close() error { return e.srv.Close() }

// InjectFault makes the next f.Count calls of f.Action fail with f.Kind.
func (e *Emulator) InjectFault(f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults[f.Action] = append(e.faults[f.Action], f)
}

// Calls returns a copy of the call log.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Call(nil), e.calls...)
}

// SetDefaultCluster sets what DescribeCluster returns for stacks without a script.
func (e *Emulator) SetDefaultCluster(endpoint string, caPEM []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.defEndpoint, e.defCA = endpoint, append([]byte(nil), caPEM...)
}

func (e *Emulator) now() time.Time { return e.opts.Clock().UTC() }

func (e *Emulator) record(c Call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, c)
}

// takeFault consumes one pending fault for action, if any.
func (e *Emulator) takeFault(action string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	fs := e.faults[action]
	for len(fs) > 0 && fs[0].Count <= 0 {
		fs = fs[1:]
	}
	e.faults[action] = fs
	if len(fs) == 0 {
		return ""
	}
	fs[0].Count--
	return fs[0].Kind
}

// apiError is an AWS error in protocol-neutral form.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (a *apiError) Error() string { return a.Code + ": " + a.Message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func validationErr(format string, args ...any) *apiError {
	return errf(400, "ValidationError", format, args...)
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (e *Emulator) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// The Date header carries the emulator clock, so the SDK's clock-skew
	// correction follows a fake clock the way it follows AWS's real one.
	w.Header().Set("Date", e.now().Format(http.TimeFormat))
	w.Header().Set("X-Amzn-RequestId", newRequestID())

	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	isEKS := strings.HasPrefix(r.URL.Path, "/clusters") || strings.HasPrefix(r.URL.Path, "/addons")
	call := Call{Time: e.now()}
	defer func() { e.record(call) }()
	if isWebIdentityRequest(r, body) {
		// The one STS call that is not signed: the token is the credential.
		call.Service, call.Action = "sts", "AssumeRoleWithWebIdentity"
		arn, aerr := e.serveWebIdentity(w, queryParams(r, body))
		if aerr != nil {
			call.ErrorCode = aerr.Code
			e.opts.Log("awsemu: sts AssumeRoleWithWebIdentity rejected: %s", aerr)
			e.writeError(w, false, aerr)
			return
		}
		call.Principal = arn
		return
	}

	caller, sig, aerr := e.authenticate(r, body)
	if sig != nil {
		call.Service = sig.service
		call.Presigned = sig.presigned
		isEKS = sig.service == "eks"
	} else if isEKS {
		call.Service = "eks"
	}
	if isEKS {
		call.Action = eksAction(r)
	} else {
		call.Action = queryAction(r, body)
	}
	if aerr == nil && sig.service != "sts" && sig.service != "cloudformation" && sig.service != "eks" {
		aerr = errf(403, "SignatureDoesNotMatch", "Credential should be scoped to correct service: '%s'. ", sig.service)
	}
	if aerr != nil {
		if isEKS {
			aerr = jsonAuthError(aerr)
		}
		call.ErrorCode = aerr.Code
		e.opts.Log("awsemu: %s %s rejected: %s", r.Method, r.URL.Path, aerr)
		e.writeError(w, isEKS, aerr)
		return
	}
	call.Principal = caller.ARN

	if kind := e.takeFault(call.Action); kind != "" {
		aerr = errf(500, "InternalFailure", "We encountered an internal error. Please try again.")
		if kind == "throttle" {
			aerr = errf(400, "Throttling", "Rate exceeded")
		}
		call.ErrorCode = aerr.Code
		e.writeError(w, isEKS, aerr)
		return
	}

	switch sig.service {
	case "eks":
		aerr = e.serveEKS(w, r, caller)
	default:
		aerr = e.serveQuery(w, r, body, sig, caller, call.Action)
	}
	if aerr != nil {
		call.ErrorCode = aerr.Code
		e.opts.Log("awsemu: %s %s by %s: %s", sig.service, call.Action, caller.ARN, aerr)
		e.writeError(w, isEKS, aerr)
		return
	}
	e.opts.Log("awsemu: %s %s by %s ok", sig.service, call.Action, caller.ARN)
}

// jsonAuthError renames Query-protocol auth error codes to the names the
// JSON/REST services (EKS) use for the same failures.
func jsonAuthError(a *apiError) *apiError {
	names := map[string]string{
		"MissingAuthenticationToken": "MissingAuthenticationTokenException",
		"InvalidClientTokenId":       "UnrecognizedClientException",
		"SignatureDoesNotMatch":      "InvalidSignatureException",
		"ExpiredToken":               "ExpiredTokenException",
		"IncompleteSignature":        "IncompleteSignatureException",
	}
	if n, ok := names[a.Code]; ok {
		return &apiError{Status: a.Status, Code: n, Message: a.Message}
	}
	return a
}

func (e *Emulator) writeError(w http.ResponseWriter, jsonProto bool, a *apiError) {
	rid := w.Header().Get("X-Amzn-RequestId")
	if jsonProto {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", a.Code)
		w.WriteHeader(a.Status)
		fmt.Fprintf(w, `{"message":%q}`, a.Message)
		return
	}
	typ := "Sender"
	if a.Status >= 500 {
		typ = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(a.Status)
	fmt.Fprintf(w, "<ErrorResponse>\n  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n",
		typ, xmlEscape(a.Code), xmlEscape(a.Message), rid)
}
