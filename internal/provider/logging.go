package provider

import (
	"context"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

const (
	subsystemKubernetes = "kubernetes"
	subsystemAWS        = "aws"
)

// Tokens minted by EKS or Kubernetes, masked wherever they might appear.
var tokenPatterns = []*regexp.Regexp{
	regexp.MustCompile(`k8s-aws-v1\.[A-Za-z0-9_-]+`),
	regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`), // JWTs (service account tokens)
}

// withLogging prepares ctx for one provider operation: the subsystems and masks for every
// secret the operation knows about.
func withLogging(ctx context.Context, secrets ...string) context.Context {
	ctx = tflog.NewSubsystem(ctx, subsystemKubernetes, tflog.WithLevelFromEnv("TF_LOG_PROVIDER_CLUSTERKIT_KUBERNETES"))
	ctx = tflog.NewSubsystem(ctx, subsystemAWS, tflog.WithLevelFromEnv("TF_LOG_PROVIDER_CLUSTERKIT_AWS"))
	var nonEmpty []string
	for _, s := range secrets {
		if s != "" {
			nonEmpty = append(nonEmpty, s)
		}
	}
	keys := []string{"token", "external_id", "secret_key", "access_key", "session_token"}
	ctx = tflog.MaskFieldValuesWithFieldKeys(ctx, keys...)
	ctx = tflog.MaskAllFieldValuesRegexes(ctx, tokenPatterns...)
	ctx = tflog.MaskMessageRegexes(ctx, tokenPatterns...)
	for _, sub := range []string{subsystemKubernetes, subsystemAWS} {
		ctx = tflog.SubsystemMaskFieldValuesWithFieldKeys(ctx, sub, keys...)
		ctx = tflog.SubsystemMaskAllFieldValuesRegexes(ctx, sub, tokenPatterns...)
		ctx = tflog.SubsystemMaskMessageRegexes(ctx, sub, tokenPatterns...)
	}
	if len(nonEmpty) > 0 {
		ctx = context.WithValue(ctx, secretsKey{}, append(secretsOf(ctx), nonEmpty...))
		ctx = tflog.MaskAllFieldValuesStrings(ctx, nonEmpty...)
		ctx = tflog.MaskMessageStrings(ctx, nonEmpty...)
		for _, sub := range []string{subsystemKubernetes, subsystemAWS} {
			ctx = tflog.SubsystemMaskAllFieldValuesStrings(ctx, sub, nonEmpty...)
			ctx = tflog.SubsystemMaskMessageStrings(ctx, sub, nonEmpty...)
		}
	}
	return ctx
}

// secretsKey holds, in a context, the secrets withLogging masks: maskSecrets applies the
// same masks to text that goes into a diagnostic rather than a log.
type secretsKey struct{}

func secretsOf(ctx context.Context) []string {
	s, _ := ctx.Value(secretsKey{}).([]string)
	return s
}

// maskSecrets replaces every secret the operation knows of, and every token, in s.
func maskSecrets(ctx context.Context, s string) string {
	for _, secret := range secretsOf(ctx) {
		s = strings.ReplaceAll(s, secret, "***")
	}
	for _, re := range tokenPatterns {
		s = re.ReplaceAllString(s, "***")
	}
	return s
}

// logKubernetesCall is the kube.LogFunc of the provider's client factory.
func logKubernetesCall(ctx context.Context, msg string, fields map[string]any) {
	tflog.SubsystemDebug(ctx, subsystemKubernetes, msg, fields)
}
