package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// cluster_connection is one object type shared by every resource that exports or takes a
// cluster, so `cluster_connection = clusterkit_eks_cluster.x.cluster_connection` just works.
// Either token is set (explicit credential) or eks is (the provider mints EKS tokens per
// operation through the customer role; nothing secret is stored).
var (
	eksConnectionAttrTypes = map[string]attr.Type{
		"region":       types.StringType,
		"cluster_name": types.StringType,
		"role_arn":     types.StringType,
		"external_id":  types.StringType,
		"session_name": types.StringType,
	}
	connectionAttrTypes = map[string]attr.Type{
		"host":                   types.StringType,
		"cluster_ca_certificate": types.StringType,
		"token":                  types.StringType,
		"eks":                    types.ObjectType{AttrTypes: eksConnectionAttrTypes},
	}
)

type connectionModel struct {
	Host                 types.String `tfsdk:"host"`
	ClusterCACertificate types.String `tfsdk:"cluster_ca_certificate"`
	Token                types.String `tfsdk:"token"`
	EKS                  types.Object `tfsdk:"eks"`
}

type eksConnectionModel struct {
	Region      types.String `tfsdk:"region"`
	ClusterName types.String `tfsdk:"cluster_name"`
	RoleARN     types.String `tfsdk:"role_arn"`
	ExternalID  types.String `tfsdk:"external_id"`
	SessionName types.String `tfsdk:"session_name"`
}

// connectionOutputAttribute is the computed cluster_connection of a resource.
func connectionOutputAttribute(description string) schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Computed:            true,
		MarkdownDescription: description,
		Attributes: map[string]schema.Attribute{
			"host":                   schema.StringAttribute{Computed: true, MarkdownDescription: "API server URL."},
			"cluster_ca_certificate": schema.StringAttribute{Computed: true, MarkdownDescription: "PEM CA bundle of the API server."},
			"token":                  schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "Bearer token, when the cluster was registered with one; null on the EKS path."},
			"eks": schema.SingleNestedAttribute{
				Computed:            true,
				MarkdownDescription: "On the EKS path: how the provider mints short-lived EKS tokens (assume `role_arn` with `external_id`, then a presigned STS call for `cluster_name`).",
				Attributes: map[string]schema.Attribute{
					"region":       schema.StringAttribute{Computed: true, MarkdownDescription: "AWS region of the cluster."},
					"cluster_name": schema.StringAttribute{Computed: true, MarkdownDescription: "EKS cluster name."},
					"role_arn":     schema.StringAttribute{Computed: true, MarkdownDescription: "Role assumed to mint tokens."},
					"external_id":  schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "External ID for the role."},
					"session_name": schema.StringAttribute{Computed: true, MarkdownDescription: "Session name used when assuming the role."},
				},
			},
		},
	}
}

// connectionInputAttribute is the cluster_connection a resource takes: pass another
// resource's exported cluster_connection.
func connectionInputAttribute(description string) schema.SingleNestedAttribute {
	a := connectionOutputAttribute(description)
	a.Computed = false
	a.Required = true
	for name, attr := range a.Attributes {
		switch v := attr.(type) {
		case schema.StringAttribute:
			v.Computed, v.Optional = false, true
			a.Attributes[name] = v
		case schema.SingleNestedAttribute:
			v.Computed, v.Optional = false, true
			for n, inner := range v.Attributes {
				s := inner.(schema.StringAttribute)
				s.Computed, s.Optional = false, true
				v.Attributes[n] = s
			}
			a.Attributes[name] = v
		}
	}
	return a
}

// resolveConnection turns a cluster_connection into a Kubernetes connection: a static
// token, or EKS tokens minted through the role on every use. Refusals become attribute
// errors on attr.
func resolveConnection(ctx context.Context, data *providerData, obj types.Object, attrPath path.Path, diags *diag.Diagnostics) (kube.Connection, bool) {
	if data == nil {
		diags.AddError("Provider not configured", "The clusterkit provider was not configured before use.")
		return kube.Connection{}, false
	}
	var c connectionModel
	diags.Append(obj.As(ctx, &c, basetypes.ObjectAsOptions{})...)
	if diags.HasError() {
		return kube.Connection{}, false
	}
	conn := kube.Connection{Host: c.Host.ValueString(), CAPEM: []byte(c.ClusterCACertificate.ValueString()), Token: c.Token.ValueString()}
	if c.EKS.IsNull() || c.EKS.IsUnknown() {
		if conn.Token == "" {
			diags.AddAttributeError(attrPath, "Incomplete cluster_connection", "Either token or eks must be set.")
			return conn, false
		}
		return conn, true
	}
	var e eksConnectionModel
	diags.Append(c.EKS.As(ctx, &e, basetypes.ObjectAsOptions{})...)
	if diags.HasError() {
		return conn, false
	}
	m := eksClusterModel{Region: e.Region, Name: e.ClusterName, ProvisionRoleARN: e.RoleARN, ExternalID: e.ExternalID, SessionName: e.SessionName}
	if m.Region.ValueString() == "" {
		m.Region = types.StringValue(data.region)
	}
	if m.SessionName.ValueString() == "" {
		m.SessionName = types.StringValue(defaultSessionName(e.ClusterName.ValueString()))
	}
	sess, ok := (&eksClusterResource{data: data}).session(ctx, m, diags)
	if !ok {
		return conn, false
	}
	conn.Tokens = sess.TokenSource(e.ClusterName.ValueString(), nil)
	conn.TokensKey = "eks:" + e.RoleARN.ValueString() + "|" + m.Region.ValueString() + "|" + e.ClusterName.ValueString()
	return conn, true
}

// connectionSecrets lists what withLogging must mask for a connection.
func connectionSecrets(ctx context.Context, obj types.Object) []string {
	var c connectionModel
	if obj.IsNull() || obj.IsUnknown() || obj.As(ctx, &c, basetypes.ObjectAsOptions{}).HasError() {
		return nil
	}
	out := []string{c.Token.ValueString()}
	var e eksConnectionModel
	if !c.EKS.IsNull() && !c.EKS.IsUnknown() && !c.EKS.As(ctx, &e, basetypes.ObjectAsOptions{}).HasError() {
		out = append(out, e.ExternalID.ValueString())
	}
	return out
}

// integrationConnectionAttribute is cluster_connection on clusterkit_cluster_integration:
// taken from another resource when set, otherwise built from host, CA and token.
func integrationConnectionAttribute() schema.SingleNestedAttribute {
	a := connectionInputAttribute("How this integration reaches the cluster and how other clusterkit resources (managed apps) reach it after: " +
		"set it to `clusterkit_eks_cluster.<name>.cluster_connection` for the EKS path (short-lived EKS tokens, nothing secret stored), " +
		"or leave it unset and give `host`, `cluster_ca_certificate` and `token`; it then exports those. Pass it on as a managed app's `cluster_connection`.")
	a.Required, a.Optional, a.Computed = false, true, true
	return a
}
