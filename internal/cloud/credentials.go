package cloud

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// The base credentials, in the AWS provider's order:
//  1. access_key/secret_key/token of the configuration;
//  2. a profile named in the configuration (the SDK then ignores AWS_ACCESS_KEY_ID);
//  3. AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN;
//  4. AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE;
//  5. the profile of AWS_PROFILE or "default" in the shared files (keys, role_arn with
//     source_profile or web_identity_token_file, SSO, credential_process), then the
//     container and EC2 instance credentials.
//
// assume_role_with_web_identity, when configured, replaces all of these; each assume_role
// block then assumes its role with the credentials before it.

func (c Config) loadOptions() ([]func(*awsconfig.LoadOptions) error, error) {
	opts := []func(*awsconfig.LoadOptions) error{}
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(c.Profile))
	}
	if len(c.SharedConfigFiles) > 0 {
		opts = append(opts, awsconfig.WithSharedConfigFiles(c.SharedConfigFiles))
	}
	if len(c.SharedCredentialsFiles) > 0 {
		opts = append(opts, awsconfig.WithSharedCredentialsFiles(c.SharedCredentialsFiles))
	}
	if c.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, c.Token)))
	}
	if c.MaxRetries > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(c.MaxRetries))
	}
	if c.RetryMode != "" {
		mode, err := aws.ParseRetryMode(c.RetryMode)
		if err != nil {
			return nil, fmt.Errorf("retry_mode must be standard or adaptive, not %q", c.RetryMode)
		}
		opts = append(opts, awsconfig.WithRetryMode(mode))
	}
	if c.CustomCABundle != "" {
		pem, err := os.ReadFile(c.CustomCABundle)
		if err != nil {
			return nil, fmt.Errorf("reading custom_ca_bundle %s: %s", c.CustomCABundle, fileReason(err))
		}
		opts = append(opts, awsconfig.WithCustomCABundle(bytes.NewReader(pem)))
	}
	// Temporary credentials of the SDK's own chain (web identity, role_arn profiles, SSO)
	// are renewed as early as the sessions' (renewingCache).
	opts = append(opts, awsconfig.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = credentialsRefreshWindow
	}))
	// The STS clients the SDK builds for a web identity or a role_arn profile of the
	// shared configuration go to endpoints.sts too.
	opts = append(opts,
		awsconfig.WithWebIdentityRoleCredentialOptions(func(o *stscreds.WebIdentityRoleOptions) {
			if cl, ok := o.Client.(*sts.Client); ok {
				o.Client = sts.New(cl.Options(), c.sdkSTSOptions)
			}
		}),
		awsconfig.WithAssumeRoleCredentialOptions(func(o *stscreds.AssumeRoleOptions) {
			if cl, ok := o.Client.(*sts.Client); ok {
				o.Client = sts.New(cl.Options(), c.sdkSTSOptions)
			}
		}),
	)
	return opts, nil
}

func loadBase(ctx context.Context, c Config) (aws.Config, error) {
	opts, err := c.loadOptions()
	if err != nil {
		return aws.Config{}, &CredentialsError{Stage: "configuration", Reason: err.Error()}
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// The SDK's message names the setting at fault (a missing profile, a bad file)
		// and carries no secret.
		return aws.Config{}, &CredentialsError{Stage: "configuration", Reason: scrub(err.Error())}
	}
	cfg.HTTPClient = WholeRequestBodies(cfg.HTTPClient)
	// Before the assume-role clients below are made, so that their calls are counted too.
	observeRetries(&cfg, c.OnRetry)
	stage := baseStage(c)
	if w := c.WebIdentity; w != nil {
		var token stscreds.IdentityTokenRetriever = staticToken(w.Token)
		if w.TokenFile != "" {
			token = tokenFile(w.TokenFile)
		}
		p := stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(cfg, c.stsOptions), w.RoleARN, token, func(o *stscreds.WebIdentityRoleOptions) {
			o.RoleSessionName = w.SessionName
			o.Duration = w.Duration
			if w.Policy != "" {
				o.Policy = aws.String(w.Policy)
			}
			o.PolicyARNs = policyARNs(w.PolicyARNs)
		})
		stage = "assuming role " + w.RoleARN + " with a web identity token"
		cfg.Credentials = &stagedCredentials{stage: stage, webIdentity: true, token: token,
			inner: newRenewingCache(p, c.Clock), observe: c.OnCredentials}
	} else {
		cfg.Credentials = &stagedCredentials{stage: stage, inner: cfg.Credentials, sdkWebIdentity: c.sdkWebIdentity(ctx), observe: c.OnCredentials}
	}
	for _, r := range c.AssumeRoles {
		p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg, c.stsOptions), r.RoleARN, r.options)
		stage = "assuming role " + r.RoleARN + " (assume_role)"
		cfg.Credentials = &stagedCredentials{stage: stage, inner: newRenewingCache(p, c.Clock), observe: c.OnCredentials}
	}
	return cfg, nil
}

