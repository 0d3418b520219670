package provider

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

// AWS authentication in the words of the AWS provider (hashicorp/aws), so the two
// providers can be configured side by side with the same settings and environment.

type assumeRoleModel struct {
	RoleARN           types.String `tfsdk:"role_arn"`
	ExternalID        types.String `tfsdk:"external_id"`
	SessionName       types.String `tfsdk:"session_name"`
	Duration          types.String `tfsdk:"duration"`
	Policy            types.String `tfsdk:"policy"`
	PolicyARNs        types.Set    `tfsdk:"policy_arns"`
	SourceIdentity    types.String `tfsdk:"source_identity"`
	Tags              types.Map    `tfsdk:"tags"`
	TransitiveTagKeys types.Set    `tfsdk:"transitive_tag_keys"`
}

type webIdentityModel struct {
	RoleARN              types.String `tfsdk:"role_arn"`
	WebIdentityToken     types.String `tfsdk:"web_identity_token"`
	WebIdentityTokenFile types.String `tfsdk:"web_identity_token_file"`
	SessionName          types.String `tfsdk:"session_name"`
	Duration             types.String `tfsdk:"duration"`
	Policy               types.String `tfsdk:"policy"`
	PolicyARNs           types.Set    `tfsdk:"policy_arns"`
}

var (
	policyARNRE      = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]{1,512}$`)
	sourceIdentityRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

func policyJSON() validator.String {
	return funcValidator{"must be an IAM policy document in JSON", func(s string) error {
		var doc map[string]any
		if err := json.Unmarshal([]byte(s), &doc); err != nil {
			return errors.New("it is not a JSON object")
		}
		return nil
	}}
}

func policyARNs() schema.SetAttribute {
	return schema.SetAttribute{
		ElementType:         types.StringType,
		Optional:            true,
		MarkdownDescription: "ARNs of managed IAM policies that further restrict the session.",
		Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(policyARNRE,
			"must be an IAM policy ARN such as arn:aws:iam::aws:policy/ReadOnlyAccess"))},
	}
}

func sessionDuration(what string) schema.StringAttribute {
	return schema.StringAttribute{
		Optional:            true,
		MarkdownDescription: "Session duration as a Go duration between `15m` and `12h` (default `1h`" + what + ").",
		Validators:          []validator.String{durationBetween(15*time.Minute, 12*time.Hour)},
	}
}

// authAttributes are the provider's top-level AWS authentication arguments.
func authAttributes() map[string]schema.Attribute {
	files := func(what, env string) schema.ListAttribute {
		return schema.ListAttribute{
			ElementType: types.StringType,
			Optional:    true,
			MarkdownDescription: "Paths of the shared " + what + " files, in order (default `" + env + "`, else `~/.aws/" +
				map[string]string{"configuration": "config", "credentials": "credentials"}[what] + "`).",
			Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))},
		}
	}
	return map[string]schema.Attribute{
		"region": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "Default AWS region. Also `AWS_REGION` or `AWS_DEFAULT_REGION`, else the `region` of the profile " +
				"in the shared configuration.",
			Validators: []validator.String{stringvalidator.RegexMatches(awsRegionRE, "must be an AWS region such as us-east-1")},
		},
		"profile": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "Named profile of the shared AWS configuration. Also `AWS_PROFILE`. Set here, it wins over " +
				"`AWS_ACCESS_KEY_ID` in the environment, as in the AWS provider.",
			Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		"shared_config_files":      files("configuration", "AWS_CONFIG_FILE"),
		"shared_credentials_files": files("credentials", "AWS_SHARED_CREDENTIALS_FILE"),
		"access_key": schema.StringAttribute{
			Optional:  true,
			Sensitive: true,
			MarkdownDescription: "AWS access key ID of the platform account. Also `AWS_ACCESS_KEY_ID`. Prefer the environment, " +
				"a profile or dynamic credentials.",
			Validators: []validator.String{stringvalidator.AlsoRequires(path.MatchRoot("secret_key")), stringvalidator.LengthAtLeast(16)},
		},
		"secret_key": schema.StringAttribute{
			Optional:            true,
			Sensitive:           true,
			MarkdownDescription: "AWS secret access key matching `access_key`. Also `AWS_SECRET_ACCESS_KEY`.",
			Validators:          []validator.String{stringvalidator.AlsoRequires(path.MatchRoot("access_key")), stringvalidator.LengthAtLeast(1)},
		},
		"token": schema.StringAttribute{
			Optional:            true,
			Sensitive:           true,
			MarkdownDescription: "Session token of temporary `access_key` and `secret_key`. Also `AWS_SESSION_TOKEN`.",
			Validators:          []validator.String{stringvalidator.AlsoRequires(path.MatchRoot("access_key")), stringvalidator.LengthAtLeast(1)},
		},
		"retry_mode": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "How AWS calls are retried: `standard` (the default) or `adaptive` (also rate-limits the client). Also `AWS_RETRY_MODE`.",
			Validators:          []validator.String{stringvalidator.OneOf("standard", "adaptive")},
		},
		"custom_ca_bundle": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "Path of a PEM file with the certificate authorities AWS endpoints are checked against " +
				"(a TLS-inspecting proxy, a private endpoint). Also `AWS_CA_BUNDLE`.",
			Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
		},
	}
}

