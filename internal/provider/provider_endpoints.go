package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
)

// AWS requests carry signatures and, from assumed roles, session tokens (in a header), so
// custom endpoints get the cluster URLs' rule: https, and no local or metadata address,
// unless allow_local_requests says this is an emulator or a private setup.

// endpointEnv are the variables through which the SDK itself picks up endpoints.
var endpointEnv = []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_CLOUDFORMATION", "AWS_ENDPOINT_URL_EKS"}

const endpointRule = "must be an https URL of the AWS service (such as https://sts.us-east-1.amazonaws.com); " +
	"plain http and hosts that are loopback, link-local (cloud metadata), private or otherwise local are allowed " +
	"only with allow_local_requests = true (or CLUSTERKIT_ALLOW_LOCAL_REQUESTS=true)"

// endpointProblem says why raw is not an acceptable endpoint, in words that do not repeat
// it (a URL may carry a password); "" when it is acceptable.
func endpointProblem(raw string, allowLocal bool) string {
	_, err := netguard.Policy{AllowLocal: allowLocal}.ValidateURL(raw)
	var blocked *netguard.BlockedError
	var bad *netguard.URLError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &blocked):
		return "its host is a " + blocked.Class + " address"
	case errors.As(err, &bad):
		return bad.Reason
	default:
		return "it is not a well-formed URL"
	}
}

// endpointURL validates an endpoints.* attribute at plan time, with allow_local_requests
// read from the same configuration (or its environment variable).
type endpointURL struct{}

func (endpointURL) Description(context.Context) string         { return endpointRule }
func (endpointURL) MarkdownDescription(context.Context) string { return endpointRule }

func (endpointURL) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var allow types.Bool
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("allow_local_requests"), &allow)...)
	allowLocal, known := allowLocalSetting(allow)
	if !known {
		allowLocal = true // only the form can be checked now; Configure checks the rest
	}
	addEndpointProblem(&resp.Diagnostics, req.Path, req.ConfigValue.ValueString(), allowLocal)
}

// allowLocalSetting is allow_local_requests, or CLUSTERKIT_ALLOW_LOCAL_REQUESTS when it is
// null; known is false while the attribute is unknown or the variable malformed (Configure
// reports that one).
func allowLocalSetting(v types.Bool) (allow, known bool) {
	if v.IsUnknown() {
		return false, false
	}
	if v.IsNull() {
		env := os.Getenv("CLUSTERKIT_ALLOW_LOCAL_REQUESTS")
		if env == "" {
			return false, true
		}
		b, err := strconv.ParseBool(env)
		return b, err == nil
	}
	return v.ValueBool(), true
}

func addEndpointProblem(diags *diag.Diagnostics, p path.Path, raw string, allowLocal bool) {
	if reason := endpointProblem(raw, allowLocal); reason != "" {
		diags.AddAttributeError(p, "Invalid "+p.String(), fmt.Sprintf("%s %s; this one was refused: %s.", p, endpointRule, reason))
	}
}

// checkEndpoints runs at Configure: the attributes that were unknown at validation, and
// the SDK's endpoint variables, which no schema validator sees.
func checkEndpoints(diags *diag.Diagnostics, m *endpointsModel, allowLocal bool) {
	if m != nil {
		for name, v := range map[string]types.String{"sts": m.STS, "cloudformation": m.CloudFormation, "eks": m.EKS} {
			if !v.IsNull() && !v.IsUnknown() {
				addEndpointProblem(diags, path.Root("endpoints").AtName(name), v.ValueString(), allowLocal)
			}
		}
	}
	for _, env := range endpointEnv {
		raw := os.Getenv(env)
		if raw == "" {
			continue
		}
		if reason := endpointProblem(raw, allowLocal); reason != "" {
			diags.AddError("Invalid "+env, fmt.Sprintf("The environment variable %s %s; its value was refused: %s.", env, endpointRule, reason))
		}
	}
}
