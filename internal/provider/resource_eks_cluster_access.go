package provider

// clusterkit_eks_cluster's endpoint access, control-plane logging, secrets encryption and
// IP family: their schema, their plan-time checks, and how they map to the template's
// parameters and back.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

const (
	ipv4 = "ipv4"
	ipv6 = "ipv6"
	// everywhere is EKS's default public_access_cidrs; an IPv6 cluster adds everywhereV6.
	everywhere   = "0.0.0.0/0"
	everywhereV6 = "::/0"
)

var (
	// kmsKeyARNRE: a key (not an alias: the cluster's key cannot change once set, so the
	// configuration names the key itself). Key IDs are UUIDs, multi-Region keys mrk-<hex>.
	kmsKeyARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:kms:([a-z]{2}(-[a-z]+)+-\d):(\d{12}):key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)

	endpointPublicPath  = path.Root("endpoint_public_access")
	endpointPrivatePath = path.Root("endpoint_private_access")
	publicCIDRsPath     = path.Root("public_access_cidrs")
	logTypesPath        = path.Root("enabled_log_types")
	kmsKeyPath          = path.Root("secrets_kms_key_arn")
	ipFamilyPath        = path.Root("ip_family")
)

// eksAccessAttributes are merged into the resource's schema.
func eksAccessAttributes() map[string]schema.Attribute {
	logTypes := cloud.EKSLogTypes()
	return map[string]schema.Attribute{
		"endpoint_public_access": schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(true),
			MarkdownDescription: "Whether the cluster's API server is reachable from the internet, from `public_access_cidrs` (default `true`, as in EKS). " +
				"Turning it off makes the endpoint private: the provider connects to the API server after the stack completes and on every update, so Terraform must then run from inside the VPC or a network connected to it (the plan warns). " +
				"At least one of `endpoint_public_access` and `endpoint_private_access` must be `true`. Changed in place.",
		},
		"endpoint_private_access": schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(false),
			MarkdownDescription: "Whether the API server is reachable from inside the VPC through EKS-managed network interfaces; the nodes then use it instead of the public endpoint (default `false`, as in EKS; `true` is recommended together with a restricted `public_access_cidrs`). Changed in place.",
		},
		"public_access_cidrs": schema.ListAttribute{
			Optional: true, Computed: true, ElementType: types.StringType,
			Default: listdefault.StaticValue(types.ListValueMust(types.StringType, []attr.Value{types.StringValue(everywhere)})),
			MarkdownDescription: "Public CIDR blocks allowed to reach the public endpoint, at most " + fmt.Sprint(cloud.MaxPublicAccessCIDRs) + " (EKS's quota). " +
				"Default, as in EKS: `[\"" + everywhere + "\"]`, and `[\"" + everywhere + "\", \"" + everywhereV6 + "\"]` with `ip_family = \"ipv6\"`, whose public endpoint is dual-stack; IPv6 blocks are allowed only there. " +
				"In force only while `endpoint_public_access = true`; with `false` they are kept (EKS keeps them too) and apply again when the public endpoint is turned back on. They must include the address Terraform runs from, and, while `endpoint_private_access` is `false`, the nodes' outbound (NAT) addresses. Changed in place.",
			Validators: []validator.List{listvalidator.SizeBetween(1, cloud.MaxPublicAccessCIDRs), listvalidator.UniqueValues(),
				listvalidator.ValueStringsAre(funcValidator{description: "must be a public CIDR block such as 203.0.113.0/24", check: publicCIDR})},
		},
		"enabled_log_types": schema.SetAttribute{
			Optional: true, Computed: true, ElementType: types.StringType,
			Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
			MarkdownDescription: "Control-plane log types EKS sends to CloudWatch Logs (log group `/aws/eks/<name>/cluster`; CloudWatch charges apply): any of `" + strings.Join(logTypes, "`, `") + "`. Default none. Changed in place.",
			Validators:          []validator.Set{setvalidator.ValueStringsAre(stringvalidator.OneOf(logTypes...))},
		},
		"secrets_kms_key_arn": schema.StringAttribute{
			Optional: true,
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(createdStackChanged,
				"CloudFormation cannot change a cluster's encryption key in place: changing it replaces the cluster.",
				"CloudFormation cannot change a cluster's encryption key in place: changing it replaces the cluster.")},
			MarkdownDescription: "ARN of a symmetric customer managed KMS key, in the cluster's region, that EKS uses for envelope encryption of Kubernetes secrets (on Kubernetes 1.28 and later EKS envelope-encrypts all Kubernetes API data, with an AWS owned key when none is given). " +
				"The customer role needs `kms:DescribeKey` and `kms:CreateGrant` on it, and the key policy must allow them (see the authentication guide). " +
				"CloudFormation sets the key only when it creates the cluster (`EncryptionConfig` is create-only), so adding, changing or removing it replaces the cluster, as the plan shows; removing it also warns, since EKS can never turn encryption off on a cluster and the replacement is a new, empty one.",
			Validators: []validator.String{funcValidator{description: "must be a KMS key ARN such as arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab", check: kmsKeyARN}},
		},
		"ip_family": schema.StringAttribute{
			Optional: true, Computed: true, Default: stringdefault.StaticString(ipv4),
			PlanModifiers:       []planmodifier.String{replaceUnlessImported()},
			MarkdownDescription: "IP family of pod and service addresses: `ipv4` (default) or `ipv6`. `ipv6` needs a VPC and subnets with both IPv4 and IPv6 CIDR blocks (pods take addresses from the subnets' IPv6 blocks), and is not offered in the China regions; EKS then picks the service CIDR from `fc00::/7` (`service_ipv4_cidr` must not be set), the public endpoint is dual-stack (`public_access_cidrs` may hold IPv6 blocks and defaults to both `" + everywhere + "` and `" + everywhereV6 + "`), and the node role gets the VPC CNI's IPv6 permissions. Changing it replaces the cluster.",
			Validators:          []validator.String{stringvalidator.OneOf(ipv4, ipv6)},
		},
	}
}