// authBlocks are assume_role (one or more, chained) and assume_role_with_web_identity.
func authBlocks() map[string]schema.Block {
	return map[string]schema.Block{
		"assume_role": schema.ListNestedBlock{
			MarkdownDescription: "A role of the platform account to assume before anything else (the base credentials then " +
				"only need `sts:AssumeRole`). Several blocks are chained: each role is assumed with the credentials of the one " +
				"before. `role_arn` is required in each.",
			NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
				"role_arn": schema.StringAttribute{
					Required:            true,
					MarkdownDescription: "ARN of the role to assume.",
					Validators:          []validator.String{roleARN()},
				},
				"external_id": schema.StringAttribute{
					Optional:            true,
					Sensitive:           true,
					MarkdownDescription: "External ID the role's trust policy requires (`sts:ExternalId`).",
					Validators:          externalID(),
				},
				"session_name": schema.StringAttribute{
					Optional:            true,
					MarkdownDescription: "Session name (2-64 characters of `[\\w+=,.@-]`).",
					Validators:          []validator.String{sessionName()},
				},
				"duration": sessionDuration(""),
				"policy": schema.StringAttribute{
					Optional:            true,
					MarkdownDescription: "IAM policy (JSON) that further restricts the session.",
					Validators:          []validator.String{policyJSON()},
				},
				"policy_arns": policyARNs(),
				"source_identity": schema.StringAttribute{
					Optional:            true,
					MarkdownDescription: "Source identity of the session (2-64 characters of `[\\w+=,.@-]`), kept through role chaining.",
					Validators:          []validator.String{stringvalidator.RegexMatches(sourceIdentityRE, "must be 2-64 characters of letters, digits and +=,.@-")},
				},
				"tags": schema.MapAttribute{
					ElementType:         types.StringType,
					Optional:            true,
					MarkdownDescription: "Session tags.",
				},
				"transitive_tag_keys": schema.SetAttribute{
					ElementType:         types.StringType,
					Optional:            true,
					MarkdownDescription: "Keys of `tags` that pass on to roles this session assumes in turn.",
				},
			}},
		},
		"assume_role_with_web_identity": schema.SingleNestedBlock{
			MarkdownDescription: "Assume a role of the platform account with an OIDC token (AssumeRoleWithWebIdentity) instead " +
				"of using base credentials: CI systems, Kubernetes service accounts. Terraform Cloud's dynamic credentials need " +
				"no block: they arrive as a shared configuration file (see `shared_config_files`). `assume_role` blocks are " +
				"assumed after it.",
			Attributes: map[string]schema.Attribute{
				"role_arn": schema.StringAttribute{
					Optional:            true,
					MarkdownDescription: "ARN of the role to assume. Also `AWS_ROLE_ARN`.",
					Validators:          []validator.String{roleARN()},
				},
				"web_identity_token": schema.StringAttribute{
					Optional:            true,
					Sensitive:           true,
					MarkdownDescription: "The OIDC token itself. Conflicts with `web_identity_token_file`.",
					Validators: []validator.String{stringvalidator.LengthBetween(4, 20000),
						stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("web_identity_token_file"))},
				},
				"web_identity_token_file": schema.StringAttribute{
					Optional:            true,
					MarkdownDescription: "File holding the OIDC token, read again whenever the session is renewed. Also `AWS_WEB_IDENTITY_TOKEN_FILE`.",
					Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
				},
				"session_name": schema.StringAttribute{
					Optional:            true,
					MarkdownDescription: "Session name (2-64 characters of `[\\w+=,.@-]`). Also `AWS_ROLE_SESSION_NAME`.",
					Validators:          []validator.String{sessionName()},
				},
				"duration": sessionDuration(", or what the role allows"),
				"policy": schema.StringAttribute{
					Optional:            true,
					MarkdownDescription: "IAM policy (JSON) that further restricts the session.",
					Validators:          []validator.String{policyJSON()},
				},
				"policy_arns": policyARNs(),
			},
		},
	}
}

