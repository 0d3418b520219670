// Package cloud is the provider's AWS side: the base configuration from the standard
// credential chain, role assumption into customer accounts, and the CloudFormation and
// EKS calls. It holds credentials in memory only.
package cloud

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Config is the provider's AWS configuration in plain Go.
type Config struct {
	Region     string
	Profile    string
	AccessKey  string
	SecretKey  string
	MaxRetries int
	AssumeRole *AssumeRole // the platform-side role, assumed before anything else
	Endpoints  Endpoints
	// OnRetry, if set, hears of every retried AWS attempt and of every call that ran out of
	// attempts (the provider logs them; this package logs nothing itself).
	OnRetry RetryObserver
}

// AssumeRole names a role to assume.
type AssumeRole struct {
	RoleARN     string
	ExternalID  string
	SessionName string
	Duration    time.Duration
}

// Endpoints override service URLs (emulators, partitions). Empty means the default.
type Endpoints struct {
	STS            string
	CloudFormation string
	EKS            string
}

// Factory resolves the base AWS configuration once, on first use: a provider used only
// for Kubernetes work never needs AWS credentials.
type Factory struct {
	cfg  Config
	once sync.Once
	base aws.Config
	err  error

	mu       sync.Mutex
	sessions map[Target]*Session
}

// NewFactory returns a factory for cfg.
func NewFactory(cfg Config) *Factory { return &Factory{cfg: cfg} }

// Base returns the platform's AWS configuration (after the provider-level assume_role).
func (f *Factory) Base(ctx context.Context) (aws.Config, error) {
	f.once.Do(func() { f.base, f.err = loadBase(ctx, f.cfg) })
	return f.base, f.err
}

// Endpoints returns the configured service URL overrides.
func (f *Factory) Endpoints() Endpoints { return f.cfg.Endpoints }

func loadBase(ctx context.Context, c Config) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{}
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(c.Profile))
	}
	if c.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, "")))
	}
	if c.MaxRetries > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(c.MaxRetries))
	}
	opts = append(opts, awsconfig.WithRetryMode(aws.RetryModeStandard))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// The SDK's message names the setting at fault and carries no secret.
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	// Before the assume-role client below is made, so that its calls are counted too.
	observeRetries(&cfg, c.OnRetry)
	if c.AssumeRole != nil && c.AssumeRole.RoleARN != "" {
		client := sts.NewFromConfig(cfg, c.stsOptions)
		provider := stscreds.NewAssumeRoleProvider(client, c.AssumeRole.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			if c.AssumeRole.ExternalID != "" {
				o.ExternalID = aws.String(c.AssumeRole.ExternalID)
			}
			if c.AssumeRole.SessionName != "" {
				o.RoleSessionName = c.AssumeRole.SessionName
			}
			if c.AssumeRole.Duration > 0 {
				o.Duration = c.AssumeRole.Duration
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	return cfg, nil
}

func (c Config) stsOptions(o *sts.Options) {
	if c.Endpoints.STS != "" {
		o.BaseEndpoint = aws.String(c.Endpoints.STS)
	}
}
