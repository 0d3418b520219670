package provider

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

var _ function.Function = (*releaseFullnameFunction)(nil)

func newReleaseFullnameFunction() function.Function { return &releaseFullnameFunction{} }

// releaseFullnameFunction is the fullname rule the managed_app outputs use
// (apps.HelmFullname), for names a module needs before or without a catalog output: a
// custom chart's Service, an Ingress backend, a NetworkPolicy selector.
type releaseFullnameFunction struct{}

// The options object's keys. An object, not more positional arguments: Terraform has no
// optional arguments, and a module usually sets only one of them.
const (
	optFullnameOverride = "fullname_override"
	optNameOverride     = "name_override"
	optMaxLength        = "max_length"
)

var releaseFullnameOptions = []string{optFullnameOverride, optNameOverride, optMaxLength}

// helmValueOptions: the chart values the options stand for, for a hint when a module
// passes its values object as it is.
var helmValueOptions = map[string]string{"fullnameOverride": optFullnameOverride, "nameOverride": optNameOverride}

// Argument positions, for the errors.
const (
	argReleaseName = 0
	argChartName   = 1
	argOptions     = 2
)

func (f *releaseFullnameFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "release_fullname"
}

func (f *releaseFullnameFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "The name a Helm chart gives a release's objects (its fullname)",
		MarkdownDescription: "Returns the name the usual chart helper (`<chart>.fullname`, as `helm create` scaffolds it) gives a release's " +
			"objects, by the rule `clusterkit_managed_app` uses for its `outputs`: `fullname_override` when set; else the release name " +
			"when it contains the chart's name (`name_override` when set, else `chart_name`); else `<release_name>-<name>`; cut to " +
			"`max_length` characters (default 63) without a trailing `-`. Charts whose helper differs (a shorter cut, another " +
			"pattern) name their objects differently: for a catalog app pass its `fullname_max_length` from the `clusterkit_catalog` " +
			"data source as `max_length`.",
		Parameters: []function.Parameter{
			function.StringParameter{
				Name: "release_name",
				MarkdownDescription: "Helm release name (`clusterkit_managed_app`'s `name`): a DNS-1123 label of at most " +
					fmt.Sprint(kube.MaxReleaseNameLength) + " characters.",
			},
			function.StringParameter{
				Name:                "chart_name",
				MarkdownDescription: "The chart's name (its `Chart.yaml` name, as in the `chart` block or the catalog entry's `chart`).",
			},
		},
		VariadicParameter: function.DynamicParameter{
			// No null: OpenTofu (1.12) sends a null options argument as an empty value or
			// skips the call, so null would mean one thing under Terraform and another under
			// OpenTofu. An empty object is "no options" under both.
			Name: "options",
			MarkdownDescription: "At most one object with any of: `" + optFullnameOverride + "` (the chart value `fullnameOverride`), `" +
				optNameOverride + "` (the chart value `nameOverride`), `" + optMaxLength + "` (a whole number from 1 to " +
				fmt.Sprint(apps.DefaultFullnameMax) + "; default " + fmt.Sprint(apps.DefaultFullnameMax) + "). " +
				"A null attribute or an empty string counts as unset, as in helm; for no options leave the argument out or pass `{}` (not `null`).",
		},
		Return: function.StringReturn{},
	}
}

func (f *releaseFullnameFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var release, chart string
	var options types.Tuple
	resp.Error = req.Arguments.Get(ctx, &release, &chart, &options)
	if resp.Error != nil {
		return
	}
	if err := kube.CheckReleaseName(release); err != nil {
		resp.Error = function.NewArgumentFuncError(argReleaseName, err.Error())
		return
	}
	if err := kube.CheckChartName(chart); err != nil {
		resp.Error = function.NewArgumentFuncError(argChartName, err.Error())
		return
	}
	values, maxLen, known, funcErr := releaseFullnameArgs(options.Elements())
	if funcErr != nil {
		resp.Error = funcErr
		return
	}
	if !known {
		resp.Error = resp.Result.Set(ctx, types.StringUnknown())
		return
	}
	resp.Error = resp.Result.Set(ctx, apps.HelmFullname(release, chart, values, maxLen))
}