// validateWebIdentity: the block needs a role and a token, from it or the environment.
func validateWebIdentity(w *webIdentityModel, diags *diag.Diagnostics) {
	if w == nil {
		return
	}
	p := path.Root("assume_role_with_web_identity")
	if w.RoleARN.IsNull() && os.Getenv("AWS_ROLE_ARN") == "" {
		diags.AddAttributeError(p.AtName("role_arn"), "Missing web identity role",
			"assume_role_with_web_identity needs role_arn, or AWS_ROLE_ARN in the environment.")
	}
	if w.WebIdentityToken.IsNull() && w.WebIdentityTokenFile.IsNull() && os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE") == "" {
		diags.AddAttributeError(p, "Missing web identity token",
			"assume_role_with_web_identity needs web_identity_token or web_identity_token_file, or AWS_WEB_IDENTITY_TOKEN_FILE in the environment.")
	}
}

// checkCABundle reads custom_ca_bundle at Configure, so a wrong path is reported on the
// setting rather than on the first AWS call.
func checkCABundle(v types.String, diags *diag.Diagnostics) {
	if v.IsNull() || v.IsUnknown() {
		return
	}
	b, err := os.ReadFile(v.ValueString())
	var pe *os.PathError
	switch {
	case errors.As(err, &pe):
		diags.AddAttributeError(path.Root("custom_ca_bundle"), "Cannot read custom_ca_bundle",
			fmt.Sprintf("The file %s could not be read: %s.", v.ValueString(), pe.Err))
	case err != nil:
		diags.AddAttributeError(path.Root("custom_ca_bundle"), "Cannot read custom_ca_bundle", "The file could not be read.")
	case !x509.NewCertPool().AppendCertsFromPEM(b):
		diags.AddAttributeError(path.Root("custom_ca_bundle"), "Invalid custom_ca_bundle",
			fmt.Sprintf("The file %s holds no PEM certificate.", v.ValueString()))
	}
}

func stringList(ctx context.Context, v interface {
	IsNull() bool
	IsUnknown() bool
	ElementsAs(context.Context, any, bool) diag.Diagnostics
}) []string {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	var out []string
	_ = v.ElementsAs(ctx, &out, false)
	return out
}

func parseDuration(v types.String) time.Duration {
	d, _ := time.ParseDuration(v.ValueString()) // validated in the schema
	return d
}

func envOr(v types.String, env string) string {
	if !v.IsNull() && !v.IsUnknown() {
		return v.ValueString()
	}
	return os.Getenv(env)
}

