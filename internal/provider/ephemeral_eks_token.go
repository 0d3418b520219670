package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ ephemeral.EphemeralResource              = (*eksTokenEphemeral)(nil)
	_ ephemeral.EphemeralResourceWithConfigure = (*eksTokenEphemeral)(nil)
)

func newEKSTokenEphemeral() ephemeral.EphemeralResource { return &eksTokenEphemeral{} }

type eksTokenEphemeral struct{ data *providerData }

type eksTokenModel struct {
	ClusterName          types.String `tfsdk:"cluster_name"`
	Region               types.String `tfsdk:"region"`
	ProvisionRoleARN     types.String `tfsdk:"provision_role_arn"`
	ExternalID           types.String `tfsdk:"external_id"`
	SessionName          types.String `tfsdk:"session_name"`
	Host                 types.String `tfsdk:"host"`
	ClusterCACertificate types.String `tfsdk:"cluster_ca_certificate"`
	Token                types.String `tfsdk:"token"`
	Expiration           types.String `tfsdk:"expiration"`
}

func (e *eksTokenEphemeral) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_eks_token"
}

func (e *eksTokenEphemeral) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A short-lived bearer token for an EKS cluster, minted through the customer's provisioning role, with the cluster's endpoint and CA. " +
			"Ephemeral: never written to state or plan, so it can configure other providers (kubernetes, helm) in the same configuration. " +
			"Pass `clusterkit_eks_cluster.<name>.cluster_connection.eks` attributes in.",
		Attributes: map[string]schema.Attribute{
			"cluster_name": schema.StringAttribute{Required: true, MarkdownDescription: "EKS cluster name.",
				Validators: []validator.String{eksClusterName()}},
			"region": schema.StringAttribute{Optional: true, MarkdownDescription: "AWS region; default the provider's.",
				Validators: []validator.String{stringvalidator.RegexMatches(awsRegionRE, "must be an AWS region such as eu-west-1")}},
			"provision_role_arn": schema.StringAttribute{Required: true, MarkdownDescription: "Role to assume for the token.", Validators: []validator.String{roleARN()}},
			"external_id":        schema.StringAttribute{Required: true, Sensitive: true, MarkdownDescription: "External ID the role requires.", Validators: externalID()},
			"session_name": schema.StringAttribute{Optional: true, MarkdownDescription: "Role session name; default `clusterkit-<cluster_name>`.",
				Validators: []validator.String{sessionName()}},
			"host":                   schema.StringAttribute{Computed: true, MarkdownDescription: "API server URL."},
			"cluster_ca_certificate": schema.StringAttribute{Computed: true, MarkdownDescription: "PEM CA certificate of the API server."},
			"token":                  schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "Bearer token (`k8s-aws-v1.…`), valid for 14 minutes, or less when the role's temporary credentials that signed it are retired sooner (see `expiration`)."},
			"expiration":             schema.StringAttribute{Computed: true, MarkdownDescription: "When the provider stops trusting the token (RFC 3339): 14 minutes after it was minted, or earlier when the assumed role's credentials that signed it are retired first (5 minutes before they expire)."},
		},
	}
}

func (e *eksTokenEphemeral) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	d, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	e.data = d
}

func (e *eksTokenEphemeral) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m eksTokenModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = withLogging(ctx, m.ExternalID.ValueString())
	region := m.Region.ValueString()
	if region == "" && e.data != nil {
		region = e.data.region
	}
	if region == "" {
		resp.Diagnostics.AddAttributeError(path.Root("region"), "No AWS region", "Set region here or on the provider (or AWS_REGION).")
		return
	}
	session := m.SessionName.ValueString()
	if session == "" {
		session = defaultSessionName(m.ClusterName.ValueString())
	}
	cluster := eksClusterModel{
		Region: types.StringValue(region), ProvisionRoleARN: m.ProvisionRoleARN, ExternalID: m.ExternalID,
		SessionName: types.StringValue(session), Name: m.ClusterName,
	}
	sess, ok := (&eksClusterResource{data: e.data}).session(ctx, cluster, &resp.Diagnostics)
	if !ok {
		return
	}
	cl, err := sess.KnownCluster(ctx, m.ClusterName.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cluster_name"), "Reading the EKS cluster failed", err.Error())
		return
	}
	if !cl.Serving() {
		resp.Diagnostics.AddAttributeError(path.Root("cluster_name"), fmt.Sprintf("EKS cluster %s is not ready", m.ClusterName.ValueString()),
			fmt.Sprintf("EKS reports it as %s, without a reachable API server; no token was minted. Open this again once the cluster is active.", cl.Status))
		return
	}
	tok, err := sess.EKSToken(ctx, m.ClusterName.ValueString(), time.Now())
	if err != nil {
		resp.Diagnostics.AddError("Minting the EKS token failed", err.Error())
		return
	}
	m.Region = types.StringValue(region)
	m.SessionName = types.StringValue(session)
	m.Host = types.StringValue(cl.Endpoint)
	m.ClusterCACertificate = types.StringValue(string(cl.CAPEM))
	m.Token = types.StringValue(tok.Value)
	m.Expiration = types.StringValue(tok.Expiration.UTC().Format(time.RFC3339))
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}
