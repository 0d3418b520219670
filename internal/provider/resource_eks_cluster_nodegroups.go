package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

// node_groups: EKS managed node groups, next to the self-managed group of node_count
// nodes or instead of it (node_count = 0, the default for a new cluster with node groups). Each entry becomes a node group of the stack
// (cloud.RenderEKSClusterTemplate); scaling, labels and taints change in place, and the
// settings CloudFormation can change only by replacing a group are refused at plan time
// with the way out (a new entry name), since a replaced group would keep its name.

var nodeGroupsPath = path.Root("node_groups")

type nodeGroupModel struct {
	InstanceTypes types.List   `tfsdk:"instance_types"`
	CapacityType  types.String `tfsdk:"capacity_type"`
	AMIType       types.String `tfsdk:"ami_type"`
	MinSize       types.Int64  `tfsdk:"min_size"`
	MaxSize       types.Int64  `tfsdk:"max_size"`
	DesiredSize   types.Int64  `tfsdk:"desired_size"`
	DiskSize      types.Int64  `tfsdk:"disk_size"`
	Labels        types.Map    `tfsdk:"labels"`
	Taints        types.List   `tfsdk:"taints"`
}

type taintModel struct {
	Key    types.String `tfsdk:"key"`
	Value  types.String `tfsdk:"value"`
	Effect types.String `tfsdk:"effect"`
}

var (
	taintAttrTypes     = map[string]attr.Type{"key": types.StringType, "value": types.StringType, "effect": types.StringType}
	nodeGroupAttrTypes = map[string]attr.Type{
		"instance_types": types.ListType{ElemType: types.StringType}, "capacity_type": types.StringType, "ami_type": types.StringType,
		"min_size": types.Int64Type, "max_size": types.Int64Type, "desired_size": types.Int64Type, "disk_size": types.Int64Type,
		"labels": types.MapType{ElemType: types.StringType}, "taints": types.ListType{ElemType: types.ObjectType{AttrTypes: taintAttrTypes}},
	}
)

// nodeGroupFieldAttr is the attribute of each cloud.NodeGroupField.
var nodeGroupFieldAttr = map[cloud.NodeGroupField]string{
	cloud.FieldInstanceTypes: "instance_types", cloud.FieldCapacityType: "capacity_type", cloud.FieldAMIType: "ami_type",
	cloud.FieldMinSize: "min_size", cloud.FieldMaxSize: "max_size", cloud.FieldDesiredSize: "desired_size",
	cloud.FieldDiskSize: "disk_size", cloud.FieldLabels: "labels", cloud.FieldTaints: "taints",
}