// awsConfig turns the provider configuration into cloud.Config; the environment that the
// SDK does not read itself (the web identity block's fallbacks) is read here.
func awsConfig(ctx context.Context, m providerModel) cloud.Config {
	c := cloud.Config{
		Region:                 m.Region.ValueString(),
		Profile:                m.Profile.ValueString(),
		SharedConfigFiles:      stringList(ctx, m.SharedConfigFiles),
		SharedCredentialsFiles: stringList(ctx, m.SharedCredentialsFiles),
		AccessKey:              m.AccessKey.ValueString(),
		SecretKey:              m.SecretKey.ValueString(),
		Token:                  m.Token.ValueString(),
		MaxRetries:             int(m.MaxRetries.ValueInt64()),
		RetryMode:              m.RetryMode.ValueString(),
		CustomCABundle:         m.CustomCABundle.ValueString(),
		OnRetry:                logAWSRetry,
		OnCredentials:          logAWSCredentials,
	}
	if c.MaxRetries == 0 && os.Getenv("AWS_MAX_ATTEMPTS") == "" {
		c.MaxRetries = 25
	}
	for _, r := range m.AssumeRole {
		ar := cloud.AssumeRole{
			RoleARN:           r.RoleARN.ValueString(),
			ExternalID:        r.ExternalID.ValueString(),
			SessionName:       r.SessionName.ValueString(),
			Duration:          parseDuration(r.Duration),
			Policy:            r.Policy.ValueString(),
			PolicyARNs:        stringList(ctx, r.PolicyARNs),
			SourceIdentity:    r.SourceIdentity.ValueString(),
			TransitiveTagKeys: stringList(ctx, r.TransitiveTagKeys),
		}
		if !r.Tags.IsNull() && !r.Tags.IsUnknown() {
			_ = r.Tags.ElementsAs(ctx, &ar.Tags, false)
		}
		c.AssumeRoles = append(c.AssumeRoles, ar)
	}
	if w := m.AssumeRoleWithWebIdentity; w != nil {
		c.WebIdentity = &cloud.WebIdentity{
			RoleARN:     envOr(w.RoleARN, "AWS_ROLE_ARN"),
			Token:       w.WebIdentityToken.ValueString(),
			SessionName: envOr(w.SessionName, "AWS_ROLE_SESSION_NAME"),
			Duration:    parseDuration(w.Duration),
			Policy:      w.Policy.ValueString(),
			PolicyARNs:  stringList(ctx, w.PolicyARNs),
		}
		if c.WebIdentity.Token == "" {
			c.WebIdentity.TokenFile = envOr(w.WebIdentityTokenFile, "AWS_WEB_IDENTITY_TOKEN_FILE")
		}
	}
	if m.Endpoints != nil {
		c.Endpoints = cloud.Endpoints{
			STS:            m.Endpoints.STS.ValueString(),
			CloudFormation: m.Endpoints.CloudFormation.ValueString(),
			EKS:            m.Endpoints.EKS.ValueString(),
		}
	}
	return c
}

// logAWSSettings tells a TF_LOG=DEBUG reader which AWS settings are in play (names,
// paths and roles; never a key, token or external ID).
func logAWSSettings(ctx context.Context, c cloud.Config, region, regionSource string) {
	chain := []string{}
	for _, r := range c.AssumeRoles {
		chain = append(chain, r.RoleARN)
	}
	fields := map[string]any{
		"region": region, "region_source": regionSource, "profile": c.Profile,
		"shared_config_files": c.SharedConfigFiles, "shared_credentials_files": c.SharedCredentialsFiles,
		"static_keys": c.AccessKey != "", "session_token": c.Token != "", "assume_role_chain": chain,
		"retry_mode": c.RetryMode, "custom_ca_bundle": c.CustomCABundle,
	}
	if c.WebIdentity != nil {
		fields["web_identity_role"] = c.WebIdentity.RoleARN
		fields["web_identity_token_file"] = c.WebIdentity.TokenFile
	}
	tflog.SubsystemDebug(ctx, subsystemAWS, "AWS settings", fields)
}

// logAWSCredentials tells a TF_LOG=DEBUG reader which source won and when credentials are
// renewed (never any part of them).
func logAWSCredentials(ctx context.Context, e cloud.CredentialsEvent) {
	msg := fmt.Sprintf("AWS credentials obtained by %s (source %s)", e.Step, e.Source)
	fields := map[string]any{"step": e.Step, "source": e.Source}
	if e.CanExpire {
		msg += ", renewed after " + e.Expires.UTC().Format(time.RFC3339)
		fields["renew_after"] = e.Expires.UTC().Format(time.RFC3339)
	}
	tflog.SubsystemDebug(ctx, subsystemAWS, msg, fields)
}
