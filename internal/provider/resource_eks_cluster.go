package provider

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

var (
	_ resource.Resource                   = (*eksClusterResource)(nil)
	_ resource.ResourceWithConfigure      = (*eksClusterResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*eksClusterResource)(nil)
	_ resource.ResourceWithImportState    = (*eksClusterResource)(nil)
	_ resource.ResourceWithValidateConfig = (*eksClusterResource)(nil)
	_ resource.ResourceWithIdentity       = (*eksClusterResource)(nil)
)

var (
	eksNameRE         = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]*$`)
	vpcIDRE           = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	subnetIDRE        = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	securityGroupIDRE = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	instanceTypeRE    = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
)

const (
	eksDefaultCIDR = "172.20.0.0/16"
)

func newEKSClusterResource() resource.Resource { return &eksClusterResource{now: time.Now} }

type eksClusterResource struct {
	data *providerData
	// now is the clock the Kubernetes version's support status is read at (time.Now;
	// tests give their own).
	now func() time.Time
}

func (r *eksClusterResource) clock() time.Time {
	if r.now == nil {
		return time.Now()
	}
	return r.now()
}

func (r *eksClusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_eks_cluster"
}

func (r *eksClusterResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{replaceUnlessImported()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An EKS cluster in a customer's AWS account, created from the platform's account by assuming the customer's provisioning role (with its external ID) and deploying a CloudFormation stack. " +
			"The stack gives the node role and the provisioning role EKS access entries (`authentication_mode`; in `CONFIG_MAP` mode the provider maps the node role in `kube-system/aws-auth` instead). After the stack completes, the provider connects with a short-lived EKS token and creates the `clusterkit` service account bound to `cluster-admin`. " +
			"No temporary AWS credential or token is kept in state, plan, logs or diagnostics.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, PlanModifiers: keep,
				MarkdownDescription: "`<region>/<name>`; also the import ID (or `<account ID>/<region>/<name>`, which records the account in the resource identity too).",
			},
			"name": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				MarkdownDescription: "Name of the EKS cluster and of its CloudFormation stack: 1-100 characters, a letter first, then letters, digits and hyphens. Changing it replaces the cluster.",
				Validators:          []validator.String{eksClusterName()},
			},
			"region": schema.StringAttribute{
				Optional: true, Computed: true,
				PlanModifiers:       []planmodifier.String{replaceUnlessImported(), stringplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "AWS region of the cluster; default the provider's `region`. Changing it replaces the cluster.",
				Validators:          []validator.String{stringvalidator.RegexMatches(awsRegionRE, "must be an AWS region such as eu-west-1")},
			},
			"provision_role_arn": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				MarkdownDescription: "ARN of the customer's provisioning role, assumed from the platform's credentials. Its trust policy must allow the platform account with condition `sts:ExternalId`. Changing it replaces the cluster.",
				Validators:          []validator.String{roleARN()},
			},
			"external_id": schema.StringAttribute{
				Required: true, Sensitive: true,
				MarkdownDescription: "External ID the provisioning role requires (2-1224 characters of letters, digits and `+=,.@:/-`).",
				Validators:          externalID(),
			},
			"session_name": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: keep,
				MarkdownDescription: "Role session name, visible in the customer's CloudTrail; default `clusterkit-<name>`.",
				Validators:          []validator.String{sessionName()},
			},
			"cluster_role_arn": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				MarkdownDescription: "ARN of the EKS service role the control plane uses. Changing it replaces the cluster.",
				Validators:          []validator.String{roleARN()},
			},
			"kubernetes_version": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Kubernetes minor version such as `1.35`, from the EKS release calendar the provider carries (" + versionList() + "). A version past EKS standard support plans with a warning (EKS charges extended-support pricing for it); one past extended support is refused for a new cluster, and only warned about for an existing one. The node AMI is the matching EKS-optimized Amazon Linux 2023 image. Upgrades go one minor version at a time, in place; downgrades are refused.",
			},
			"vpc_id": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				MarkdownDescription: "VPC of the cluster and its nodes. Changing it replaces the cluster.",
				Validators:          []validator.String{stringvalidator.RegexMatches(vpcIDRE, "must be a VPC ID such as vpc-0abc1234def567890")},
			},
			"subnet_ids": schema.ListAttribute{
				Required: true, ElementType: types.StringType,
				MarkdownDescription: "At least two subnets, in at least two availability zones of `vpc_id`, for the control plane and nodes. Changed in place (EKS moves the control plane's network interfaces, the self-managed nodes roll onto the new subnets); a managed node group cannot move, so a change must give the `node_groups` entries new names too (the apply creates the new groups on the new subnets, then removes the old ones).",
				Validators: []validator.List{listvalidator.SizeAtLeast(2), listvalidator.UniqueValues(),
					listvalidator.ValueStringsAre(stringvalidator.RegexMatches(subnetIDRE, "must be a subnet ID such as subnet-0abc1234def567890"))},
			},
			"control_plane_security_group_id": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Security group for the control plane's network interfaces, in `vpc_id`. Changed in place (EKS moves the interfaces to it; the template's rules between it and the node security group move with it).",
				Validators:          []validator.String{stringvalidator.RegexMatches(securityGroupIDRE, "must be a security group ID such as sg-0abc1234def567890")},
			},
			"service_ipv4_cidr": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(eksDefaultCIDR), PlanModifiers: replace,
				MarkdownDescription: "CIDR of Kubernetes service IPs (default `" + eksDefaultCIDR + "`): a private block from /12 to /24 that does not overlap the VPC. Null with `ip_family = \"ipv6\"`, where EKS chooses the block. Changing it replaces the cluster.",
				Validators:          []validator.String{funcValidator{description: "a private IPv4 CIDR from /12 to /24", check: serviceCIDR}},
			},
			"node_instance_type": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("t3.medium"),
				MarkdownDescription: "EC2 instance type of the nodes (default `t3.medium`). Changed in place by a rolling update.",
				Validators:          []validator.String{stringvalidator.RegexMatches(instanceTypeRE, "must be an EC2 instance type such as t3.medium")},
			},
			"node_count": schema.Int64Attribute{
				Optional: true, Computed: true, PlanModifiers: []planmodifier.Int64{nodeCountDefault()},
				MarkdownDescription: "Number of self-managed nodes (an Auto Scaling group with a launch template), 0-100; 0 for none. Default: 3 for a new cluster without `node_groups`, 0 for one with them; a cluster that exists keeps its count. Changed in place.",
				Validators:          []validator.Int64{int64validator.Between(0, 100)},
			},
			"node_volume_size": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(20),
				MarkdownDescription: "Root volume of each node in GiB, 8-16384 (default 20; gp3, encrypted). Changed in place by a rolling update.",
				Validators:          []validator.Int64{int64validator.Between(8, 16384)},
			},
			"key_name": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "EC2 key pair for SSH access to nodes; none by default (nodes are reachable through SSM).",
				Validators:          []validator.String{stringvalidator.LengthBetween(1, 255)},
			},
			"tags": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Tags for the stack, which CloudFormation propagates to the resources it creates. Keys must not start with `aws:` or `clusterkit.dev/`.",
				Validators: []validator.Map{mapvalidator.SizeAtMost(48), mapvalidator.KeysAre(
					stringvalidator.LengthBetween(1, 128),
					funcValidator{description: "no reserved prefix", check: tagKey},
				)},
			},
			"template_body": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Your own CloudFormation template instead of the embedded one. It must accept the same parameters and keep the logical IDs `EKSCluster` and `NodeInstanceRole` and the output `NodeInstanceRoleArn`. Changes go through a stack update.",
				Validators:          []validator.String{stringvalidator.LengthBetween(1, 51200)},
			},
			"stack_id":                   schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "ID (ARN) of the CloudFormation stack. Known as soon as the stack was accepted, so an interrupted apply resumes waiting on it."},
			"status":                     schema.StringAttribute{Computed: true, MarkdownDescription: "Stack status, e.g. `CREATE_COMPLETE`. Anything still in progress makes the next plan show an update that resumes waiting."},
			"endpoint":                   schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "URL of the cluster's API server."},
			"certificate_authority_data": schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "Base64-encoded CA certificate of the API server (as EKS returns it)."},
			"cluster_arn":                schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "ARN of the EKS cluster."},
			"oidc_issuer_url":            schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "The cluster's OpenID Connect issuer URL, for IAM roles for service accounts (an IAM OIDC provider for it is the customer's to create); null when EKS reports none."},
			"node_instance_role_arn":     schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "ARN of the nodes' IAM role (its access entry of type `EC2_LINUX`, or in `CONFIG_MAP` mode its `kube-system/aws-auth` mapping, lets the nodes join)."},
			"service_account": schema.SingleNestedAttribute{
				Computed: true, PlanModifiers: []planmodifier.Object{objectplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "The service account the bootstrap created for later operations, bound to `cluster-admin` by ClusterRoleBinding `" + eksAdminBinding + "`.",
				Attributes: map[string]schema.Attribute{
					"name":      schema.StringAttribute{Computed: true, MarkdownDescription: "Service account name."},
					"namespace": schema.StringAttribute{Computed: true, MarkdownDescription: "Its namespace."},
				},
			},
			"cluster_connection": eksConnectionAttribute(),
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{Create: true, Update: true, Delete: true},
				"Defaults: create 45m, update 60m, delete 30m. When create or update runs out of time the stack keeps going; the next apply resumes waiting on it."),
		},
	}
	for k, a := range eksAccessAttributes() {
		resp.Schema.Attributes[k] = a
	}
	resp.Schema.Attributes["authentication_mode"] = authenticationModeAttribute()
	resp.Schema.Attributes["node_groups"] = nodeGroupsAttribute()
	resp.Schema.Attributes["managed_node_role_arn"] = managedNodeRoleAttribute()
	resp.Schema.Attributes["addons"] = addonsAttribute()
}