// createdStackChanged replaces on a change of a create-only value of a cluster this
// resource created; right after an import (no stack ID in state yet) the update compares
// the configuration with the stack instead.
func createdStackChanged(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	var stackID types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("stack_id"), &stackID)...)
	resp.RequiresReplace = !stackID.IsNull() && !req.StateValue.Equal(req.PlanValue)
}

// publicCIDR checks a block's form; whether an IPv6 block fits the cluster's IP family is
// validateAccess's business (it sees ip_family).
func publicCIDR(s string) error {
	if p := cloud.CheckPublicAccessCIDR(s, ipv6); p != cloud.CIDROK {
		return errors.New(cidrProblem(s, p))
	}
	return nil
}

func cidrProblem(s string, p cloud.CIDRProblem) string {
	switch p {
	case cloud.CIDRHostBits:
		return fmt.Sprintf("%q has host bits set; did you mean %s?", s, netip.MustParsePrefix(s).Masked())
	case cloud.CIDRIPv6OnIPv4:
		return fmt.Sprintf("%q is an IPv6 block, and only a cluster with ip_family = \"ipv6\" has an IPv6 public endpoint: remove it, or use IPv4 blocks.", s)
	case cloud.CIDRNotPublic:
		return fmt.Sprintf("%q is not a public range: the public endpoint sees only public source addresses (for access from inside the VPC set endpoint_private_access = true)", s)
	}
	return fmt.Sprintf("%q is not a CIDR block", s)
}

func kmsKeyARN(s string) error {
	if strings.Contains(s, ":alias/") {
		return fmt.Errorf("%q is an alias: name the key itself (the cluster keeps the key it was created with)", s)
	}
	if !kmsKeyARNRE.MatchString(s) {
		return fmt.Errorf("%q is not a KMS key ARN", s)
	}
	return nil
}

// validateAccess is ValidateConfig's part for these attributes: what contradicts itself
// within the configuration.
func validateAccess(m eksClusterModel, diags *diag.Diagnostics) {
	if isFalse(m.EndpointPublicAccess) && !isTrue(m.EndpointPrivateAccess) && !m.EndpointPrivateAccess.IsUnknown() {
		diags.AddAttributeError(endpointPublicPath, "No way to reach the cluster's API server",
			"endpoint_public_access = false needs endpoint_private_access = true: EKS refuses a cluster whose API server endpoint is reachable from nowhere.")
	}
	if family := m.IPFamily.ValueString(); !m.IPFamily.IsUnknown() && family != ipv6 && isKnown(m.PublicAccessCIDRs) {
		for i, c := range m.PublicAccessCIDRs.Elements() {
			if s, ok := c.(types.String); ok && isKnown(s) && cloud.CheckPublicAccessCIDR(s.ValueString(), ipv4) == cloud.CIDRIPv6OnIPv4 {
				diags.AddAttributeError(publicCIDRsPath.AtListIndex(i), "IPv6 block for an IPv4 cluster", cidrProblem(s.ValueString(), cloud.CIDRIPv6OnIPv4))
			}
		}
	}
	if isKnown(m.IPFamily) && m.IPFamily.ValueString() == ipv6 && !m.ServiceIPv4CIDR.IsNull() {
		diags.AddAttributeError(path.Root("service_ipv4_cidr"), "service_ipv4_cidr with ip_family = \"ipv6\"",
			"An IPv6 cluster's service addresses come from a block EKS chooses: remove service_ipv4_cidr, or set ip_family = \"ipv4\".")
	}
}