func nodeGroupsAttribute() schema.MapNestedAttribute {
	return schema.MapNestedAttribute{
		Optional: true,
		MarkdownDescription: "EKS managed node groups, by name (the map key is the node group's EKS name: 1-63 letters, digits, `-` and `_`, a letter or digit first). " +
			"EKS launches, patches and drains their nodes, and gives their role (`managed_node_role_arn`) an access entry of type `EC2_LINUX` (in `CONFIG_MAP` mode the provider maps it in `kube-system/aws-auth`). " +
			"Sizes, labels and taints change in place through a stack update; `instance_types`, `capacity_type`, `ami_type` and `disk_size` cannot (CloudFormation replaces a node group for them): " +
			"give the entry a new name to create the new group, which the same apply removes the old one after. The nodes run the cluster's `kubernetes_version` and follow its upgrades. " +
			"Needs the embedded template (not `template_body`). See the guide on choosing versions and node groups.",
		Validators: []validator.Map{mapvalidator.SizeAtMost(cloud.MaxNodeGroups)},
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"instance_types": schema.ListAttribute{
				Optional: true, Computed: true, ElementType: types.StringType,
				Default:             listdefault.StaticValue(types.ListValueMust(types.StringType, []attr.Value{types.StringValue(cloud.DefaultNodeGroupInstanceType)})),
				MarkdownDescription: "EC2 instance types, 1-20, of the AMI type's architecture (Graviton types such as `m7g.large` for the ARM64 AMI types); default `[\"" + cloud.DefaultNodeGroupInstanceType + "\"]`. With several, Spot capacity comes from the most available pool. Changing them needs a new group (a new entry name).",
				Validators:          []validator.List{listvalidator.SizeAtLeast(1)},
			},
			"capacity_type": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(cloud.DefaultNodeGroupCapacityType),
				MarkdownDescription: "`ON_DEMAND` (default) or `SPOT`. Changing it needs a new group (a new entry name).",
			},
			"ami_type": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(cloud.DefaultNodeGroupAMIType),
				MarkdownDescription: "EKS-optimized image: " + codeList(cloud.NodeGroupAMITypes()) + "; default `" + cloud.DefaultNodeGroupAMIType + "`. Changing it needs a new group (a new entry name).",
			},
			"min_size": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(cloud.DefaultNodeGroupMinSize),
				MarkdownDescription: "Fewest nodes, 0 or more and at most `desired_size` (default 1). Changed in place.",
			},
			"max_size": schema.Int64Attribute{
				Required:            true,
				MarkdownDescription: "Most nodes, at least 1 and at least `desired_size`. Changed in place.",
			},
			"desired_size": schema.Int64Attribute{
				Required:            true,
				MarkdownDescription: "Nodes to run, between `min_size` and `max_size`. Changed in place (a cluster autoscaler that also sets it would be undone by the next apply).",
			},
			"disk_size": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(cloud.DefaultNodeGroupDiskSize),
				MarkdownDescription: "Root volume of each node in GiB, 20-16384 (default 20). Changing it needs a new group (a new entry name).",
			},
			"labels": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Kubernetes labels of the nodes (keys `[prefix/]name`; the `eks.amazonaws.com/` prefix is EKS's own). Changed in place.",
			},
			"taints": schema.ListNestedAttribute{
				Optional:            true,
				MarkdownDescription: "Kubernetes taints of the nodes, at most 50. Changed in place.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"key":    schema.StringAttribute{Required: true, MarkdownDescription: "Taint key (`[prefix/]name`)."},
					"value":  schema.StringAttribute{Optional: true, MarkdownDescription: "Taint value; none by default."},
					"effect": schema.StringAttribute{Required: true, MarkdownDescription: "EKS's spelling: " + codeList(cloud.TaintEffects()) + "."},
				}},
			},
		}},
	}
}

// quotedList is "a", "b" for a diagnostic.
func quotedList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

func codeList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "`" + v + "`"
	}
	return strings.Join(q, ", ")
}

func managedNodeRoleAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		Computed:            true,
		MarkdownDescription: "ARN of the managed node groups' IAM role (its EKS access entry of type `EC2_LINUX`, or in `CONFIG_MAP` mode its `kube-system/aws-auth` mapping, lets their nodes join); null without `node_groups`.",
	}
}

