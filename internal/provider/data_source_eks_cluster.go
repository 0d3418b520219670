package provider

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

var (
	_ datasource.DataSource              = (*eksClusterDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*eksClusterDataSource)(nil)
)

func newEKSClusterDataSource() datasource.DataSource { return &eksClusterDataSource{} }

// eksClusterDataSource reads an EKS cluster made elsewhere (another workspace's
// clusterkit_eks_cluster, or any cluster the customer role may describe) and exports the
// same cluster_connection the resource does: the EKS path, no token.
type eksClusterDataSource struct{ data *providerData }

type eksClusterDataSourceModel struct {
	ID                       types.String `tfsdk:"id"`
	Name                     types.String `tfsdk:"name"`
	Region                   types.String `tfsdk:"region"`
	ProvisionRoleARN         types.String `tfsdk:"provision_role_arn"`
	ExternalID               types.String `tfsdk:"external_id"`
	SessionName              types.String `tfsdk:"session_name"`
	Endpoint                 types.String `tfsdk:"endpoint"`
	CertificateAuthorityData types.String `tfsdk:"certificate_authority_data"`
	ClusterARN               types.String `tfsdk:"cluster_arn"`
	KubernetesVersion        types.String `tfsdk:"kubernetes_version"`
	Status                   types.String `tfsdk:"status"`
	PlatformVersion          types.String `tfsdk:"platform_version"`
	OIDCIssuerURL            types.String `tfsdk:"oidc_issuer_url"`
	CreatedAt                types.String `tfsdk:"created_at"`
	ClusterRoleARN           types.String `tfsdk:"cluster_role_arn"`
	SubnetIDs                types.List   `tfsdk:"subnet_ids"`
	SecurityGroupIDs         types.List   `tfsdk:"security_group_ids"`
	EndpointPublicAccess     types.Bool   `tfsdk:"endpoint_public_access"`
	EndpointPrivateAccess    types.Bool   `tfsdk:"endpoint_private_access"`
	PublicAccessCIDRs        types.List   `tfsdk:"public_access_cidrs"`
	EnabledLogTypes          types.Set    `tfsdk:"enabled_log_types"`
	SecretsKMSKeyARN         types.String `tfsdk:"secrets_kms_key_arn"`
	IPFamily                 types.String `tfsdk:"ip_family"`
	ServiceIPv4CIDR          types.String `tfsdk:"service_ipv4_cidr"`
	ServiceIPv6CIDR          types.String `tfsdk:"service_ipv6_cidr"`
	Tags                     types.Map    `tfsdk:"tags"`
	ClusterConnection        types.Object `tfsdk:"cluster_connection"`
}

func (d *eksClusterDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_eks_cluster"
}