// planAccessDefaults sets the defaults that depend on the IP family (idempotent).
func planAccessDefaults(config, plan, state *eksClusterModel) {
	if !isKnown(plan.IPFamily) || plan.IPFamily.ValueString() != ipv6 {
		return
	}
	if config.ServiceIPv4CIDR.IsNull() {
		plan.ServiceIPv4CIDR = types.StringNull() // EKS picks it; the template ignores it
	}
	if config.PublicAccessCIDRs.IsNull() && !keepsDefaultCIDRs(state, plan) {
		plan.PublicAccessCIDRs = eksStringList(cloud.DefaultPublicAccessCIDRs(ipv6))
	}
}

// planAccess is ModifyPlan's part: defaults that depend on other attributes, checks that
// need the region or the prior state, and warnings about reaching the cluster.
func planAccess(ctx context.Context, config, plan *eksClusterModel, state *eksClusterModel, diags *diag.Diagnostics) {
	planAccessDefaults(config, plan, state)
	if isKnown(plan.IPFamily) && plan.IPFamily.ValueString() == ipv6 {
		if isKnown(plan.Region) && !cloud.IPv6ClustersIn(plan.Region.ValueString()) {
			diags.AddAttributeError(ipFamilyPath, "No IPv6 clusters in this region",
				fmt.Sprintf("EKS creates no IPv6 clusters in the China regions (region %s): set ip_family = \"ipv4\".", plan.Region.ValueString()))
		}
	}
	if state != nil && !state.StackID.IsNull() && isKnown(state.SecretsKMSKeyARN) && plan.SecretsKMSKeyARN.IsNull() {
		diags.AddAttributeWarning(kmsKeyPath, "Removing secrets_kms_key_arn replaces the cluster",
			"EKS cannot turn secrets encryption off, and CloudFormation sets the key only when it creates the cluster: this plan deletes the cluster, with everything running in it, and creates a new one without a key. "+
				"To keep the cluster, keep secrets_kms_key_arn as it is.")
	}
	if isKnown(plan.SecretsKMSKeyARN) && isKnown(plan.Region) {
		if m := kmsKeyARNRE.FindStringSubmatch(plan.SecretsKMSKeyARN.ValueString()); m != nil && m[1] != plan.Region.ValueString() {
			diags.AddAttributeError(kmsKeyPath, "KMS key in another region",
				fmt.Sprintf("secrets_kms_key_arn is a key in %s; EKS needs a key in the cluster's region %s.", m[1], plan.Region.ValueString()))
		}
	}
	changed := func(a func(eksClusterModel) attr.Value) bool { return state == nil || !a(*state).Equal(a(*plan)) }
	if isFalse(plan.EndpointPublicAccess) && changed(func(m eksClusterModel) attr.Value { return m.EndpointPublicAccess }) {
		diags.AddAttributeWarning(endpointPublicPath, "The cluster's API server will be private",
			"With endpoint_public_access = false the API server is reachable only from inside the VPC and networks connected to it. "+
				"The provider connects to it after the stack completes (the clusterkit service account, and aws-auth in CONFIG_MAP mode) and on every later update, "+
				"and resources that take this cluster's cluster_connection connect to it too: run Terraform from inside the VPC (for example a self-hosted Terraform Cloud agent there), or those steps fail.")
	}
	// The blocks of a private endpoint are kept (the stack always passes them, and EKS keeps
	// them) for the day it is public again; said when they or the endpoint change.
	if isFalse(plan.EndpointPublicAccess) && !config.PublicAccessCIDRs.IsNull() &&
		(changed(func(m eksClusterModel) attr.Value { return m.PublicAccessCIDRs }) || changed(func(m eksClusterModel) attr.Value { return m.EndpointPublicAccess })) {
		diags.AddAttributeWarning(publicCIDRsPath, "public_access_cidrs limit nothing while the endpoint is private",
			"endpoint_public_access = false turns the public endpoint off, so public_access_cidrs limit no access now: EKS keeps them, and they take effect when endpoint_public_access is true again.")
	}
	var cidrs []string
	if isKnown(plan.PublicAccessCIDRs) {
		diags.Append(plan.PublicAccessCIDRs.ElementsAs(ctx, &cidrs, false)...)
	}
	if !isFalse(plan.EndpointPublicAccess) && len(cidrs) > 0 && !slices.Contains(cidrs, everywhere) &&
		changed(func(m eksClusterModel) attr.Value { return m.PublicAccessCIDRs }) {
		detail := "The provider connects to the API server from where Terraform runs: that address must be in public_access_cidrs, or the bootstrap after the stack fails."
		if !isTrue(plan.EndpointPrivateAccess) {
			detail += " With endpoint_private_access = false the nodes reach the API server through the public endpoint too: include their NAT gateways' addresses, or set endpoint_private_access = true."
		}
		diags.AddAttributeWarning(publicCIDRsPath, "The public endpoint is limited to public_access_cidrs", detail)
	}
}

