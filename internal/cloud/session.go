package cloud

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// Target is a customer account reached by assuming its provisioning role.
type Target struct {
	Region      string
	RoleARN     string
	ExternalID  string
	SessionName string
}

// Session holds the clients for one Target. Its credentials live in this struct only and
// are refreshed by the SDK's cache before they expire; nothing here is ever serialised.
type Session struct {
	Target         Target
	CloudFormation *cloudformation.Client
	EKS            *eks.Client
	STS            *sts.Client
	cfg            aws.Config
	endpoints      Endpoints

	// clusters caches DescribeCluster for the life of the session (one run), so every
	// connection to a cluster checks its endpoint and CA without a call each time.
	mu       sync.Mutex
	clusters map[string]*Cluster
}

const (
	// DefaultSessionDuration is what AssumeRole asks for.
	DefaultSessionDuration = time.Hour
	// credentialsRefreshWindow: the credential cache retires assumed credentials this long
	// before STS's expiry (and reports that earlier time as their Expires), so nothing is
	// signed with credentials about to lapse. EKS tokens end there too (see EKSToken).
	credentialsRefreshWindow = 5 * time.Minute
)

// Session assumes t's role from the platform's base configuration. The first AWS call
// performs the AssumeRole; VerifyAccess makes it happen now, for a clear early error.
//
// Sessions are shared per target for the life of the provider process: every resource of a
// run that reaches the same customer role reuses one credential cache, so an apply assumes
// each role once (and again only when its credentials near expiry), not once per call.
func (f *Factory) Session(ctx context.Context, t Target) (*Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.sessions[t]; ok {
		return s, nil
	}
	s, err := f.newSession(ctx, t)
	if err != nil {
		return nil, err
	}
	if f.sessions == nil {
		f.sessions = map[Target]*Session{}
	}
	f.sessions[t] = s
	return s, nil
}

func (f *Factory) newSession(ctx context.Context, t Target) (*Session, error) {
	base, err := f.Base(ctx)
	if err != nil {
		return nil, err
	}
	cfg := base.Copy()
	if t.Region != "" {
		cfg.Region = t.Region
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set region on the resource or the provider (or AWS_REGION, or region in the shared configuration's profile)")
	}
	baseSTS := sts.NewFromConfig(cfg, f.cfg.stsOptions)
	provider := stscreds.NewAssumeRoleProvider(baseSTS, t.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		if t.ExternalID != "" {
			o.ExternalID = aws.String(t.ExternalID)
		}
		o.RoleSessionName = t.SessionName
		o.Duration = DefaultSessionDuration
	})
	cfg.Credentials = newRenewingCache(provider, f.cfg.Clock)
	ep := f.cfg.Endpoints
	return &Session{
		Target: t,
		cfg:    cfg,
		CloudFormation: cloudformation.NewFromConfig(cfg, func(o *cloudformation.Options) {
			if ep.CloudFormation != "" {
				o.BaseEndpoint = aws.String(ep.CloudFormation)
			}
		}),
		EKS: eks.NewFromConfig(cfg, func(o *eks.Options) {
			if ep.EKS != "" {
				o.BaseEndpoint = aws.String(ep.EKS)
			}
		}),
		STS:       sts.NewFromConfig(cfg, f.cfg.stsOptions),
		endpoints: ep,
	}, nil
}

// VerifyAccess assumes the role now and reports a refusal as an *AccessError.
func (s *Session) VerifyAccess(ctx context.Context) error {
	if _, err := s.cfg.Credentials.Retrieve(ctx); err != nil {
		return assumeRoleError(s.Target.RoleARN, err)
	}
	return nil
}

// AccessError is a refused AssumeRole, with the AWS error code and no secret.
type AccessError struct {
	RoleARN string
	Code    string
}

func (e *AccessError) Error() string {
	switch e.Code {
	case "AccessDenied":
		return fmt.Sprintf("assuming role %s was refused (AccessDenied): check that the role trusts the platform account and that external_id matches the role's sts:ExternalId condition", e.RoleARN)
	case "":
		return fmt.Sprintf("assuming role %s failed", e.RoleARN)
	default:
		return fmt.Sprintf("assuming role %s failed (%s)", e.RoleARN, e.Code)
	}
}

func assumeRoleError(role string, err error) error {
	var base *CredentialsError
	if errors.As(err, &base) {
		return base // the platform's credentials failed, before this role was asked
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return &AccessError{RoleARN: role, Code: api.ErrorCode()}
	}
	return fmt.Errorf("assuming role %s: %w", role, Sanitize(err))
}
