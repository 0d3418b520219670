package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

// addons: EKS add-ons of the cluster, each an add-on of the stack
// (cloud.RenderEKSClusterTemplate) at a concrete version. A version left out is EKS's
// default for the cluster's Kubernetes version, resolved at apply; it stays until the
// Kubernetes version changes, when the same UpdateStack moves it to the new version's
// default. Left out altogether, a new cluster gets cloud.DefaultAddons and an existing one
// keeps what it has (none for a cluster made before the attribute existed).

var addonsPath = path.Root("addons")

var addonAttrTypes = map[string]attr.Type{"version": types.StringType, "configuration_values": types.StringType}

var addonFieldAttr = map[cloud.AddonField]string{cloud.FieldAddonVersion: "version", cloud.FieldAddonConfiguration: "configuration_values"}

func addonsAttribute() schema.MapNestedAttribute {
	return schema.MapNestedAttribute{
		Optional: true, Computed: true,
		MarkdownDescription: "EKS add-ons, by name: " + codeList(cloud.AddonNames()) + ". " +
			"Left out, a new cluster gets all four (`coredns` only when the cluster has nodes: `node_count` or `node_groups`), and a cluster that exists keeps the add-ons it has; `addons = {}` for none (EKS then runs its self-managed `vpc-cni`, `coredns` and `kube-proxy`, which nothing upgrades). " +
			"Each add-on runs at `version`, by default the one EKS gives for the cluster's `kubernetes_version` (looked up at apply), and follows the cluster's upgrades in the same stack update. " +
			"An add-on removed from the map keeps running, self-managed: the stack removes the add-on with `PreserveOnDelete`, which leaves its Kubernetes objects in place. `vpc-cni` uses the node role (which has `AmazonEKS_CNI_Policy`) and `eks-pod-identity-agent` needs no role: none takes an IAM role for service accounts. " +
			"Needs the embedded template (not `template_body`). See the guide on choosing versions and node groups.",
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"version": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "EKS add-on version such as `v1.19.2-eksbuild.1`; default EKS's default for the cluster's Kubernetes version. A pinned version must run on `kubernetes_version` (EKS's `DescribeAddonVersions`): a `kube-proxy` version is checked at plan time (its minor is the Kubernetes one), the others at apply, before the stack changes. Changed in place.",
			},
			"configuration_values": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The add-on's configuration, a JSON object (use `jsonencode`) in the add-on's own schema (`aws eks describe-addon-configuration`). Changed in place.",
			},
		}},
	}
}

