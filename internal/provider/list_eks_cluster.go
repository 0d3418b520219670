package provider

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/list"
	listschema "github.com/hashicorp/terraform-plugin-framework/list/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

var (
	_ list.ListResource              = (*eksClusterList)(nil)
	_ list.ListResourceWithConfigure = (*eksClusterList)(nil)
)

// eksClusterList lists the clusters clusterkit created in a customer's account and
// region: the CloudFormation stacks tagged clusterkit.dev/managed-by=clusterkit, read
// through the provisioning role as the resource reads them.
func newEKSClusterList() list.ListResource { return &eksClusterList{} }

type eksClusterList struct {
	data *providerData
}

type eksClusterListModel struct {
	Region           types.String `tfsdk:"region"`
	ProvisionRoleARN types.String `tfsdk:"provision_role_arn"`
	ExternalID       types.String `tfsdk:"external_id"`
	SessionName      types.String `tfsdk:"session_name"`
}

// eksListSessionName is the role session name of a listing unless one is configured
// (visible in the customer's CloudTrail).
const eksListSessionName = "clusterkit-query"

func (l *eksClusterList) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_eks_cluster"
}

func (l *eksClusterList) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	d, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	if d != nil {
		l.data = d
	}
}

func (l *eksClusterList) ListResourceConfigSchema(_ context.Context, _ list.ListResourceSchemaRequest, resp *list.ListResourceSchemaResponse) {
	resp.Schema = listschema.Schema{
		MarkdownDescription: "The EKS clusters clusterkit created in a customer's AWS account and region: the CloudFormation stacks " +
			"tagged `" + stackTagManagedBy + " = clusterkit`, read through the provisioning role and external ID as " +
			"`clusterkit_eks_cluster` reads them. Each result has the identity (`account_id`, `region`, `name`), a display name " +
			"with the Kubernetes version and stack status, and with `include_resource` the inputs the stack records " +
			"(parameters and your tags), so `terraform query -generate-config-out` writes the blocks that adopt them. " +
			"Nothing secret is returned: `external_id` is null in the results (set it in the generated configuration).",
		Attributes: map[string]listschema.Attribute{
			"region": listschema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "AWS region to list; default the provider's `region`.",
				Validators:          []validator.String{stringvalidator.RegexMatches(awsRegionRE, "must be an AWS region such as eu-west-1")},
			},
			"provision_role_arn": listschema.StringAttribute{
				Required:            true,
				MarkdownDescription: "ARN of the customer's provisioning role, as `clusterkit_eks_cluster` takes it; it needs `cloudformation:DescribeStacks`.",
				Validators:          []validator.String{roleARN()},
			},
			"external_id": listschema.StringAttribute{
				Required: true,
				MarkdownDescription: "External ID the provisioning role requires. Pass a sensitive variable (list schemas cannot mark it " +
					"sensitive themselves); it is never part of a result.",
				Validators: externalID(),
			},
			"session_name": listschema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Role session name, visible in the customer's CloudTrail; default `" + eksListSessionName + "`.",
				Validators:          []validator.String{sessionName()},
			},
		},
	}
}

