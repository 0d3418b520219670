package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

const (
	subsystemKubernetes = "kubernetes"
	subsystemAWS        = "aws"
)

// Tokens minted by EKS or Kubernetes, and AWS credentials and signatures in every form
// internal/cloud scrubs from errors (query, header, credentials document, raw session
// token), masked wherever they might appear.
var tokenPatterns = append([]*regexp.Regexp{
	regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`), // JWTs (service account tokens)
}, cloud.SecretPatterns()...)

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
	keys := []string{"token", "external_id", "secret_key", "access_key", "session_token", "secret_access_key", "signature"}
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

// logAWSRetry is the cloud.RetryObserver of the provider's AWS configuration: a retried
// AWS call would otherwise only show as a long "Still creating...".
func logAWSRetry(ctx context.Context, e cloud.RetryEvent) {
	op := strings.TrimSpace(e.Service + " " + e.Operation)
	answer := "no answer"
	switch {
	case e.Status != 0 && e.Code != "":
		answer = fmt.Sprintf("HTTP %d %s", e.Status, e.Code)
	case e.Status != 0:
		answer = fmt.Sprintf("HTTP %d", e.Status)
	case e.Cause != "":
		answer = "no answer: " + e.Cause
	}
	fields := map[string]any{
		"operation": op, "attempt": e.Attempt, "max_attempts": e.MaxAttempts,
		"status": e.Status, "error_code": e.Code,
	}
	if e.GaveUp {
		tflog.SubsystemWarn(ctx, subsystemAWS, fmt.Sprintf("AWS call %s: attempt %d of %d failed (%s); giving up",
			op, e.Attempt, e.MaxAttempts, answer), fields)
		return
	}
	fields["wait"] = e.Wait.Round(time.Millisecond).String()
	tflog.SubsystemInfo(ctx, subsystemAWS, fmt.Sprintf("AWS call %s: attempt %d of %d failed (%s); retrying in %s",
		op, e.Attempt, e.MaxAttempts, answer, e.Wait.Round(time.Millisecond)), fields)
}