// replaceUnlessImported replaces on change, except when the prior value is null: right
// after an import, where the configuration supplies what the stack cannot tell.
func replaceUnlessImported() planmodifier.String {
	return stringplanmodifier.RequiresReplaceIf(func(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !req.StateValue.IsNull()
	}, "Changing it replaces the cluster.", "Changing it replaces the cluster.")
}

// eksConnectionAttribute keeps its prior value through updates: it changes only with the
// cluster (name, region, role, endpoint), and an unknown value here would make every
// resource that takes it plan a replacement on a mere node count change.
func eksConnectionAttribute() schema.SingleNestedAttribute {
	a := connectionOutputAttribute("How `clusterkit_cluster_integration` and `clusterkit_managed_app` reach this cluster: through the provisioning role and short-lived EKS tokens. It holds no token. " +
		"Pass it on unchanged: the provider sends the tokens it mints only to the endpoint and CA EKS reports for the cluster, and refuses a `host` or `cluster_ca_certificate` that differs. " +
		"While a create that stopped waiting has not been resumed, `host` and `cluster_ca_certificate` are null and a resource that takes it fails saying the cluster is not ready.")
	a.PlanModifiers = []planmodifier.Object{objectplanmodifier.UseStateForUnknown()}
	return a
}

func serviceCIDR(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("%q is not an IPv4 CIDR such as 172.20.0.0/16", s)
	}
	if p.Bits() < 12 || p.Bits() > 24 {
		return fmt.Errorf("%q: the prefix length must be between /12 and /24", s)
	}
	if !p.Addr().IsPrivate() {
		return fmt.Errorf("%q is not in a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)", s)
	}
	if p.Masked() != p {
		return fmt.Errorf("%q has host bits set; did you mean %s?", s, p.Masked())
	}
	return nil
}

