package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"sigs.k8s.io/yaml"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// values: one YAML document (a string, as the attribute always took) or a list of them
// merged in order, as helm_release takes them. Both forms are accepted so that existing
// configurations and modules keep working unchanged and a helm_release configuration
// moves over as it is; the attribute is dynamic for that, and the state of schema version
// 0 (a string attribute) is upgraded to it.

// managedAppSchemaVersion 1: values became dynamic, the helm switches appeared.
const managedAppSchemaVersion = 1

func valuesAttribute() schema.DynamicAttribute {
	return schema.DynamicAttribute{
		Optional: true,
		MarkdownDescription: "Chart values: a YAML mapping (`yamlencode({...})` or `file(\"values.yaml\")`), or a list of them " +
			"merged in order as `helm_release` takes them, e.g. `[file(\"common.yaml\"), yamlencode({ replicaCount = 3 })]`: a " +
			"later document overrides an earlier one key by key, maps are merged deeply, lists and other values replaced, and " +
			"`null` removes a key (helm itself merges them: each document is a `-f` file of its own, in order). A `null` " +
			"element is left out, so `[var.extra_values]` may be empty. Each document is checked at plan time. For a catalog " +
			"app the documents are merged over its default values. Stored in ConfigMap `values-content-configuration-<name>` " +
			"(keys `values.yaml`, `values-1.yaml`, ...) and in state: put secrets in `sensitive_values`, which helm gets last. " +
			"Changing a document runs an upgrade; writing the same documents as a string or a one-element list does not.",
		Validators: []validator.Dynamic{valuesValidator{}},
	}
}

// valuesDoc is one document of values; index is its place in the list, -1 for a string.
type valuesDoc struct {
	index int
	text  string
}

// valuesShapeError: values is neither a string nor a list of strings (at index, or -1 for
// the whole value).
type valuesShapeError struct {
	index int
	what  string
}

func (e *valuesShapeError) Error() string { return e.what }

// valuesDocuments reads values in order; known is false while any part is unknown.
func valuesDocuments(v types.Dynamic) (docs []valuesDoc, known bool, err error) {
	if v.IsUnknown() || v.IsUnderlyingValueUnknown() {
		return nil, false, nil
	}
	if v.IsNull() || v.IsUnderlyingValueNull() {
		return nil, true, nil
	}
	var elems []attr.Value
	switch u := v.UnderlyingValue().(type) {
	case types.String:
		return []valuesDoc{{index: -1, text: u.ValueString()}}, true, nil
	case types.List:
		elems = u.Elements()
	case types.Tuple:
		elems = u.Elements()
	case types.Set:
		return nil, true, &valuesShapeError{-1, "a set has no order, and the order of values documents matters: use a list"}
	default:
		return nil, true, &valuesShapeError{-1, "must be a YAML string (e.g. yamlencode({...}) or file(\"values.yaml\")) or a list of them"}
	}
	for i, e := range elems {
		if dv, ok := e.(types.Dynamic); ok {
			e = dv.UnderlyingValue()
		}
		if e == nil || e.IsNull() {
			continue // as helm_release does: [var.optional_values] may leave it out
		}
		if e.IsUnknown() {
			return nil, false, nil
		}
		s, ok := e.(types.String)
		if !ok {
			return nil, true, &valuesShapeError{i, "must be a YAML string (e.g. yamlencode({...}) or file(\"values.yaml\"))"}
		}
		docs = append(docs, valuesDoc{index: i, text: s.ValueString()})
	}
	return docs, true, nil
}

// valuesTexts are the documents' texts, in order.
func valuesTexts(docs []valuesDoc) []string {
	out := make([]string, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.text)
	}
	return out
}

// valuesChanged: helm would get other documents. A string and a one-element list holding
// it are the same documents, and so is a list with null elements and one without them.
func valuesChanged(plan, state types.Dynamic) bool {
	p, pk, perr := valuesDocuments(plan)
	s, sk, serr := valuesDocuments(state)
	if !pk || !sk || perr != nil || serr != nil {
		return !plan.Equal(state)
	}
	return !slices.Equal(valuesTexts(p), valuesTexts(s))
}

// splitValues is the spec's values: the first document merged over a catalog app's
// defaults (values.yaml), the others as files of their own, in order, for helm to merge.
func splitValues(defaults string, docs []string) (first string, more []string, err error) {
	if len(docs) > 0 {
		first, more = docs[0], docs[1:]
	}
	if defaults != "" {
		if first, err = mergeValues(defaults, first); err != nil {
			return "", nil, err
		}
	}
	return first, more, nil
}

// mergedValues merges every document over defaults, for what the provider itself reads
// from the values (the catalog outputs' fullnameOverride); helm does its own merge.
func mergedValues(defaults string, docs []string) (string, error) {
	out := defaults
	for _, d := range docs {
		merged, err := mergeValues(out, d)
		if err != nil {
			return "", err
		}
		out = merged
	}
	return out, nil
}