// keepsDefaultCIDRs: an existing cluster of the same IP family that runs with EKS's IPv4
// default keeps it when public_access_cidrs is not configured, rather than gaining "::/0"
// in place (an IPv6 cluster made before EKS's dual-stack endpoints, October 2024, would
// refuse that).
func keepsDefaultCIDRs(state, plan *eksClusterModel) bool {
	return state != nil && state.IPFamily.Equal(plan.IPFamily) && state.PublicAccessCIDRs.Equal(eksStringList(cloud.DefaultPublicAccessCIDRs(ipv4)))
}

// access is the cloud side of these attributes (defaults where unknown).
func (m eksClusterModel) access(ctx context.Context, diags *diag.Diagnostics) cloud.ClusterAccess {
	a := cloud.DefaultClusterAccess()
	if isKnown(m.EndpointPublicAccess) {
		a.PublicAccess = m.EndpointPublicAccess.ValueBool()
	}
	if isKnown(m.EndpointPrivateAccess) {
		a.PrivateAccess = m.EndpointPrivateAccess.ValueBool()
	}
	if isKnown(m.PublicAccessCIDRs) {
		a.PublicAccessCIDRs = nil
		diags.Append(m.PublicAccessCIDRs.ElementsAs(ctx, &a.PublicAccessCIDRs, false)...)
	}
	if isKnown(m.EnabledLogTypes) {
		diags.Append(m.EnabledLogTypes.ElementsAs(ctx, &a.LogTypes, false)...)
	}
	if isKnown(m.SecretsKMSKeyARN) {
		a.SecretsKeyARN = m.SecretsKMSKeyARN.ValueString()
	}
	if isKnown(m.IPFamily) {
		a.IPFamily = m.IPFamily.ValueString()
	}
	return a
}

// accessFromStack reads these attributes back from the stack's parameters (a stack of a
// template without them runs with EKS's defaults).
func (m *eksClusterModel) accessFromStack(params map[string]string) {
	a := cloud.ClusterAccessFromParameters(params)
	m.EndpointPublicAccess = types.BoolValue(a.PublicAccess)
	m.EndpointPrivateAccess = types.BoolValue(a.PrivateAccess)
	m.PublicAccessCIDRs = eksStringList(a.PublicAccessCIDRs)
	logs := make([]attr.Value, 0, len(a.LogTypes))
	for _, t := range a.LogTypes {
		logs = append(logs, types.StringValue(t))
	}
	m.EnabledLogTypes = types.SetValueMust(types.StringType, logs)
	m.SecretsKMSKeyARN = types.StringNull()
	if a.SecretsKeyARN != "" {
		m.SecretsKMSKeyARN = types.StringValue(a.SecretsKeyARN)
	}
	m.IPFamily = types.StringValue(a.IPFamily)
}

func eksStringList(items []string) types.List {
	vals := make([]attr.Value, 0, len(items))
	for _, s := range items {
		vals = append(vals, types.StringValue(s))
	}
	return types.ListValueMust(types.StringType, vals)
}

// settingPath is the attribute of each part of cloud.ClusterAccess.
func settingPath(s cloud.AccessSetting) path.Path {
	switch s {
	case cloud.SettingPublicAccess:
		return endpointPublicPath
	case cloud.SettingPrivateAccess:
		return endpointPrivatePath
	case cloud.SettingPublicAccessCIDRs:
		return publicCIDRsPath
	case cloud.SettingSecretsKey:
		return kmsKeyPath
	case cloud.SettingIPFamily:
		return ipFamilyPath
	}
	return logTypesPath
}

// checkUserTemplate refuses, at plan time, a non-default value a user template_body has
// no parameter for: it could not take effect.
func checkUserTemplate(ctx context.Context, plan eksClusterModel, diags *diag.Diagnostics) {
	if !isKnown(plan.TemplateBody) || plan.TemplateBody.ValueString() == "" {
		return
	}
	for _, e := range cloud.FitParameters(plan.TemplateBody.ValueString(), plan.access(ctx, diags).Parameters()) {
		a := settingPath(e.Setting)
		diags.AddAttributeError(a, "template_body lacks a parameter",
			fmt.Sprintf("template_body declares no %s parameter, so %s cannot take effect: declare it in the template (as the embedded template does), or leave %s at its default.", e.Parameter, a, a))
	}
}

// isKnown: set, and known at plan time.
func isKnown(v attr.Value) bool { return !v.IsNull() && !v.IsUnknown() }

func isFalse(v types.Bool) bool { return isKnown(v) && !v.ValueBool() }

func isTrue(v types.Bool) bool { return isKnown(v) && v.ValueBool() }
