// Package cloud is the provider's AWS side: the base configuration from the standard
// credential chain, role assumption into customer accounts, and the CloudFormation and
// EKS calls. It holds credentials in memory only.
package cloud

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Config is the provider's AWS configuration in plain Go, in the words of the AWS
// provider (terraform-provider-aws): the same settings reach the same sources in the same
// order.
type Config struct {
	Region string
	// Profile, SharedConfigFiles and SharedCredentialsFiles select the shared configuration
	// (empty: AWS_PROFILE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, then ~/.aws).
	Profile                string
	SharedConfigFiles      []string
	SharedCredentialsFiles []string
	// AccessKey, SecretKey and Token (a session token) are static credentials; they win
	// over every other source of base credentials.
	AccessKey string
	SecretKey string
	Token     string
	// WebIdentity, when set, replaces the base credentials by the role it assumes with an
	// OIDC token (no other credentials needed); the AssumeRoles chain starts from there.
	WebIdentity *WebIdentity
	// AssumeRoles are platform-side roles assumed one after another, each with the
	// credentials of the one before, before anything else.
	AssumeRoles []AssumeRole
	MaxRetries  int
	// RetryMode is "standard" or "adaptive"; empty leaves it to AWS_RETRY_MODE or the
	// shared configuration (default standard).
	RetryMode string
	// CustomCABundle is a PEM file of the certificate authorities AWS endpoints are
	// checked against (empty: AWS_CA_BUNDLE or the shared configuration, else the system's).
	CustomCABundle string
	Endpoints      Endpoints
	// OnRetry, if set, hears of every retried AWS attempt and of every call that ran out of
	// attempts (the provider logs them; this package logs nothing itself).
	OnRetry RetryObserver
	// OnCredentials, if set, hears which step and source produced the provider's own
	// credentials, each time they are obtained or renewed.
	OnCredentials CredentialsObserver
	// Clock decides when cached credentials are due for renewal and signs EKS tokens
	// (nil: the wall clock). Tests pass the AWS emulator's clock.
	Clock Clock
}

// AssumeRole names a role to assume, with the AssumeRole options of the AWS provider's
// assume_role block.
type AssumeRole struct {
	RoleARN           string
	ExternalID        string
	SessionName       string
	Duration          time.Duration
	Policy            string
	PolicyARNs        []string
	SourceIdentity    string
	Tags              map[string]string
	TransitiveTagKeys []string
}

// WebIdentity is AssumeRoleWithWebIdentity: the AWS provider's
// assume_role_with_web_identity block. Exactly one of Token and TokenFile is set; the
// file is read again for every renewal (platforms rotate it).
type WebIdentity struct {
	RoleARN     string
	Token       string
	TokenFile   string
	SessionName string
	Duration    time.Duration
	Policy      string
	PolicyARNs  []string
}

// Endpoints override service URLs (emulators, partitions). Empty means the default.
// STS also reaches the STS clients the SDK builds for its own credential providers
// (web identity and role_arn profiles of the shared configuration).
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
func NewFactory(cfg Config) *Factory {
	if cfg.Clock == nil {
		cfg.Clock = RealClock
	}
	return &Factory{cfg: cfg}
}

// Base returns the platform's AWS configuration (after the provider-level assume_role).
func (f *Factory) Base(ctx context.Context) (aws.Config, error) {
	f.once.Do(func() { f.base, f.err = loadBase(ctx, f.cfg) })
	return f.base, f.err
}

// Endpoints returns the configured service URL overrides.
func (f *Factory) Endpoints() Endpoints { return f.cfg.Endpoints }

// Clock is the clock the factory's credentials and tokens follow.
func (f *Factory) Clock() Clock { return f.cfg.Clock }
