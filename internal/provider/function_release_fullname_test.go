package provider

import (
	"context"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
)

// callReleaseFullname runs the function as the framework does: the variadic options
// arrive as one tuple of dynamic values.
func callReleaseFullname(t *testing.T, release, chart string, options ...attr.Value) (types.String, *function.FuncError) {
	t.Helper()
	elemTypes := make([]attr.Type, len(options))
	dyn := make([]attr.Value, len(options))
	for i, o := range options {
		elemTypes[i] = types.DynamicType
		dyn[i] = types.DynamicValue(o)
	}
	args := function.NewArgumentsData([]attr.Value{types.StringValue(release), types.StringValue(chart), types.TupleValueMust(elemTypes, dyn)})
	resp := &function.RunResponse{Result: function.NewResultData(types.StringUnknown())}
	newReleaseFullnameFunction().Run(context.Background(), function.RunRequest{Arguments: args}, resp)
	if resp.Error != nil {
		return types.StringNull(), resp.Error
	}
	s, ok := resp.Result.Value().(types.String)
	if !ok {
		t.Fatalf("result is %T, want types.String", resp.Result.Value())
	}
	return s, nil
}

func opts(attrs map[string]attr.Value) types.Object {
	typ := map[string]attr.Type{}
	for k, v := range attrs {
		typ[k] = v.Type(context.Background())
	}
	return types.ObjectValueMust(typ, attrs)
}

func num(n float64) types.Number { return types.NumberValue(big.NewFloat(n)) }

func TestReleaseFullnameFunction(t *testing.T) {
	long53 := strings.Repeat("a", 53)
	cases := []struct {
		name, release, chart string
		options              []attr.Value
		want                 string
	}{
		{"short names", "web", "podinfo", nil, "web-podinfo"},
		{"contains the chart", "my-podinfo", "podinfo", nil, "my-podinfo"},
		{"cut at 63", long53, "kube-prometheus-stack", nil, long53 + "-kube-prom"},
		{"cut at 26", "observability", "kube-prometheus-stack", []attr.Value{opts(map[string]attr.Value{"max_length": num(26)})}, "observability-kube-prometh"},
		{"trailing dash", "monitoring-platform1", "kube-prometheus-stack", []attr.Value{opts(map[string]attr.Value{"max_length": num(26)})}, "monitoring-platform1-kube"},
		{"fullname override", "web", "podinfo", []attr.Value{opts(map[string]attr.Value{"fullname_override": types.StringValue("edge")})}, "edge"},
		{"name override", "web", "podinfo", []attr.Value{opts(map[string]attr.Value{"name_override": types.StringValue("api")})}, "web-api"},
		{"null attribute", "web", "podinfo", []attr.Value{opts(map[string]attr.Value{"fullname_override": types.StringNull()})}, "web-podinfo"},
		{"empty override", "web", "podinfo", []attr.Value{opts(map[string]attr.Value{"fullname_override": types.StringValue("")})}, "web-podinfo"},
		{"a map of strings", "web", "podinfo", []attr.Value{types.MapValueMust(types.StringType, map[string]attr.Value{"fullname_override": types.StringValue("edge")})}, "edge"},
		{"empty object", "web", "podinfo", []attr.Value{opts(map[string]attr.Value{})}, "web-podinfo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := callReleaseFullname(t, tc.release, tc.chart, tc.options...)
			if err != nil {
				t.Fatalf("error: %s", err.Text)
			}
			if got.ValueString() != tc.want || got.IsUnknown() {
				t.Fatalf("got %s, want %q", got, tc.want)
			}
		})
	}
}

// The function and the managed_app outputs apply one rule: a catalog app's output named
// "{fullname}-..." is the function's result with the entry's fullname_max_length.
func TestReleaseFullnameFunction_MatchesCatalogOutputs(t *testing.T) {
	for _, release := range []string{"prometheus", "observability", "monitoring-platform1", strings.Repeat("m", 53)} {
		a, _ := apps.Lookup("prometheus")
		got, err := callReleaseFullname(t, release, a.Chart, opts(map[string]attr.Value{"max_length": num(float64(a.FullnameLimit()))}))
		if err != nil {
			t.Fatal(err.Text)
		}
		want := a.ResolveOutputs(release, nil)["prometheus_service"]
		if got.ValueString()+"-prometheus" != want {
			t.Errorf("release %q: %q-prometheus, want %q", release, got.ValueString(), want)
		}
	}
}