// releaseFullnameArgs reads the options into the chart values and the cut the rule takes.
// known is false when an option is not known yet (the result is then unknown too).
func releaseFullnameArgs(options []attr.Value) (values map[string]any, maxLen int, known bool, _ *function.FuncError) {
	if len(options) > 1 {
		return nil, 0, false, function.NewArgumentFuncError(argOptions+1,
			fmt.Sprintf("at most one options object may follow chart_name, got %d", len(options)))
	}
	values = map[string]any{}
	if len(options) == 0 {
		return values, 0, true, nil
	}
	d, ok := options[0].(types.Dynamic)
	if !ok || d.IsNull() || d.IsUnderlyingValueNull() {
		return values, 0, true, nil
	}
	if d.IsUnknown() || d.IsUnderlyingValueUnknown() {
		return nil, 0, false, nil
	}
	var attrs map[string]attr.Value
	switch v := d.UnderlyingValue().(type) {
	case types.Object:
		attrs = v.Attributes()
	case types.Map:
		attrs = v.Elements()
	default:
		return nil, 0, false, function.NewArgumentFuncError(argOptions,
			fmt.Sprintf("must be an object such as { %s = \"web\" }, got a %s", optFullnameOverride, typeWord(d.UnderlyingValue())))
	}
	known = true
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[k]
		if !slices.Contains(releaseFullnameOptions, k) {
			hint := ""
			if alt, ok := helmValueOptions[k]; ok {
				hint = " (did you mean " + alt + "?)"
			}
			return nil, 0, false, function.NewArgumentFuncError(argOptions,
				fmt.Sprintf("unknown attribute %q%s; the options are %s", k, hint, strings.Join(releaseFullnameOptions, ", ")))
		}
		if v.IsNull() {
			continue
		}
		if v.IsUnknown() {
			known = false
			continue
		}
		switch k {
		case optFullnameOverride, optNameOverride:
			s, ok := v.(types.String)
			if !ok {
				return nil, 0, false, function.NewArgumentFuncError(argOptions,
					fmt.Sprintf("%s must be a string, got a %s", k, typeWord(v)))
			}
			for helmKey, opt := range helmValueOptions {
				if opt == k {
					values[helmKey] = s.ValueString()
				}
			}
		case optMaxLength:
			n, ok := wholeNumber(v)
			if !ok || n < 1 || n > apps.DefaultFullnameMax {
				return nil, 0, false, function.NewArgumentFuncError(argOptions,
					fmt.Sprintf("%s must be a whole number from 1 to %d, got %s", k, apps.DefaultFullnameMax, v))
			}
			maxLen = n
		}
	}
	return values, maxLen, known, nil
}

// wholeNumber is v as an int when it is a whole number small enough to be a length.
func wholeNumber(v attr.Value) (int, bool) {
	var f *big.Float
	switch n := v.(type) {
	case types.Number:
		f = n.ValueBigFloat()
	case types.Int64:
		return int(n.ValueInt64()), n.ValueInt64() >= -1<<31 && n.ValueInt64() < 1<<31
	default:
		return 0, false
	}
	if f == nil || !f.IsInt() {
		return 0, false
	}
	i, acc := f.Int64()
	if acc != big.Exact || i < -1<<31 || i >= 1<<31 {
		return 0, false
	}
	return int(i), true
}

// typeWord names a value's Terraform type in an error ("string", "number", "list").
func typeWord(v attr.Value) string {
	switch v.(type) {
	case types.String:
		return "string"
	case types.Number, types.Int64, types.Float64, types.Int32, types.Float32:
		return "number"
	case types.Bool:
		return "bool"
	case types.List, types.Tuple:
		return "list"
	case types.Set:
		return "set"
	case types.Map:
		return "map"
	case types.Object:
		return "object"
	}
	return "value of another type"
}