func (l *eksClusterList) List(ctx context.Context, req list.ListRequest, stream *list.ListResultsStream) {
	var m eksClusterListModel
	var diags diag.Diagnostics
	diags.Append(req.Config.Get(ctx, &m)...)
	if diags.HasError() {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	region := m.Region.ValueString()
	if region == "" && l.data != nil {
		region = l.data.region
	}
	if region == "" {
		diags.AddAttributeError(path.Root("region"), "No AWS region",
			"Set region in the list block, or region on the provider (or AWS_REGION in the environment).")
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	session := m.SessionName
	if session.ValueString() == "" {
		session = types.StringValue(eksListSessionName)
	}
	target := eksClusterModel{Region: types.StringValue(region), ProvisionRoleARN: m.ProvisionRoleARN, ExternalID: m.ExternalID, SessionName: session}
	ctx = withLogging(ctx, m.ExternalID.ValueString())
	sess, ok := (&eksClusterResource{data: l.data}).session(ctx, target, &diags)
	if !ok {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	stacks, err := sess.FindStacksTagged(ctx, map[string]string{stackTagManagedBy: "clusterkit"})
	if err != nil {
		diags.AddError("Listing CloudFormation stacks failed", err.Error())
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	account := stringOrNull(roleAccount(m.ProvisionRoleARN.ValueString()))
	stream.Results = func(push func(list.ListResult) bool) {
		for i, st := range stacks {
			if req.Limit > 0 && int64(i) >= req.Limit {
				return
			}
			res := req.NewListResult(ctx)
			res.DisplayName = fmt.Sprintf("%s (%s, account %s): Kubernetes %s, %s", st.Name, region, account.ValueString(),
				st.Parameters["KubernetesVersion"], st.Status)
			res.Diagnostics.Append(res.Identity.Set(ctx, eksClusterIdentity{
				AccountID: account, Region: types.StringValue(region), Name: types.StringValue(st.Name),
			})...)
			if req.IncludeResource {
				eksClusterObject(ctx, st, region, m.ProvisionRoleARN, res.Resource, &res.Diagnostics)
			}
			if !push(res) {
				return
			}
		}
	}
}

// eksClusterObject fills res with the inputs the stack records, as an adopting
// configuration sets them. The external ID is not among them.
func eksClusterObject(ctx context.Context, st *cloud.Stack, region string, roleARN types.String, res *tfsdk.Resource, diags *diag.Diagnostics) {
	p := st.Parameters
	param := func(k string) types.String { return stringOrNull(p[k]) }
	number := func(k string) types.Int64 {
		if n, err := strconv.ParseInt(p[k], 10, 64); err == nil {
			return types.Int64Value(n)
		}
		return types.Int64Null()
	}
	var subnets []attr.Value
	for _, s := range strings.Split(p["SubnetIds"], ",") {
		if s = strings.TrimSpace(s); s != "" {
			subnets = append(subnets, types.StringValue(s))
		}
	}
	tags := map[string]attr.Value{}
	for k, v := range st.Tags {
		if tagKey(k) == nil {
			tags[k] = types.StringValue(v)
		}
	}
	tagsValue := types.MapNull(types.StringType)
	if len(tags) > 0 {
		tagsValue = types.MapValueMust(types.StringType, tags)
	}
	var access eksClusterModel
	access.accessFromStack(p)
	set := map[string]attr.Value{
		"id":                              types.StringValue(eksID(region, st.Name)),
		"name":                            types.StringValue(st.Name),
		"region":                          types.StringValue(region),
		"provision_role_arn":              roleARN,
		"stack_id":                        types.StringValue(st.ID),
		"status":                          types.StringValue(st.Status),
		"cluster_role_arn":                param("ClusterRoleArn"),
		"kubernetes_version":              param("KubernetesVersion"),
		"vpc_id":                          param("VpcId"),
		"subnet_ids":                      types.ListValueMust(types.StringType, subnets),
		"control_plane_security_group_id": param("ControlPlaneSecurityGroupId"),
		"service_ipv4_cidr":               param("ServiceIpv4Cidr"),
		"node_instance_type":              param("NodeInstanceType"),
		"node_count":                      number("NodeCount"),
		"node_volume_size":                number("NodeVolumeSize"),
		"key_name":                        param("KeyName"),
		"tags":                            tagsValue,
		"endpoint_public_access":          access.EndpointPublicAccess,
		"endpoint_private_access":         access.EndpointPrivateAccess,
		"public_access_cidrs":             access.PublicAccessCIDRs,
		"enabled_log_types":               access.EnabledLogTypes,
		"secrets_kms_key_arn":             access.SecretsKMSKeyARN,
		"ip_family":                       access.IPFamily,
		// As the stack records it; null for a stack whose template has no such parameter
		// (then the configuration leaves it unset and the resource reports EKS's mode).
		"authentication_mode": param("AuthenticationMode"),
	}
	if v := st.Outputs[cloud.OutputNodeInstanceRoleArn]; v != "" {
		set["node_instance_role_arn"] = types.StringValue(v)
	}
	for name, v := range set {
		diags.Append(res.SetAttribute(ctx, path.Root(name), v)...)
	}
}
