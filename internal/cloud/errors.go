package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// NotFoundError says a stack or cluster does not exist (any more).
type NotFoundError struct{ Kind, Name string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %s not found", e.Kind, e.Name) }

// IsNotFound reports whether err is a *NotFoundError.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// APIError is a failed AWS call reduced to what a user needs: the operation, how many
// attempts it took, the HTTP status, and AWS's error code and message (structured fields;
// never a raw response body, never the SDK's own wording).
type APIError struct {
	Operation string // e.g. "CloudFormation CreateStack"
	Code      string // AWS error code; empty when the answer was no AWS error, or none came
	Message   string // AWS's message, scrubbed
	Status    int    // HTTP status of the last answer; 0 when none arrived
	Attempts  int    // attempts made (0 when unknown)
	Exhausted bool   // the SDK gave up: every attempt it may make failed
	NotAWS    bool   // an answer came, but its body was no AWS error (a proxy's page, say)
	Cause     string // when no answer came: why (the network's words, scrubbed)
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Operation + " failed")
	switch {
	case e.Exhausted:
		fmt.Fprintf(&b, " after %d attempts (the retry limit)", e.Attempts)
	case e.Attempts > 1:
		fmt.Fprintf(&b, " on attempt %d", e.Attempts)
	}
	b.WriteString(": ")
	switch {
	case e.NotAWS:
		fmt.Fprintf(&b, "HTTP %d, and the answer was not an AWS API response (check that the endpoint is the AWS service's)", e.Status)
	case e.Code == "" && e.Cause != "":
		b.WriteString("no answer: " + e.Cause)
	default:
		// The status says "server side, try later" for 5xx; for a retried call it says
		// what the attempts kept getting.
		if e.Status >= 500 || (e.Attempts > 1 && e.Status > 0) {
			fmt.Fprintf(&b, "HTTP %d ", e.Status)
		}
		b.WriteString(e.Code)
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
	}
	return b.String()
}

// Credentials and signatures could only reach an error or a log through a URL, a header
// dump (Go's http.Header prints as "Name:[value]") or a credentials document.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(X-Amz-(?:Security-Token|Signature|Credential)"?\s*[=:]\s*\[?"?)[^&\s"\],;]+`),
	// The Authorization header of a signed request: its credential scope and signature.
	regexp.MustCompile(`(?i)(\b(?:Credential|Signature)=)[^&\s"\],;]+`),
	regexp.MustCompile(`(<(?:SessionToken|SecretAccessKey)>)[^<]+`),
	regexp.MustCompile(`(?i)((?:SessionToken|SecretAccessKey|aws_session_token|aws_secret_access_key)"?\s*[=:]\s*"?)[^"\s,&}]+`),
	// STS session tokens in any encoding: they all start with one of these prefixes.
	regexp.MustCompile(`\b(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz|AQoDYXdz|AQoEXAMPLE)[A-Za-z0-9+/=%_-]{8,}`),
	regexp.MustCompile(`k8s-aws-v1\.[A-Za-z0-9_-]+`),
	regexp.MustCompile(`\b(ASIA|AKIA)[A-Z0-9]{12,}\b`),
}

// SecretPatterns are the forms of AWS credentials, signatures and EKS tokens that Sanitize
// removes from error text; the provider masks the same forms in its logs.
func SecretPatterns() []*regexp.Regexp { return append([]*regexp.Regexp(nil), secretPatterns...) }

const maxMessage = 400

// Sanitize turns any AWS SDK error into one that is safe to show: API errors keep code,
// message and status, transport errors keep the network's reason; attempts are counted
// and anything that looks like a credential is removed.
func Sanitize(err error) error {
	if err == nil {
		return nil
	}
	var done *APIError
	var nf *NotFoundError
	var access *AccessError
	var creds *CredentialsError
	if errors.As(err, &creds) {
		return creds
	}
	if errors.As(err, &done) || errors.As(err, &nf) || errors.As(err, &access) {
		return err
	}
	var op *smithy.OperationError
	res := &APIError{Operation: "AWS call", Status: httpStatus(err)}
	if errors.As(err, &op) {
		res.Operation = op.Service() + " " + op.Operation()
	}
	var ae *attemptError
	if errors.As(err, &ae) {
		res.Attempts = ae.attempt
	}
	var maxed *retry.MaxAttemptsError
	if errors.As(err, &maxed) {
		res.Attempts, res.Exhausted = maxed.Attempt, true
	}
	var api smithy.APIError
	switch {
	case errors.As(err, &api):
		res.Code, res.Message = api.ErrorCode(), scrub(api.ErrorMessage())
	case res.Status != 0:
		// The body could not be read as an AWS error: it stays out, and so does the
		// parser's complaint about it.
		res.NotAWS = true
	case op == nil:
		return errors.New(scrub(err.Error()))
	default:
		res.Cause = transportCause(err)
	}
	return res
}

// transportCause is why no answer came, without the SDK's wrapping and without the URL.
func transportCause(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "the call was interrupted (its time ran out or it was canceled)"
	}
	var ue *url.Error
	var send *smithyhttp.RequestSendError
	switch {
	case errors.As(err, &ue):
		err = ue.Err
	case errors.As(err, &send) && send.Err != nil:
		err = send.Err
	}
	return scrub(err.Error())
}

func scrub(s string) string {
	for _, re := range secretPatterns {
		s = re.ReplaceAllString(s, "${1}REDACTED") // the first group, if any, names what was removed
	}
	if len(s) > maxMessage {
		s = s[:maxMessage] + "…"
	}
	return s
}

// IsAlreadyExists reports CloudFormation's AlreadyExistsException (a stack of that name).
func IsAlreadyExists(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "AlreadyExistsException"
}
