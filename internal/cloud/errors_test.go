package cloud

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// scrubForms are the ways a credential or signature can show up in text, with what must
// remain. internal/provider feeds the same forms through its log masks.
var scrubForms = []struct{ name, in, want string }{
	{"query string",
		`https://sts.amazonaws.com/?Action=GetCallerIdentity&X-Amz-Credential=ASIAABCDEFGHIJKLMNOP%2F20260101%2Fus-east-1&X-Amz-Security-Token=FQoGZXIvYXdzE123abc&X-Amz-Signature=0a1b2c3d4e`,
		`https://sts.amazonaws.com/?Action=GetCallerIdentity&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED`},
	{"security token header",
		"X-Amz-Security-Token: IQoJb3JpZ2luX2VjEPr//////////wEaCXVzLWVhc3QtMSJHMEU=\r\nHost: sts.amazonaws.com",
		"X-Amz-Security-Token: REDACTED\r\nHost: sts.amazonaws.com"},
	{"header dump",
		`map[X-Amz-Date:[20260101T000000Z] X-Amz-Security-Token:[tokenvalue/with+slash=]]`,
		`map[X-Amz-Date:[20260101T000000Z] X-Amz-Security-Token:[REDACTED]]`},
	{"signature header", "x-amz-signature: 9f86d081884c7d659a2feaa0c55ad015", "x-amz-signature: REDACTED"},
	{"authorization header",
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
		"Authorization: AWS4-HMAC-SHA256 Credential=REDACTED, SignedHeaders=host;x-amz-date, Signature=REDACTED"},
	{"raw session token", "the session IQoJb3JpZ2luX2VjEPr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+abc= has expired", "the session REDACTED has expired"},
	{"older raw session token", "token FwoGZXIvYXdzEBYaDExampleExampleExample expired", "token REDACTED expired"},
	{"credentials XML",
		"<Credentials><AccessKeyId>ASIAABCDEFGHIJKLMNOP</AccessKeyId><SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey><SessionToken>opaque-token</SessionToken></Credentials>",
		"<Credentials><AccessKeyId>ASIAREDACTED</AccessKeyId><SecretAccessKey>REDACTED</SecretAccessKey><SessionToken>REDACTED</SessionToken></Credentials>"},
	{"credentials JSON", `{"SessionToken":"opaque-token","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG"}`, `{"SessionToken":"REDACTED","SecretAccessKey":"REDACTED"}`},
	{"shared config", "aws_session_token = opaque-token", "aws_session_token = REDACTED"},
	{"EKS token", "Bearer k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8", "Bearer REDACTED"},
	{"nothing secret", "SignatureDoesNotMatch: the session token is invalid", "SignatureDoesNotMatch: the session token is invalid"},
}

// Every form is scrubbed whichever way it reaches an error: a plain error, AWS's message
// of an API error, or the cause of a failed send.
func TestSanitize_ScrubsEveryForm(t *testing.T) {
	for _, f := range scrubForms {
		t.Run(f.name, func(t *testing.T) {
			if got := Sanitize(errors.New(f.in)).Error(); got != f.want {
				t.Errorf("plain error:\n got %s\nwant %s", got, f.want)
			}
			api := &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole", Err: &smithy.GenericAPIError{Code: "ExpiredToken", Message: f.in}}
			if got, want := Sanitize(api).Error(), "STS AssumeRole failed: ExpiredToken: "+f.want; got != want {
				t.Errorf("API error:\n got %s\nwant %s", got, want)
			}
			send := &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole", Err: &smithyhttp.RequestSendError{Err: errors.New(f.in)}}
			if got, want := Sanitize(send).Error(), "STS AssumeRole failed: no answer: "+f.want; got != want {
				t.Errorf("send error:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestSanitize_KeepsOwnErrors(t *testing.T) {
	for _, err := range []error{&NotFoundError{Kind: "CloudFormation stack", Name: "x"}, &AccessError{RoleARN: "arn:aws:iam::1:role/r", Code: "AccessDenied"}} {
		if got := Sanitize(err); got != err {
			t.Errorf("Sanitize(%v) = %v", err, got)
		}
	}
	if !strings.HasPrefix(Sanitize(errors.New(strings.Repeat("x", 500))).Error(), strings.Repeat("x", 400)+"…") {
		t.Error("long text is not cut")
	}
}
