package provider

import (
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
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