func (d *eksClusterDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	list := func(desc string) schema.ListAttribute {
		return schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An EKS cluster that already exists in a customer's AWS account (made by a `clusterkit_eks_cluster` in another workspace, or otherwise), " +
			"read by region and name through the customer's provisioning role and its external ID. " +
			"It exports the `cluster_connection` that `clusterkit_cluster_integration` and `clusterkit_managed_app` take, exactly as the resource does: " +
			"the provider mints a short-lived EKS token through the role for every operation, so no token or temporary AWS credential is ever in state, plan or logs.",
		Attributes: map[string]schema.Attribute{
			"id": computed("`<region>/<name>`, as the resource's `id`."),
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the EKS cluster (for a `clusterkit_eks_cluster`, its `name`).",
				Validators:          []validator.String{eksClusterName()},
			},
			"region": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "AWS region of the cluster; default the provider's `region`.",
				Validators:          []validator.String{stringvalidator.RegexMatches(awsRegionRE, "must be an AWS region such as eu-west-1")},
			},
			"provision_role_arn": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "ARN of the customer's role to assume from the platform's credentials. It needs `eks:DescribeCluster` on the cluster and, for the resources that take `cluster_connection`, access to the cluster's Kubernetes API (the role that created the cluster has it). Usually the `provision_role_arn` of the `clusterkit_eks_cluster` that made the cluster.",
				Validators:          []validator.String{roleARN()},
			},
			"external_id": schema.StringAttribute{
				Required: true, Sensitive: true,
				MarkdownDescription: "External ID the role requires (2-1224 characters of letters, digits and `+=,.@:/-`).",
				Validators:          externalID(),
			},
			"session_name": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "Role session name, visible in the customer's CloudTrail; default `clusterkit-<name>` (the resource's default, so the `cluster_connection` is the same as the resource's).",
				Validators:          []validator.String{sessionName()},
			},
			"endpoint":                   computed("URL of the cluster's API server."),
			"certificate_authority_data": computed("Base64-encoded CA certificate of the API server (as EKS returns it)."),
			"cluster_arn":                computed("ARN of the EKS cluster."),
			"kubernetes_version":         computed("Kubernetes minor version of the control plane, such as `1.35`."),
			"status":                     computed("Status of the EKS cluster: `ACTIVE`, `UPDATING`, `CREATING`, `DELETING` or `FAILED`. Other resources reach the cluster only while it is `ACTIVE` or `UPDATING`."),
			"platform_version":           computed("EKS platform version of the control plane, such as `eks.12`."),
			"oidc_issuer_url":            computed("The cluster's OpenID Connect issuer URL (for IAM roles for service accounts); null when EKS reports none."),
			"created_at":                 computed("When the cluster was created (RFC 3339, UTC); null when EKS reports no time."),
			"cluster_role_arn":           computed("ARN of the EKS service role the control plane uses."),
			"subnet_ids":                 list("Subnets of the control plane's network interfaces."),
			"security_group_ids":         list("Security groups given to the control plane's network interfaces (for a `clusterkit_eks_cluster`, its `control_plane_security_group_id`)."),
			"endpoint_public_access":     schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the API server is reachable from the internet (from `public_access_cidrs`)."},
			"endpoint_private_access":    schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the API server is reachable from inside the VPC through EKS-managed network interfaces."},
			"public_access_cidrs":        list("Public IPv4 CIDR blocks allowed to reach the public endpoint."),
			"enabled_log_types": schema.SetAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "Control-plane log types EKS sends to CloudWatch Logs (any of `" + strings.Join(cloud.EKSLogTypes(), "`, `") + "`); empty when none."},
			"secrets_kms_key_arn": computed("ARN of the KMS key EKS envelope-encrypts Kubernetes secrets with; null when the cluster has none of its own."),
			"ip_family":           computed("IP family of pod and service addresses: `ipv4` or `ipv6`."),
			"service_ipv4_cidr":   computed("CIDR of Kubernetes service IPs of an `ipv4` cluster; null for `ipv6`."),
			"service_ipv6_cidr":   computed("CIDR of Kubernetes service IPs EKS chose for an `ipv6` cluster; null for `ipv4`."),
			"tags": schema.MapAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "Tags of the cluster, as EKS reports them (for a `clusterkit_eks_cluster`, its stack's tags, which CloudFormation propagates, with CloudFormation's own `aws:cloudformation:*` and the provider's `clusterkit.dev/*`)."},
			"cluster_connection": dataSourceConnectionAttribute("How `clusterkit_cluster_integration` and `clusterkit_managed_app` reach this cluster, in the shape `clusterkit_eks_cluster` exports: " +
				"`cluster_connection = data.clusterkit_eks_cluster.<name>.cluster_connection`. It holds no token: the provider assumes `provision_role_arn` with `external_id` " +
				"and mints a short-lived EKS token for every operation, and sends it only to the endpoint and CA EKS reports for the cluster. " +
				"While the cluster is not `ACTIVE` or `UPDATING`, `host` and `cluster_ca_certificate` are null, and a resource that takes it fails saying the cluster is not ready."),
		},
	}
}

// dataSourceConnectionAttribute is the resource's cluster_connection output (connection.go,
// the one description of it) as a data source attribute.
func dataSourceConnectionAttribute(description string) schema.SingleNestedAttribute {
	r := connectionOutputAttribute(description)
	return schema.SingleNestedAttribute{Computed: true, MarkdownDescription: r.MarkdownDescription, Attributes: dataSourceAttributes(r.Attributes)}
}

func dataSourceAttributes(in map[string]rschema.Attribute) map[string]schema.Attribute {
	out := make(map[string]schema.Attribute, len(in))
	for name, a := range in {
		switch v := a.(type) {
		case rschema.StringAttribute:
			out[name] = schema.StringAttribute{Computed: true, Sensitive: v.Sensitive, MarkdownDescription: v.MarkdownDescription}
		case rschema.SingleNestedAttribute:
			out[name] = schema.SingleNestedAttribute{Computed: true, Sensitive: v.Sensitive, MarkdownDescription: v.MarkdownDescription, Attributes: dataSourceAttributes(v.Attributes)}
		default:
			// connection.go grew an attribute kind this copy does not know: the schema
			// tests (every data source attribute described, types equal) fail first.
			panic(fmt.Sprintf("cluster_connection.%s: %T has no data source form", name, a))
		}
	}
	return out
}

func (d *eksClusterDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	data, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	d.data = data
}

