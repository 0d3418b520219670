package awsemu

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

const (
	platformAcct = "111111111111"
	customerAcct = "222222222222"
	roleARN      = "arn:aws:iam::222222222222:role/clusterkit-provision"
	externalID   = "ext-7f3a9c"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	e     *Emulator
	clock *fakeClock
	user  aws.Config // the platform account's IAM user
	ctx   context.Context
}

// newEnv starts an emulator whose clock starts at the real time (the SDK
// signs with the real clock until a response's Date header moves it) and
// registers the platform user and the customer's provisioning role.
func newEnv(t *testing.T) *env {
	t.Helper()
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	v := &env{t: t, clock: clock, ctx: context.Background()}
	e, err := Start(Options{Clock: clock.Now, Log: func(f string, a ...any) { t.Logf(f, a...) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	v.e = e
	ak, sk := e.AddUser(platformAcct, "clusterkit-ci")
	v.user = v.cfg(credentials.NewStaticCredentialsProvider(ak, sk, ""))
	e.AddRole(Role{ARN: roleARN, TrustedAccounts: []string{platformAcct}, ExternalID: externalID, MaxSession: 2 * time.Hour})
	return v
}

// cfg is an SDK config with no retry backoff (so tests do not sleep) but the
// SDK's standard retryer otherwise, and the provider's HTTP client.
func (v *env) cfg(creds aws.CredentialsProvider) aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: creds,
		HTTPClient:  cloud.WholeRequestBodies(awshttp.NewBuildableClient()),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				o.RateLimiter = ratelimit.None
			})
		},
	}
}

func (v *env) sts(cfg aws.Config) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(v.e.URL()) })
}

func (v *env) cfn(cfg aws.Config) *cloudformation.Client {
	return cloudformation.NewFromConfig(cfg, func(o *cloudformation.Options) { o.BaseEndpoint = aws.String(v.e.URL()) })
}

func (v *env) eks(cfg aws.Config) *eks.Client {
	return eks.NewFromConfig(cfg, func(o *eks.Options) { o.BaseEndpoint = aws.String(v.e.URL()) })
}

// assume assumes the customer role and returns a config with its temporary credentials.
func (v *env) assume(seconds int32) aws.Config {
	v.t.Helper()
	out, err := v.sts(v.user).AssumeRole(v.ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("clusterkit-test"),
		ExternalId: aws.String(externalID), DurationSeconds: aws.Int32(seconds),
	})
	if err != nil {
		v.t.Fatalf("AssumeRole: %v", err)
	}
	c := out.Credentials
	return v.cfg(credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))
}

// apiError returns the AWS error code and message of err ("" if none).
func apiErr(err error) (code, msg string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	return "", ""
}

func (v *env) countCalls(action string) (n int) {
	for _, c := range v.e.Calls() {
		if c.Action == action {
			n++
		}
	}
	return n
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
