package cloud

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/aws/smithy-go"
)

// NotFoundError says a stack or cluster does not exist (any more).
type NotFoundError struct{ Kind, Name string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %s not found", e.Kind, e.Name) }

// IsNotFound reports whether err is a *NotFoundError.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// APIError is an AWS API refusal reduced to what a user needs: the operation, the AWS
// error code and AWS's message (structured fields; never a raw response body).
type APIError struct {
	Operation string
	Code      string
	Message   string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s failed: %s", e.Operation, e.Code)
	}
	return fmt.Sprintf("%s failed: %s: %s", e.Operation, e.Code, e.Message)
}

// Credentials and signatures could only reach an error through a URL or header dump.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(X-Amz-(Security-Token|Signature|Credential)=)[^&\s"]+`),
	regexp.MustCompile(`k8s-aws-v1\.[A-Za-z0-9_-]+`),
	regexp.MustCompile(`\b(ASIA|AKIA)[A-Z0-9]{12,}\b`),
}

const maxMessage = 400

// Sanitize turns any AWS SDK error into one that is safe to show: API errors keep code and
// message, transport errors lose anything that looks like a credential.
func Sanitize(err error) error {
	if err == nil {
		return nil
	}
	var done *APIError
	if errors.As(err, &done) {
		return err
	}
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return err
	}
	var api smithy.APIError
	var op *smithy.OperationError
	opName := "AWS call"
	if errors.As(err, &op) {
		opName = op.Service() + " " + op.Operation()
	}
	if errors.As(err, &api) {
		return &APIError{Operation: opName, Code: api.ErrorCode(), Message: scrub(api.ErrorMessage())}
	}
	return errors.New(scrub(err.Error()))
}

func scrub(s string) string {
	for _, re := range secretPatterns {
		s = re.ReplaceAllString(s, "${1}REDACTED")
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