func tagKey(k string) error {
	for _, prefix := range []string{"aws:", "clusterkit.dev/"} {
		if strings.HasPrefix(strings.ToLower(k), prefix) {
			return fmt.Errorf("tag key %q uses the reserved prefix %q", k, prefix)
		}
	}
	return nil
}

func (r *eksClusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	d, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	r.data = d
}

func (r *eksClusterResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m eksClusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	validateAccess(m, &resp.Diagnostics)
	validateNodeGroups(ctx, m, &resp.Diagnostics)
	validateAddons(m, &resp.Diagnostics)
	if !m.KubernetesVersion.IsNull() && !m.KubernetesVersion.IsUnknown() {
		checkKubernetesVersionKnown(m.KubernetesVersion.ValueString(), r.clock(), &resp.Diagnostics)
	}
	if !m.TemplateBody.IsNull() && !m.TemplateBody.IsUnknown() {
		if err := checkTemplate(m.TemplateBody.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("template_body"), "Invalid template_body", err.Error())
		}
	}
}

func (r *eksClusterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan eksClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.Region.IsUnknown() && r.data != nil {
		if r.data.region == "" {
			resp.Diagnostics.AddAttributeError(path.Root("region"), "No AWS region",
				"Set region on this resource or on the provider (or AWS_REGION in the environment).")
			return
		}
		plan.Region = types.StringValue(r.data.region)
	}
	// Null as well as unknown: after an import the state has no session name, and
	// UseStateForUnknown plans that null.
	if (plan.SessionName.IsUnknown() || plan.SessionName.IsNull()) && !plan.Name.IsUnknown() {
		plan.SessionName = types.StringValue(defaultSessionName(plan.Name.ValueString()))
	}
	if !plan.Region.IsUnknown() && !plan.Name.IsUnknown() {
		plan.ID = types.StringValue(eksID(plan.Region.ValueString(), plan.Name.ValueString()))
	}
	var config eksClusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	existing := !req.State.Raw.IsNull()
	var prior *eksClusterModel
	if existing {
		var state eksClusterModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		prior = &state
		planAccessDefaults(&config, &plan, prior) // before stackInputsChanged compares them
		planAddons(&config, &plan, prior, &resp.Diagnostics)
		checkImportedAccount(ctx, req.Identity, state, plan, &resp.Diagnostics)
		checkVersionChange(state.KubernetesVersion, plan.KubernetesVersion, &resp.Diagnostics)
		if !plan.ExternalID.Equal(state.ExternalID) || !plan.SessionName.Equal(state.SessionName) {
			plan.ClusterConnection = types.ObjectUnknown(connectionAttrTypes) // it carries both
		}
		status := state.Status.ValueString()
		switch {
		case isTerminalFailure(status):
			// Only delete-and-recreate gets out of a rolled-back stack.
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("status"))
			plan.Status = types.StringUnknown()
		case status != "CREATE_COMPLETE" && status != "UPDATE_COMPLETE":
			// In progress (an apply stopped waiting) or imported: the update resumes and
			// learns what the state could not know yet.
			plan.Status = types.StringUnknown()
			for _, v := range []*types.String{&plan.StackID, &plan.Endpoint, &plan.CertificateAuthorityData, &plan.ClusterARN, &plan.NodeInstanceRoleARN, &plan.OIDCIssuerURL} {
				if v.IsNull() {
					*v = types.StringUnknown()
				}
			}
			if plan.ServiceAccount.IsNull() {
				plan.ServiceAccount = types.ObjectUnknown(serviceAccountAttrTypes)
			}
			if plan.ClusterConnection.IsNull() || state.Endpoint.IsNull() {
				plan.ClusterConnection = types.ObjectUnknown(connectionAttrTypes) // gains host and CA
			}
		case stackInputsChanged(state, plan):
			plan.Status = types.StringUnknown()
		default:
			plan.Status = state.Status
		}
	}
	if !resp.Diagnostics.HasError() && !plan.KubernetesVersion.IsNull() && !plan.KubernetesVersion.IsUnknown() {
		checkKubernetesVersionSupport(plan.KubernetesVersion.ValueString(), r.clock(), existing, &resp.Diagnostics)
	}
	planAccess(ctx, &config, &plan, prior, &resp.Diagnostics)
	planAuthentication(&config, &plan, prior, &resp.Diagnostics)
	planNodeGroups(ctx, &config, &plan, prior, &resp.Diagnostics)
	if !existing {
		planAddons(&config, &plan, nil, &resp.Diagnostics)
	}
	checkUserTemplate(ctx, plan, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func isTerminalFailure(status string) bool {
	switch status {
	case "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED":
		return true
	}
	return false
}

// stackInputsChanged reports a change that needs UpdateStack.
func stackInputsChanged(state, plan eksClusterModel) bool {
	return !state.KubernetesVersion.Equal(plan.KubernetesVersion) || !state.NodeInstanceType.Equal(plan.NodeInstanceType) ||
		!state.NodeCount.Equal(plan.NodeCount) || !state.NodeVolumeSize.Equal(plan.NodeVolumeSize) ||
		!state.SubnetIDs.Equal(plan.SubnetIDs) || !state.ControlPlaneSecurityGroupID.Equal(plan.ControlPlaneSecurityGroupID) ||
		!state.KeyName.Equal(plan.KeyName) || !state.Tags.Equal(plan.Tags) || !state.TemplateBody.Equal(plan.TemplateBody) ||
		!state.NodeGroups.Equal(plan.NodeGroups) || !state.Addons.Equal(plan.Addons) ||
		!state.EndpointPublicAccess.Equal(plan.EndpointPublicAccess) || !state.EndpointPrivateAccess.Equal(plan.EndpointPrivateAccess) ||
		!state.PublicAccessCIDRs.Equal(plan.PublicAccessCIDRs) || !state.EnabledLogTypes.Equal(plan.EnabledLogTypes) ||
		isKnown(plan.AuthenticationMode) && !state.AuthenticationMode.Equal(plan.AuthenticationMode)
}

// versionList is the versions of EKS's release calendar, for the schema's description.
func versionList() string { return joinVersions(cloud.SupportedEKSVersions()) }

// nextVersion is the calendar version an in-place upgrade from v goes to: the oldest one
// newer than v (v itself may be older than the calendar, e.g. an imported stack).
func nextVersion(v string) (string, bool) {
	for _, x := range cloud.SupportedEKSVersions() {
		if c, ok := cloud.CompareKubernetesVersions(x, v); ok && c > 0 {
			return x, true
		}
	}
	return "", false
}

// checkVersionChange refuses a downgrade, and an upgrade that skips a version of EKS's
// release calendar. A target that is not in the calendar is ValidateConfig's business.
func checkVersionChange(from, to types.String, diags interface {
	AddAttributeError(path.Path, string, string)
}) {
	if from.IsNull() || from.IsUnknown() || to.IsUnknown() {
		return
	}
	a, b := from.ValueString(), to.ValueString()
	c, ok := cloud.CompareKubernetesVersions(b, a)
	if !ok || c == 0 {
		return
	}
	if c < 0 {
		diags.AddAttributeError(kubernetesVersionPath, "Kubernetes cannot be downgraded",
			fmt.Sprintf("The cluster runs %s; EKS cannot go back to %s. Keep %s, or replace the cluster.", a, b, a))
		return
	}
	if _, known := cloud.EKSVersion(b); !known {
		return
	}
	if next, ok := nextVersion(a); ok && next != b {
		diags.AddAttributeError(kubernetesVersionPath, "Upgrade one minor version at a time",
			fmt.Sprintf("EKS upgrades one minor version at a time: from %s go to %s first, apply, then continue.", a, next))
	}
}
