package cloud

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// ResolveRegion is the region the base configuration uses and where it came from: the
// region setting, AWS_REGION, AWS_DEFAULT_REGION, or the profile of the shared
// configuration. It reads local files only and asks for no credentials; "" when none.
func ResolveRegion(ctx context.Context, c Config) (region, source string, err error) {
	if c.Region != "" {
		return c.Region, "region", nil
	}
	for _, env := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if v := os.Getenv(env); v != "" {
			return v, env, nil
		}
	}
	shared, err := c.sharedProfile(ctx)
	if err != nil {
		var missing awsconfig.SharedConfigProfileNotExistError
		if c.Profile == "" && os.Getenv("AWS_PROFILE") == "" && asProfileMissing(err, &missing) {
			return "", "", nil // no default profile: no region, and nothing wrong
		}
		reason := scrub(err.Error())
		if asProfileMissing(err, &missing) {
			reason = "it is in none of the shared configuration files (" + strings.Join(missing.Filename, ", ") + ")"
		}
		return "", "", &CredentialsError{Stage: "loading profile " + profileName(c) + " of the shared configuration", Reason: reason}
	}
	if shared.Region != "" {
		return shared.Region, "profile " + profileName(c), nil
	}
	return "", "", nil
}

// sharedProfile reads the profile of the shared configuration, from the files the SDK
// would read.
func (c Config) sharedProfile(ctx context.Context) (awsconfig.SharedConfig, error) {
	configFiles, credentialsFiles := c.SharedConfigFiles, c.SharedCredentialsFiles
	if v := os.Getenv("AWS_CONFIG_FILE"); len(configFiles) == 0 && v != "" {
		configFiles = []string{v}
	}
	if v := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); len(credentialsFiles) == 0 && v != "" {
		credentialsFiles = []string{v}
	}
	return awsconfig.LoadSharedConfigProfile(ctx, profileName(c), func(o *awsconfig.LoadSharedConfigOptions) {
		if len(configFiles) > 0 {
			o.ConfigFiles = configFiles
		}
		if len(credentialsFiles) > 0 {
			o.CredentialsFiles = credentialsFiles
		}
	})
}

func asProfileMissing(err error, target *awsconfig.SharedConfigProfileNotExistError) bool {
	return errors.As(err, target)
}

func profileName(c Config) string {
	switch {
	case c.Profile != "":
		return c.Profile
	case os.Getenv("AWS_PROFILE") != "":
		return os.Getenv("AWS_PROFILE")
	default:
		return "default"
	}
}

// Identity is who the base configuration signs as.
type Identity struct {
	ARN     string
	Account string
	// Source is the SDK's name for the provider that made the credentials, e.g.
	// "StaticCredentials", "EnvConfigCredentials", "SharedConfigCredentials: <file>",
	// "AssumeRoleProvider", "WebIdentityCredentials".
	Source string
}

// Identity asks STS who the base credentials are (GetCallerIdentity), for the debug log
// and the tests that show which source won.
func (f *Factory) Identity(ctx context.Context) (Identity, error) {
	cfg, err := f.Base(ctx)
	if err != nil {
		return Identity{}, err
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return Identity{}, Sanitize(err)
	}
	out, err := sts.NewFromConfig(cfg, f.cfg.stsOptions).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, Sanitize(err)
	}
	return Identity{ARN: aws.ToString(out.Arn), Account: aws.ToString(out.Account), Source: creds.Source}, nil
}