func TestReleaseFullnameFunction_UnknownOption(t *testing.T) {
	got, err := callReleaseFullname(t, "web", "podinfo", opts(map[string]attr.Value{"fullname_override": types.StringUnknown()}))
	if err != nil {
		t.Fatal(err.Text)
	}
	if !got.IsUnknown() {
		t.Fatalf("got %s, want unknown while an option is", got)
	}
}

func TestReleaseFullnameFunction_Errors(t *testing.T) {
	twoOpts := []attr.Value{opts(map[string]attr.Value{}), opts(map[string]attr.Value{})}
	cases := []struct {
		name, release, chart string
		options              []attr.Value
		pos                  int64
		want                 string
	}{
		{"bad release name", "Bad_Name", "podinfo", nil, 0, `"Bad_Name" is not a DNS-1123 label of at most 53 characters`},
		{"release too long", strings.Repeat("a", 54), "podinfo", nil, 0, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" is not a DNS-1123 label of at most 53`},
		{"empty release", "", "podinfo", nil, 0, `"" is not a DNS-1123 label`},
		{"bad chart", "web", "pod info", nil, 1, `"pod info" is not a chart name`},
		{"two options", "web", "podinfo", twoOpts, 3, "at most one options object may follow chart_name, got 2"},
		{"options not an object", "web", "podinfo", []attr.Value{types.StringValue("edge")}, 2, `must be an object such as { fullname_override = "web" }, got a string`},
		{"helm's key", "web", "podinfo", []attr.Value{opts(map[string]attr.Value{"fullnameOverride": types.StringValue("edge")})}, 2,
			`unknown attribute "fullnameOverride" (did you mean fullname_override?); the options are fullname_override, name_override, max_length`},
		{"override not a string", "web", "podinfo", []attr.Value{opts(map[string]attr.Value{"fullname_override": num(5)})}, 2, "fullname_override must be a string, got a number"},
		{"max too big", "web", "podinfo", []attr.Value{opts(map[string]attr.Value{"max_length": num(64)})}, 2, "max_length must be a whole number from 1 to 63, got 64"},
		{"max zero", "web", "podinfo", []attr.Value{opts(map[string]attr.Value{"max_length": num(0)})}, 2, "max_length must be a whole number from 1 to 63, got 0"},
		{"max fraction", "web", "podinfo", []attr.Value{opts(map[string]attr.Value{"max_length": num(2.5)})}, 2, "max_length must be a whole number from 1 to 63, got 2.5"},
		{"max a string", "web", "podinfo", []attr.Value{opts(map[string]attr.Value{"max_length": types.StringValue("26")})}, 2, `max_length must be a whole number from 1 to 63, got "26"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := callReleaseFullname(t, tc.release, tc.chart, tc.options...)
			if err == nil {
				t.Fatal("no error")
			}
			if err.FunctionArgument == nil || *err.FunctionArgument != tc.pos {
				t.Errorf("argument %v, want %d", err.FunctionArgument, tc.pos)
			}
			if !strings.Contains(err.Text, tc.want) {
				t.Errorf("error %q, want it to contain %q", err.Text, tc.want)
			}
		})
	}
}

// TestAccFunctionReleaseFullname_Basic calls the function through the CLI (Terraform >= 1.8,
// OpenTofu >= 1.7): plain calls, options, the catalog's cut, and an option known only
// after apply.
func TestAccFunctionReleaseFullname_Basic(t *testing.T) {
	accOnly(t)
	prom, _ := apps.Lookup("prometheus")
	long53 := strings.Repeat("a", 53)
	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []tfresource.TestStep{{
			// A bad argument fails the plan on that parameter (more in _BadArguments).
			Config: `terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

output "name" {
  value = provider::clusterkit::release_fullname("Web", "podinfo")
}
`,
			ExpectError: cliText(`Invalid function argument`, `Invalid value for "release_name" parameter: "Web" is not a DNS-1123 label of at most 53 characters`),
		}, {
			ConfigDirectory: config.StaticDirectory("testdata/TestAccFunctionReleaseFullname_Basic"),
			ConfigVariables: config.Variables{"long_release": config.StringVariable(long53)},
			ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				// Known at plan time when the arguments are; unknown until then.
				plancheck.ExpectKnownOutputValue("short", knownvalue.StringExact("web-podinfo")),
				plancheck.ExpectUnknownOutputValue("late"),
				plancheck.ExpectUnknownOutputValue("late_override"),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("short", knownvalue.StringExact("web-podinfo")),
				statecheck.ExpectKnownOutputValue("contains_chart", knownvalue.StringExact("my-podinfo")),
				statecheck.ExpectKnownOutputValue("cut_at_63", knownvalue.StringExact(long53+"-kube-prom")),
				statecheck.ExpectKnownOutputValue("cut_at_26", knownvalue.StringExact("observability-kube-prometh")),
				statecheck.ExpectKnownOutputValue("trailing_dash", knownvalue.StringExact("monitoring-platform1-kube")),
				statecheck.ExpectKnownOutputValue("fullname_override", knownvalue.StringExact("edge")),
				statecheck.ExpectKnownOutputValue("name_override", knownvalue.StringExact("web-api")),
				statecheck.ExpectKnownOutputValue("module_options", knownvalue.StringExact("web-podinfo")),
				statecheck.ExpectKnownOutputValue("null_override", knownvalue.StringExact("web-podinfo")),
				statecheck.ExpectKnownOutputValue("late", knownvalue.StringExact("late-podinfo")),
				statecheck.ExpectKnownOutputValue("late_override", knownvalue.StringExact("late")),
				// With the catalog's cut, the function gives what the managed_app outputs give.
				statecheck.ExpectKnownOutputValue("prometheus_service", knownvalue.StringExact("observability-kube-prometh-prometheus")),
				statecheck.ExpectKnownOutputValue("prometheus_service", knownvalue.StringExact(prom.ResolveOutputs("observability", nil)["prometheus_service"])),
			},
		}},
	})
}

// TestAccFunctionReleaseFullname_BadArguments: each bad argument fails the plan with an
// error on that parameter, as the CLI renders a provider function's argument error.
func TestAccFunctionReleaseFullname_BadArguments(t *testing.T) {
	accOnly(t)
	cases := map[string]struct{ call, param, want string }{
		"release name":  {`"Bad_Name", "podinfo"`, "release_name", `"Bad_Name" is not a DNS-1123 label of at most 53 characters`},
		"chart name":    {`"web", "pod info"`, "chart_name", `"pod info" is not a chart name`},
		"helm's key":    {`"web", "podinfo", { fullnameOverride = "edge" }`, "options", `unknown attribute "fullnameOverride" (did you mean fullname_override?); the options are fullname_override, name_override, max_length`},
		"max length":    {`"web", "podinfo", { max_length = 64 }`, "options", `max_length must be a whole number from 1 to 63, got 64`},
		"two options":   {`"web", "podinfo", {}, {}`, "options", `at most one options object may follow chart_name, got 2`},
		"not an object": {`"web", "podinfo", "edge"`, "options", `must be an object such as { fullname_override = "web" }, got a string`},
		// The CLI's own check, the same under both (no options is {} or none, not null).
		"null options": {`"web", "podinfo", null`, "options", `argument must not be null`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tfresource.Test(t, tfresource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []tfresource.TestStep{{
					Config: `terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

output "name" {
  value = provider::clusterkit::release_fullname(` + tc.call + `)
}
`,
					ExpectError: cliText(`Invalid function argument`, `Invalid value for "`+tc.param+`" parameter: `+tc.want),
				}},
			})
		})
	}
}

// cliText matches texts in a CLI's output in order, whatever lines the CLI wraps them on.
func cliText(texts ...string) *regexp.Regexp {
	parts := make([]string, len(texts))
	for i, s := range texts {
		parts[i] = strings.Join(strings.Fields(regexp.QuoteMeta(s)), `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, ".*"))
}