// mergeValues merges user values over a catalog entry's defaults key by key, as helm
// does with several -f files (maps merge recursively, anything else is replaced, null
// removes a default).
func mergeValues(defaults, user string) (string, error) {
	if strings.TrimSpace(user) == "" {
		return defaults, nil
	}
	if strings.TrimSpace(defaults) == "" {
		return user, nil
	}
	var d, u map[string]any
	if err := yaml.Unmarshal([]byte(defaults), &d); err != nil {
		return "", fmt.Errorf("catalog default values are not a YAML mapping: %w", err)
	}
	if err := yaml.Unmarshal([]byte(user), &u); err != nil {
		return "", fmt.Errorf("values are not a YAML mapping: %w", err)
	}
	out, err := yaml.Marshal(mergeMaps(d, u))
	return string(out), err
}

func mergeMaps(base, over map[string]any) map[string]any {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range over {
		if v == nil {
			delete(out, k)
			continue
		}
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if bok && ook {
			out[k] = mergeMaps(bm, om)
			continue
		}
		out[k] = v
	}
	return out
}

// valuesValidator checks each document of values at plan time, naming it values[i].
type valuesValidator struct{}

func (valuesValidator) Description(context.Context) string {
	return "must be a YAML mapping of chart values, or a list of them"
}
func (v valuesValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (valuesValidator) ValidateDynamic(_ context.Context, req validator.DynamicRequest, resp *validator.DynamicResponse) {
	docs, _, err := valuesDocuments(req.ConfigValue)
	if err != nil {
		at := req.Path
		if se := (*valuesShapeError)(nil); errors.As(err, &se) && se.index >= 0 {
			at = at.AtListIndex(se.index)
		}
		resp.Diagnostics.AddAttributeError(at, "Invalid "+at.String(), fmt.Sprintf("%s %s.", at, err))
		return
	}
	for _, d := range docs {
		at := req.Path
		if d.index >= 0 {
			at = at.AtListIndex(d.index)
		}
		// The parser's message says where and what (it does not repeat the document).
		if err := yamlMapping(d.text, true); err != nil {
			resp.Diagnostics.AddAttributeError(at, "Invalid "+at.String(),
				fmt.Sprintf("%s must be a YAML mapping of chart values (as in a values.yaml file): %s.", at, err))
		}
	}
}

// UpgradeState: version 0 had values as a string, and no helm switches.
func (r *managedAppResource) UpgradeState(ctx context.Context) map[int64]resource.StateUpgrader {
	var current resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &current)
	prior := current.Schema
	prior.Version = 0
	prior.Attributes = maps.Clone(current.Schema.Attributes)
	prior.Attributes["values"] = schema.StringAttribute{Optional: true, MarkdownDescription: "Chart values as a YAML mapping."}
	return map[int64]resource.StateUpgrader{0: {PriorSchema: &prior, StateUpgrader: upgradeManagedAppStateV0}}
}

// upgradeManagedAppStateV0 keeps values as they were (a string stays a string, so a
// configuration that sets one plans no change) and records the switches' defaults, which
// are how helm ran for those releases (--wait, rollback on failure, --cleanup-on-fail,
// helm's default history), so that a provider upgrade plans no change either.
func upgradeManagedAppStateV0(ctx context.Context, req resource.UpgradeStateRequest, resp *resource.UpgradeStateResponse) {
	if req.State == nil {
		resp.Diagnostics.AddError("Unable to upgrade the managed app's state", "The prior state could not be read.")
		return
	}
	var attrs map[string]tftypes.Value
	if err := req.State.Raw.As(&attrs); err != nil {
		resp.Diagnostics.AddError("Unable to upgrade the managed app's state", "The prior state is not an object: "+err.Error())
		return
	}
	if v, ok := attrs["values"]; !ok || v.IsNull() {
		attrs["values"] = tftypes.NewValue(tftypes.DynamicPseudoType, nil)
	}
	defaults := map[string]tftypes.Value{
		"wait": tftypes.NewValue(tftypes.Bool, true), "wait_for_jobs": tftypes.NewValue(tftypes.Bool, false),
		"atomic": tftypes.NewValue(tftypes.Bool, true), "cleanup_on_fail": tftypes.NewValue(tftypes.Bool, true),
		"skip_crds": tftypes.NewValue(tftypes.Bool, false), "max_history": tftypes.NewValue(tftypes.Number, kube.DefaultHistoryMax),
		"take_ownership": tftypes.NewValue(tftypes.Bool, false), "dependency_update": tftypes.NewValue(tftypes.Bool, false),
	}
	for k, v := range defaults {
		if cur, ok := attrs[k]; !ok || cur.IsNull() {
			attrs[k] = v
		}
	}
	typ := resp.State.Schema.Type().TerraformType(ctx)
	obj, ok := typ.(tftypes.Object)
	if !ok {
		resp.Diagnostics.AddError("Unable to upgrade the managed app's state", "The schema is not an object.")
		return
	}
	for k, t := range obj.AttributeTypes {
		if _, ok := attrs[k]; !ok {
			attrs[k] = tftypes.NewValue(t, nil)
		}
	}
	resp.State.Raw = tftypes.NewValue(typ, attrs)
}

var (
	_ resource.ResourceWithUpgradeState = (*managedAppResource)(nil)
	_ validator.Dynamic                 = valuesValidator{}
)