// nodeGroups converts a node_groups value; ok is false when it or a part of it is unknown.
// Null settings take their defaults (a configuration's view).
func nodeGroups(ctx context.Context, v types.Map, diags *diag.Diagnostics) (out []cloud.NodeGroup, ok bool) {
	if v.IsUnknown() {
		return nil, false
	}
	ok = true
	for name, el := range v.Elements() {
		g, known := nodeGroup(ctx, name, el, diags)
		ok = ok && known
		if known {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, ok
}

func nodeGroup(ctx context.Context, name string, el attr.Value, diags *diag.Diagnostics) (cloud.NodeGroup, bool) {
	g := cloud.NodeGroup{Name: name, CapacityType: cloud.DefaultNodeGroupCapacityType, AMIType: cloud.DefaultNodeGroupAMIType,
		MinSize: cloud.DefaultNodeGroupMinSize, DiskSize: cloud.DefaultNodeGroupDiskSize, InstanceTypes: []string{cloud.DefaultNodeGroupInstanceType}}
	obj, isObj := el.(types.Object)
	if !isObj || obj.IsUnknown() {
		return g, false
	}
	var m nodeGroupModel
	diags.Append(obj.As(ctx, &m, struct{ UnhandledNullAsEmpty, UnhandledUnknownAsEmpty bool }{})...)
	known := true
	str := func(v types.String, dst *string) {
		if v.IsUnknown() {
			known = false
		} else if !v.IsNull() {
			*dst = v.ValueString()
		}
	}
	num := func(v types.Int64, dst *int64) {
		if v.IsUnknown() {
			known = false
		} else if !v.IsNull() {
			*dst = v.ValueInt64()
		}
	}
	str(m.CapacityType, &g.CapacityType)
	str(m.AMIType, &g.AMIType)
	num(m.MinSize, &g.MinSize)
	num(m.MaxSize, &g.MaxSize)
	num(m.DesiredSize, &g.DesiredSize)
	num(m.DiskSize, &g.DiskSize)
	for _, v := range []attr.Value{m.InstanceTypes, m.Labels, m.Taints} {
		if v.IsUnknown() {
			return g, false
		}
	}
	if !m.InstanceTypes.IsNull() {
		g.InstanceTypes = nil
		diags.Append(m.InstanceTypes.ElementsAs(ctx, &g.InstanceTypes, true)...)
	}
	if !m.Labels.IsNull() {
		diags.Append(m.Labels.ElementsAs(ctx, &g.Labels, true)...)
	}
	if !m.Taints.IsNull() {
		var ts []taintModel
		diags.Append(m.Taints.ElementsAs(ctx, &ts, true)...)
		for _, t := range ts {
			if t.Key.IsUnknown() || t.Value.IsUnknown() || t.Effect.IsUnknown() {
				return g, false
			}
			g.Taints = append(g.Taints, cloud.Taint{Key: t.Key.ValueString(), Value: t.Value.ValueString(), Effect: t.Effect.ValueString()})
		}
	}
	for _, it := range g.InstanceTypes {
		known = known && it != ""
	}
	return g, known && !diags.HasError()
}

// nodeGroupsValue is groups as a node_groups value (null for none).
func nodeGroupsValue(groups []cloud.NodeGroup) types.Map {
	if len(groups) == 0 {
		return types.MapNull(types.ObjectType{AttrTypes: nodeGroupAttrTypes})
	}
	els := map[string]attr.Value{}
	for _, g := range groups {
		types_ := make([]attr.Value, len(g.InstanceTypes))
		for i, t := range g.InstanceTypes {
			types_[i] = types.StringValue(t)
		}
		labels := types.MapNull(types.StringType)
		if len(g.Labels) > 0 {
			lv := map[string]attr.Value{}
			for k, v := range g.Labels {
				lv[k] = types.StringValue(v)
			}
			labels = types.MapValueMust(types.StringType, lv)
		}
		taints := types.ListNull(types.ObjectType{AttrTypes: taintAttrTypes})
		if len(g.Taints) > 0 {
			var tv []attr.Value
			for _, t := range g.Taints {
				value := types.StringNull()
				if t.Value != "" {
					value = types.StringValue(t.Value)
				}
				tv = append(tv, types.ObjectValueMust(taintAttrTypes, map[string]attr.Value{
					"key": types.StringValue(t.Key), "value": value, "effect": types.StringValue(t.Effect)}))
			}
			taints = types.ListValueMust(types.ObjectType{AttrTypes: taintAttrTypes}, tv)
		}
		els[g.Name] = types.ObjectValueMust(nodeGroupAttrTypes, map[string]attr.Value{
			"instance_types": types.ListValueMust(types.StringType, types_), "capacity_type": types.StringValue(g.CapacityType),
			"ami_type": types.StringValue(g.AMIType), "min_size": types.Int64Value(g.MinSize), "max_size": types.Int64Value(g.MaxSize),
			"desired_size": types.Int64Value(g.DesiredSize), "disk_size": types.Int64Value(g.DiskSize), "labels": labels, "taints": taints,
		})
	}
	return types.MapValueMust(types.ObjectType{AttrTypes: nodeGroupAttrTypes}, els)
}

// sameNodeGroups reports two node_groups values that mean the same groups (null and
// empty labels or taints alike).
func sameNodeGroups(ctx context.Context, a, b types.Map) bool {
	var d diag.Diagnostics
	x, okA := nodeGroups(ctx, a, &d)
	y, okB := nodeGroups(ctx, b, &d)
	return okA && okB && !d.HasError() && fmt.Sprintf("%+v", x) == fmt.Sprintf("%+v", y)
}

func nodeGroupAttrPath(name string, f cloud.NodeGroupField) path.Path {
	p := nodeGroupsPath.AtMapKey(name)
	if a, ok := nodeGroupFieldAttr[f]; ok {
		p = p.AtName(a)
	}
	return p
}

func nodeGroupPathText(name string, f cloud.NodeGroupField) string {
	s := fmt.Sprintf("node_groups[%q]", name)
	if a, ok := nodeGroupFieldAttr[f]; ok {
		s += "." + a
	}
	return s
}

// checkNodeGroups reports what EKS would refuse in the groups of v whose settings are all
// known; skip names the groups already checked.
func checkNodeGroups(ctx context.Context, v types.Map, skip map[string]bool, diags *diag.Diagnostics) (checked map[string]bool) {
	checked = map[string]bool{}
	if v.IsNull() || v.IsUnknown() {
		return checked
	}
	for name, el := range v.Elements() {
		if skip[name] {
			continue
		}
		g, known := nodeGroup(ctx, name, el, diags)
		if err := cloud.CheckNodeGroupName(name); err != nil {
			diags.AddAttributeError(nodeGroupsPath.AtMapKey(name), "Invalid node group name", fmt.Sprintf("node_groups[%q]: %s.", name, err))
			checked[name] = true
			continue
		}
		if !known {
			continue
		}
		checked[name] = true
		for _, e := range cloud.CheckNodeGroup(g) {
			diags.AddAttributeError(nodeGroupAttrPath(name, e.Field), "Invalid node group setting", nodeGroupPathText(name, e.Field)+": "+e.Msg+".")
		}
	}
	return checked
}

// validateNodeGroups is ValidateConfig's part; it returns the groups it checked.
func validateNodeGroups(ctx context.Context, m eksClusterModel, diags *diag.Diagnostics) map[string]bool {
	if isKnown(m.NodeGroups) && len(m.NodeGroups.Elements()) > 0 && isKnown(m.TemplateBody) {
		diags.AddAttributeError(nodeGroupsPath, "node_groups needs the embedded template",
			"node_groups adds node groups to the provider's own CloudFormation template, and template_body replaces that template: remove one of them (your template can declare its AWS::EKS::Nodegroup resources itself).")
	}
	return checkNodeGroups(ctx, m.NodeGroups, nil, diags)
}

// planNodeGroups is ModifyPlan's part: the groups whose configuration was not known at
// validation, the refusal of in-place replacements, and managed_node_role_arn.
func planNodeGroups(ctx context.Context, config, plan, state *eksClusterModel, diags *diag.Diagnostics) {
	var scratch diag.Diagnostics
	known := checkNodeGroups(ctx, config.NodeGroups, nil, &scratch) // validated already
	checkNodeGroups(ctx, plan.NodeGroups, known, diags)
	planned, _ := nodeGroups(ctx, plan.NodeGroups, diags)
	if state != nil && isKnown(state.NodeGroups) {
		prior, _ := nodeGroups(ctx, state.NodeGroups, diags)
		for _, old := range prior {
			for _, nw := range planned {
				if nw.Name != old.Name {
					continue
				}
				for _, f := range cloud.NodeGroupReplaceFields(old, nw) {
					diags.AddAttributeError(nodeGroupAttrPath(nw.Name, f), "Node group setting cannot change in place",
						fmt.Sprintf("%s cannot change on an existing node group: CloudFormation replaces the group for it, and the new one would need the name %q, which the old one holds. "+
							"Give the entry a new name (for example %q): the apply creates the new group, then removes the old one.", nodeGroupPathText(nw.Name, f), nw.Name, nw.Name+"-2"))
				}
			}
		}
	}
	if state != nil {
		refuseNodeGroupsMove(ctx, state, plan, planned, diags)
	}
	if len(planned) > 0 {
		if _, err := cloud.RenderEKSClusterTemplate(planned); err != nil {
			diags.AddAttributeError(nodeGroupsPath, "Too many node group settings", err.Error()+".")
		}
	}
	if isKnown(plan.NodeCount) && plan.NodeCount.ValueInt64() == 0 && !plan.NodeGroups.IsUnknown() && len(plan.NodeGroups.Elements()) == 0 {
		diags.AddAttributeWarning(path.Root("node_count"), "The cluster will have no nodes",
			"node_count = 0 and no node_groups: nothing can run pods in the cluster (CoreDNS stays pending). Add node_groups, or set node_count.")
	}
	switch {
	case plan.NodeGroups.IsUnknown():
		plan.ManagedNodeRoleARN = types.StringUnknown()
	case len(plan.NodeGroups.Elements()) == 0:
		plan.ManagedNodeRoleARN = types.StringNull()
	case state != nil && isKnown(state.ManagedNodeRoleARN):
		plan.ManagedNodeRoleARN = state.ManagedNodeRoleARN
	default:
		plan.ManagedNodeRoleARN = types.StringUnknown()
	}
}

// refuseNodeGroupsMove refuses a change of subnet_ids that keeps a managed node group's
// name: a group's subnets are create-only in CloudFormation, and its replacement would need
// the name the old group holds. The self-managed nodes and the control plane move in place.
func refuseNodeGroupsMove(ctx context.Context, state, plan *eksClusterModel, planned []cloud.NodeGroup, diags *diag.Diagnostics) {
	if !isKnown(state.SubnetIDs) || !isKnown(plan.SubnetIDs) || state.SubnetIDs.Equal(plan.SubnetIDs) || !isKnown(state.NodeGroups) {
		return
	}
	prior, _ := nodeGroups(ctx, state.NodeGroups, diags)
	var kept []string
	for _, old := range prior {
		if slices.ContainsFunc(planned, func(g cloud.NodeGroup) bool { return g.Name == old.Name }) {
			kept = append(kept, old.Name)
		}
	}
	if len(kept) == 0 {
		return
	}
	diags.AddAttributeError(path.Root("subnet_ids"), "Managed node groups cannot move to other subnets",
		fmt.Sprintf("subnet_ids changes, and the managed node groups %s keep their names: CloudFormation moves a managed node group to other subnets only by replacing it, "+
			"and the new group would need the name the old one holds. Give those node_groups entries new names in the same change (for example %q): "+
			"the apply creates the new groups on the new subnets, then removes the old ones.", quotedList(kept), kept[0]+"-2"))
}

// stackTemplate is the template the stack gets: template_body, or the embedded one with
// the node groups.
func (m eksClusterModel) stackTemplate(ctx context.Context, diags *diag.Diagnostics) string {
	if isKnown(m.TemplateBody) && m.TemplateBody.ValueString() != "" {
		return m.TemplateBody.ValueString()
	}
	groups, _ := nodeGroups(ctx, m.NodeGroups, diags)
	list, _ := addons(m.Addons)
	body, err := cloud.RenderEKSClusterTemplate(groups, list...)
	var tooLarge *cloud.TemplateTooLargeError
	switch {
	case errors.As(err, &tooLarge):
		diags.AddAttributeError(nodeGroupsPath, "Too many node group settings", err.Error()+".")
	case err != nil:
		diags.AddAttributeError(addonsPath, "Rendering the add-ons failed", err.Error()+".")
	}
	return body
}

// nodeRoles are the roles whose nodes join: the self-managed group's and the managed
// groups' (in CONFIG_MAP mode both go into kube-system/aws-auth).
func (m eksClusterModel) nodeRoles() []string {
	var out []string
	for _, v := range []types.String{m.NodeInstanceRoleARN, m.ManagedNodeRoleARN} {
		if v == m.NodeInstanceRoleARN && isKnown(m.NodeCount) && m.NodeCount.ValueInt64() == 0 {
			continue // no self-managed nodes
		}
		if isKnown(v) && v.ValueString() != "" {
			out = append(out, v.ValueString())
		}
	}
	return out
}

// stackBody is the stack's template; false after an error.
func stackBody(ctx context.Context, sess *cloud.Session, st *cloud.Stack, diags *diag.Diagnostics) (string, bool) {
	body, err := sess.StackTemplate(ctx, st.ID)
	if err != nil {
		diags.AddError("Reading the CloudFormation stack's template failed", err.Error()) // StackTemplate sanitizes it
		return "", false
	}
	return body, true
}

// readNodeGroupsFrom reads the node groups back from the stack's template (body, called
// only when needed), so a change made to the stack outside Terraform shows as drift and an
// import learns them. Only a stack of the embedded template with groups (its
// ManagedNodeRoleArn output says so) is read.
func readNodeGroupsFrom(ctx context.Context, body func() (string, bool), st *cloud.Stack, m *eksClusterModel, diags *diag.Diagnostics) {
	_, rendered := st.Outputs[cloud.OutputManagedNodeRoleArn]
	if isKnown(m.TemplateBody) || !rendered && (!isKnown(m.NodeGroups) || len(m.NodeGroups.Elements()) == 0) {
		return
	}
	text, ok := body()
	if !ok {
		return
	}
	groups, err := cloud.NodeGroupsFromTemplate(text)
	if err != nil {
		diags.AddError("Reading the node groups failed", err.Error())
		return
	}
	if v := nodeGroupsValue(groups); !sameNodeGroups(ctx, v, m.NodeGroups) {
		m.NodeGroups = v
	}
}

// nodeCountDefault: node_count left out is the prior count for a cluster that exists (a
// self-managed group stays until the configuration says node_count = 0), and for a new one
// 3 without node_groups, 0 with them (managed node groups by default).
func nodeCountDefault() planmodifier.Int64 { return nodeCountModifier{} }

type nodeCountModifier struct{}

func (nodeCountModifier) Description(context.Context) string {
	return "the prior count; for a new cluster 3 without node_groups, 0 with them"
}

func (m nodeCountModifier) MarkdownDescription(ctx context.Context) string { return m.Description(ctx) }

func (nodeCountModifier) PlanModifyInt64(ctx context.Context, req planmodifier.Int64Request, resp *planmodifier.Int64Response) {
	if !req.ConfigValue.IsNull() {
		return
	}
	if !req.StateValue.IsNull() {
		resp.PlanValue = req.StateValue
		return
	}
	var groups types.Map
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, nodeGroupsPath, &groups)...)
	if groups.IsUnknown() || len(groups.Elements()) > 0 {
		resp.PlanValue = types.Int64Value(0)
		return
	}
	resp.PlanValue = types.Int64Value(3)
}