func (d *eksClusterDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m eksClusterDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = withLogging(ctx, m.ExternalID.ValueString())
	if d.data == nil {
		resp.Diagnostics.AddError("Provider not configured", "The clusterkit provider was not configured before use.")
		return
	}
	if m.Region.ValueString() == "" {
		if d.data.region == "" {
			resp.Diagnostics.AddAttributeError(path.Root("region"), "No AWS region", "Set region here or on the provider (or AWS_REGION).")
			return
		}
		m.Region = types.StringValue(d.data.region)
	}
	name, region := m.Name.ValueString(), m.Region.ValueString()
	if m.SessionName.ValueString() == "" {
		m.SessionName = types.StringValue(defaultSessionName(name))
	}
	// The same target the resource assumes, so the same diagnostics (and the same session
	// for the run: resources that take the connection reuse its credentials).
	target := eksClusterModel{Region: m.Region, Name: m.Name, ProvisionRoleARN: m.ProvisionRoleARN, ExternalID: m.ExternalID, SessionName: m.SessionName}
	sess, ok := (&eksClusterResource{data: d.data}).session(ctx, target, &resp.Diagnostics)
	if !ok {
		return
	}
	tflog.SubsystemDebug(ctx, subsystemAWS, "Reading the EKS cluster", map[string]any{"cluster": name, "region": region})
	cl, err := sess.FindClusterDetails(ctx, name)
	switch {
	case cloud.IsNotFound(err):
		resp.Diagnostics.AddAttributeError(path.Root("name"), "EKS cluster not found",
			fmt.Sprintf("EKS has no cluster named %s in %s that the role %s can see. Check name and region: the cluster must be in the account of provision_role_arn.",
				name, region, m.ProvisionRoleARN.ValueString()))
		return
	case err != nil:
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Reading the EKS cluster failed", err.Error())
		return
	}
	if !cl.Serving() {
		resp.Diagnostics.AddAttributeWarning(path.Root("name"), fmt.Sprintf("EKS cluster %s is not ready", name),
			fmt.Sprintf("EKS reports cluster %s in %s as %s, without a reachable API server: cluster_connection has no host, and resources that take it fail until the cluster is active.",
				name, region, cl.Status))
	}
	m.fromCluster(cl, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (m *eksClusterDataSourceModel) fromCluster(cl *cloud.ClusterDetails, diags *diag.Diagnostics) {
	m.ID = types.StringValue(eksID(m.Region.ValueString(), m.Name.ValueString()))
	m.Endpoint = nullIfEmpty(cl.Endpoint)
	m.CertificateAuthorityData = types.StringNull()
	if len(cl.CAPEM) > 0 {
		m.CertificateAuthorityData = types.StringValue(base64.StdEncoding.EncodeToString(cl.CAPEM))
	}
	m.ClusterARN = nullIfEmpty(cl.ARN)
	m.KubernetesVersion = nullIfEmpty(cl.Version)
	m.Status = nullIfEmpty(cl.Status)
	m.PlatformVersion = nullIfEmpty(cl.PlatformVersion)
	m.OIDCIssuerURL = nullIfEmpty(cl.OIDCIssuer)
	m.CreatedAt = types.StringNull()
	if !cl.CreatedAt.IsZero() {
		m.CreatedAt = types.StringValue(cl.CreatedAt.UTC().Format(time.RFC3339))
	}
	m.ClusterRoleARN = nullIfEmpty(cl.RoleARN)
	m.SubnetIDs = listOfStrings(cl.SubnetIDs, diags)
	m.SecurityGroupIDs = listOfStrings(cl.SecurityGroupIDs, diags)
	m.EndpointPublicAccess = types.BoolValue(cl.EndpointPublicAccess)
	m.EndpointPrivateAccess = types.BoolValue(cl.EndpointPrivateAccess)
	m.PublicAccessCIDRs = listOfStrings(cl.PublicAccessCIDRs, diags)
	logs, d := types.SetValueFrom(context.Background(), types.StringType, nonNilStrings(cl.LogTypes))
	diags.Append(d...)
	m.EnabledLogTypes = logs
	m.SecretsKMSKeyARN = nullIfEmpty(cl.SecretsKeyARN)
	m.IPFamily = nullIfEmpty(cl.IPFamily)
	m.ServiceIPv4CIDR, m.ServiceIPv6CIDR = types.StringNull(), types.StringNull()
	if cl.IPFamily == ipv6 {
		m.ServiceIPv6CIDR = nullIfEmpty(cl.ServiceCIDR)
	} else {
		m.ServiceIPv4CIDR = nullIfEmpty(cl.ServiceCIDR)
	}
	tags, d := types.MapValueFrom(context.Background(), types.StringType, nonNilMap(cl.Tags))
	diags.Append(d...)
	m.Tags = tags
	m.ClusterConnection = m.connection(cl.Cluster, diags)
}

// connection is the cluster_connection the resource exports for the same cluster (see
// eksClusterModel.fillOutputs): the EKS path with the role that read it, host and CA only
// while the cluster serves (resolveConnection checks both against EKS again on every use).
func (m *eksClusterDataSourceModel) connection(cl *cloud.Cluster, diags *diag.Diagnostics) types.Object {
	host, caPEM := types.StringNull(), types.StringNull()
	if cl.Serving() {
		host, caPEM = types.StringValue(cl.Endpoint), types.StringValue(string(cl.CAPEM))
	}
	return eksConnectionValue(host, caPEM, m.Region, m.Name, m.ProvisionRoleARN, m.ExternalID, m.SessionName, diags)
}

func nullIfEmpty(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func listOfStrings(s []string, diags *diag.Diagnostics) types.List {
	l, d := types.ListValueFrom(context.Background(), types.StringType, nonNilStrings(s))
	diags.Append(d...)
	return l
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