// addons converts an addons value; ok is false when it or a part of it is unknown. An
// unknown version is "" (to be resolved).
func addons(v types.Map) (out []cloud.Addon, ok bool) {
	if v.IsUnknown() {
		return nil, false
	}
	ok = true
	for name, el := range v.Elements() {
		obj, isObj := el.(types.Object)
		if !isObj || obj.IsUnknown() {
			ok = false
			continue
		}
		a := cloud.Addon{Name: name}
		attrs := obj.Attributes()
		for k, dst := range map[string]*string{"version": &a.Version, "configuration_values": &a.ConfigurationValues} {
			switch s, _ := attrs[k].(types.String); {
			case s.IsUnknown():
				ok = ok && k == "version" // an unknown version is resolved at apply
			case !s.IsNull():
				*dst = s.ValueString()
			}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, ok
}

// addonsValue is list as an addons value; a version "" is unknown.
func addonsValue(list []cloud.Addon) types.Map {
	els := map[string]attr.Value{}
	for _, a := range list {
		version, config := types.StringUnknown(), types.StringNull()
		if a.Version != "" {
			version = types.StringValue(a.Version)
		}
		if a.ConfigurationValues != "" {
			config = types.StringValue(a.ConfigurationValues)
		}
		els[a.Name] = types.ObjectValueMust(addonAttrTypes, map[string]attr.Value{"version": version, "configuration_values": config})
	}
	return types.MapValueMust(types.ObjectType{AttrTypes: addonAttrTypes}, els)
}

func addonAttrPath(name string, f cloud.AddonField) path.Path {
	p := addonsPath.AtMapKey(name)
	if a, ok := addonFieldAttr[f]; ok {
		p = p.AtName(a)
	}
	return p
}

func addonPathText(name string, f cloud.AddonField) string {
	s := fmt.Sprintf("addons[%q]", name)
	if a, ok := addonFieldAttr[f]; ok {
		s += "." + a
	}
	return s
}

// checkAddons reports what EKS would refuse in the add-ons of v (as far as known), for a
// cluster on kubernetesVersion ("" when unknown).
func checkAddons(v types.Map, kubernetesVersion string, diags *diag.Diagnostics) {
	if !isKnown(v) {
		return
	}
	list, _ := addons(v)
	for _, a := range list {
		for _, e := range cloud.CheckAddon(a, kubernetesVersion) {
			diags.AddAttributeError(addonAttrPath(a.Name, e.Field), "Invalid add-on setting", addonPathText(a.Name, e.Field)+": "+e.Msg+".")
		}
	}
}

func knownString(v types.String) string {
	if isKnown(v) {
		return v.ValueString()
	}
	return ""
}

// validateAddons is ValidateConfig's part.
func validateAddons(m eksClusterModel, diags *diag.Diagnostics) {
	if isKnown(m.Addons) && len(m.Addons.Elements()) > 0 && isKnown(m.TemplateBody) {
		diags.AddAttributeError(addonsPath, "addons needs the embedded template",
			"addons adds EKS add-ons to the provider's own CloudFormation template, and template_body replaces that template: remove one of them (your template can declare its AWS::EKS::Addon resources itself).")
	}
	checkAddons(m.Addons, knownString(m.KubernetesVersion), diags)
}

// planHasNodes reports whether the planned cluster has nodes (true while not known).
func planHasNodes(plan *eksClusterModel) bool {
	if plan.NodeCount.IsUnknown() || plan.NodeGroups.IsUnknown() {
		return true
	}
	return plan.NodeCount.ValueInt64() > 0 || len(plan.NodeGroups.Elements()) > 0
}

// planAddons is ModifyPlan's part: the defaults, and each version left out: the prior one
// while the Kubernetes version stays, otherwise unknown (resolved at apply).
func planAddons(config, plan, state *eksClusterModel, diags *diag.Diagnostics) {
	imported := state != nil && state.StackID.IsNull()
	var want []cloud.Addon
	switch {
	case config.Addons.IsUnknown():
		plan.Addons = types.MapUnknown(types.ObjectType{AttrTypes: addonAttrTypes})
		return
	case !config.Addons.IsNull():
		want, _ = addons(config.Addons)
	case isKnown(plan.TemplateBody):
		plan.Addons = types.MapNull(types.ObjectType{AttrTypes: addonAttrTypes})
		return
	case imported:
		// What the stack has is read at apply.
		plan.Addons = types.MapUnknown(types.ObjectType{AttrTypes: addonAttrTypes})
		return
	case state != nil:
		if state.Addons.IsNull() {
			plan.Addons = state.Addons // a cluster from before add-ons: it keeps none
			return
		}
		want, _ = addons(state.Addons)
	default:
		for _, n := range cloud.DefaultAddons(planHasNodes(plan)) {
			want = append(want, cloud.Addon{Name: n})
		}
	}
	var prior map[string]string
	if state != nil && isKnown(state.Addons) && state.KubernetesVersion.Equal(plan.KubernetesVersion) {
		prior = map[string]string{}
		have, _ := addons(state.Addons)
		for _, a := range have {
			prior[a.Name] = a.Version
		}
	}
	pinned := map[string]bool{}
	if isKnown(config.Addons) {
		cfg, _ := addons(config.Addons)
		for _, a := range cfg {
			pinned[a.Name] = a.Version != ""
		}
	}
	for i, a := range want {
		switch {
		case pinned[a.Name]:
		case prior != nil && prior[a.Name] != "":
			want[i].Version = prior[a.Name]
		default:
			want[i].Version = "" // EKS's default, at apply
		}
		if a.Name == cloud.AddonCoreDNS && !planHasNodes(plan) && !config.Addons.IsNull() {
			diags.AddAttributeError(addonsPath.AtMapKey(a.Name), "CoreDNS needs nodes",
				`addons["coredns"]: the cluster has no nodes (node_count = 0 and no node_groups), so CoreDNS's pods cannot run and EKS reports the add-on DEGRADED until the stack gives up on it. Add node_groups or node_count, or remove coredns from addons.`)
		}
	}
	plan.Addons = addonsValue(want)
	if state != nil && !state.KubernetesVersion.Equal(plan.KubernetesVersion) {
		return
	}
	if state != nil && sameAddons(plan.Addons, state.Addons) {
		plan.Addons = state.Addons
	}
}

// sameAddons reports two addons values that mean the same add-ons (null and empty alike).
func sameAddons(a, b types.Map) bool {
	x, okA := addons(a)
	y, okB := addons(b)
	return okA && okB && slices.Equal(x, y) && !a.IsUnknown() && !b.IsUnknown()
}

// resolveAddons gives every add-on of the plan a concrete version before the stack is
// written: EKS's default for the cluster's Kubernetes version where none is set, and
// checks a version set or carried over against that Kubernetes version when it is new to
// the stack (a new add-on, a new version, an upgrade). stack are the add-ons the stack
// has (an import's versions are kept). It reports false after an error.
func (m *eksClusterModel) resolveAddons(ctx context.Context, sess *cloud.Session, state *eksClusterModel, stack []cloud.Addon, diags *diag.Diagnostics) bool {
	if m.Addons.IsNull() {
		return true
	}
	list, _ := addons(m.Addons)
	k8s := m.KubernetesVersion.ValueString()
	have := map[string]string{}
	for _, a := range stack {
		have[a.Name] = a.Version
	}
	if state != nil && isKnown(state.Addons) && state.KubernetesVersion.Equal(m.KubernetesVersion) {
		prior, _ := addons(state.Addons)
		for _, a := range prior {
			have[a.Name] = a.Version
		}
	}
	var check []cloud.Addon
	for i, a := range list {
		if a.Version == "" && have[a.Name] != "" && state != nil && state.StackID.IsNull() {
			list[i].Version = have[a.Name] // imported: the stack's version
			continue
		}
		if a.Version == "" || a.Version != have[a.Name] {
			check = append(check, list[i])
		}
	}
	if len(check) > 0 {
		tflog.SubsystemInfo(ctx, subsystemAWS, "Resolving EKS add-on versions", map[string]any{"kubernetes_version": k8s, "addons": len(check)})
		resolved, err := sess.ResolveAddons(ctx, check, k8s)
		var bad *cloud.AddonVersionError
		switch {
		case errors.As(err, &bad):
			what := "pinned"
			if inState(state, bad.Addon) && !pinnedIn(list, bad.Addon) {
				what = "carried over"
			}
			diags.AddAttributeError(addonAttrPath(bad.Addon, cloud.FieldAddonVersion), "Add-on version does not run on this Kubernetes version",
				fmt.Sprintf("%s (%s): %s. Set a version EKS offers for %s, or leave version out for EKS's default.", addonPathText(bad.Addon, cloud.FieldAddonVersion), what, bad.Error(), k8s))
			return false
		case err != nil:
			diags.AddAttributeError(addonsPath, "Reading the EKS add-on versions failed", err.Error())
			return false
		}
		for _, r := range resolved {
			for i := range list {
				if list[i].Name == r.Name {
					list[i].Version = r.Version
				}
			}
		}
	}
	m.Addons = addonsValue(list)
	return true
}

func inState(state *eksClusterModel, name string) bool {
	if state == nil || !isKnown(state.Addons) {
		return false
	}
	_, ok := state.Addons.Elements()[name]
	return ok
}

func pinnedIn(list []cloud.Addon, name string) bool {
	for _, a := range list {
		if a.Name == name {
			return a.Version != ""
		}
	}
	return false
}

// readAddons reads the add-ons back from the stack's template body, so a change made to
// the stack outside Terraform shows as drift and an import learns them.
func readAddons(body string, m *eksClusterModel, diags *diag.Diagnostics) {
	list, err := cloud.AddonsFromTemplate(body)
	if err != nil {
		diags.AddError("Reading the add-ons failed", err.Error())
		return
	}
	if v := addonsValue(list); !sameAddons(v, m.Addons) {
		if len(list) == 0 && m.Addons.IsNull() {
			return
		}
		m.Addons = v
	}
}

// wantsAddonsRead: the state's add-ons come from the stack's template (the embedded one,
// with add-ons in the state or not known yet).
func (m eksClusterModel) wantsAddonsRead() bool {
	return !isKnown(m.TemplateBody) && (m.Addons.IsUnknown() || isKnown(m.Addons) && len(m.Addons.Elements()) > 0)
}

// settleAddons leaves no unknown in a state written before the versions were resolved (an
// apply that failed first): such add-ons are read again by the next refresh or apply.
func (m *eksClusterModel) settleAddons() {
	if _, ok := addons(m.Addons); !ok || m.Addons.IsUnknown() {
		m.Addons = types.MapNull(types.ObjectType{AttrTypes: addonAttrTypes})
		return
	}
	for _, el := range m.Addons.Elements() {
		if obj, ok := el.(types.Object); ok && obj.Attributes()["version"].IsUnknown() {
			m.Addons = types.MapNull(types.ObjectType{AttrTypes: addonAttrTypes})
			return
		}
	}
}

// templateOnce reads the stack's template at most once.
func templateOnce(ctx context.Context, sess *cloud.Session, st *cloud.Stack, diags *diag.Diagnostics) func() (string, bool) {
	var body string
	var done, ok bool
	return func() (string, bool) {
		if !done {
			body, ok = stackBody(ctx, sess, st, diags)
			done = true
		}
		return body, ok
	}
}

// importedAddons, for a stack just imported, reads the stack's add-ons: the plan takes
// them when the configuration names none, and keeps their versions where it sets none.
func importedAddons(body func() (string, bool), plan *eksClusterModel, diags *diag.Diagnostics) []cloud.Addon {
	if isKnown(plan.TemplateBody) {
		return nil
	}
	text, ok := body()
	if !ok {
		return nil
	}
	list, err := cloud.AddonsFromTemplate(text)
	if err != nil {
		diags.AddError("Reading the add-ons failed", err.Error())
		return nil
	}
	if plan.Addons.IsUnknown() {
		plan.Addons = types.MapNull(types.ObjectType{AttrTypes: addonAttrTypes})
		if len(list) > 0 {
			plan.Addons = addonsValue(list)
		}
	}
	return list
}