// checkImportedNodeGroups refuses, for a stack just imported, a configuration whose node
// groups differ from the stack's in a setting that cannot change in place (ModifyPlan had
// no prior groups to compare with); false when it did.
func checkImportedNodeGroups(ctx context.Context, body func() (string, bool), st *cloud.Stack, plan eksClusterModel, diags *diag.Diagnostics) bool {
	if _, rendered := st.Outputs[cloud.OutputManagedNodeRoleArn]; !rendered || isKnown(plan.TemplateBody) {
		return true
	}
	var stack eksClusterModel
	readNodeGroupsFrom(ctx, body, st, &stack, diags)
	have, _ := nodeGroups(ctx, stack.NodeGroups, diags)
	want, _ := nodeGroups(ctx, plan.NodeGroups, diags)
	ok := !diags.HasError()
	for _, old := range have {
		for _, nw := range want {
			if nw.Name != old.Name {
				continue
			}
			for _, f := range cloud.NodeGroupReplaceFields(old, nw) {
				diags.AddAttributeError(nodeGroupAttrPath(nw.Name, f), "Configuration does not match the imported stack",
					fmt.Sprintf("%s differs from the stack's node group %q; it cannot change in place. Make the configuration match the stack, or give the entry a new name.", nodeGroupPathText(nw.Name, f), nw.Name))
				ok = false
			}
		}
	}
	return ok
}