// baseStage names where the base credentials come from, for errors.
func baseStage(c Config) string {
	switch {
	case c.AccessKey != "":
		return "using access_key and secret_key"
	case c.Profile != "":
		return "loading profile " + c.Profile + " of the shared configuration"
	default:
		return "finding AWS credentials (environment, shared configuration, web identity, container or instance role)"
	}
}

func (r AssumeRole) options(o *stscreds.AssumeRoleOptions) {
	if r.ExternalID != "" {
		o.ExternalID = aws.String(r.ExternalID)
	}
	if r.SessionName != "" {
		o.RoleSessionName = r.SessionName
	}
	// The SDK's default is 15 minutes; the documented default is the AWS provider's hour.
	o.Duration = DefaultSessionDuration
	if r.Duration > 0 {
		o.Duration = r.Duration
	}
	if r.Policy != "" {
		o.Policy = aws.String(r.Policy)
	}
	o.PolicyARNs = policyARNs(r.PolicyARNs)
	if r.SourceIdentity != "" {
		o.SourceIdentity = aws.String(r.SourceIdentity)
	}
	keys := make([]string, 0, len(r.Tags))
	for k := range r.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o.Tags = append(o.Tags, ststypes.Tag{Key: aws.String(k), Value: aws.String(r.Tags[k])})
	}
	o.TransitiveTagKeys = r.TransitiveTagKeys
}

func policyARNs(arns []string) []ststypes.PolicyDescriptorType {
	var out []ststypes.PolicyDescriptorType
	for _, a := range arns {
		out = append(out, ststypes.PolicyDescriptorType{Arn: aws.String(a)})
	}
	return out
}

func (c Config) stsOptions(o *sts.Options) {
	if c.Endpoints.STS != "" {
		o.BaseEndpoint = aws.String(c.Endpoints.STS)
	}
}

// sdkSTSOptions is for the STS clients the SDK makes while it resolves credentials: they
// are built before the endpoint variables are attached to the configuration, so
// AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL are applied here, after endpoints.sts.
func (c Config) sdkSTSOptions(o *sts.Options) {
	ep := c.Endpoints.STS
	if ep == "" && !strings.EqualFold(os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") {
		ep = os.Getenv("AWS_ENDPOINT_URL_STS")
		if ep == "" {
			ep = os.Getenv("AWS_ENDPOINT_URL")
		}
	}
	if ep != "" {
		o.BaseEndpoint = aws.String(ep)
	}
}

type staticToken string

func (t staticToken) GetIdentityToken() ([]byte, error) { return []byte(t), nil }

// tokenFile is read again for every renewal: platforms (Terraform Cloud, EKS pod
// identity, GitHub Actions) replace the file before the token in it expires.
type tokenFile string

func (f tokenFile) GetIdentityToken() ([]byte, error) {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return nil, fmt.Errorf("reading the web identity token file %s: %s", string(f), fileReason(err))
	}
	return bytes.TrimSpace(b), nil
}

// fileReason is why a file could not be read, without Go's wrapping.
func fileReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// sdkWebIdentity is the web identity the SDK's default chain would use, for errors:
// AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE (unless a profile is configured), else
// the profile's role_arn and web_identity_token_file.
func (c Config) sdkWebIdentity(ctx context.Context) *sdkWebIdentity {
	if c.AccessKey != "" {
		return nil
	}
	if f := os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE"); f != "" && c.Profile == "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		return &sdkWebIdentity{role: os.Getenv("AWS_ROLE_ARN"), file: tokenFile(f)}
	}
	shared, err := c.sharedProfile(ctx)
	if err != nil || shared.WebIdentityTokenFile == "" {
		return nil
	}
	return &sdkWebIdentity{role: shared.RoleARN, file: tokenFile(shared.WebIdentityTokenFile)}
}
