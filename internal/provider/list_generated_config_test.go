package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
)

// What `terraform query -generate-config-out` writes for a list result, rendered in the
// tests from the list's own answer (no CLI here runs `query`). The rules follow what the
// CLI's generator does with a resource object: every attribute the user may set (required
// or optional), in name order, computed-only ones left out; a null value as `null`; a
// sensitive attribute as `null # sensitive` (the result never holds a secret, and the
// generator would not print one); nested attributes recursively. An import block by the
// result's identity goes before it.
//
// What a user then fills in by hand is given as fills: attribute path ("external_id",
// "cluster_connection.token") to HCL expression. A fill may only replace what the list
// left null or the generator hid as sensitive, so a test cannot overwrite what the list
// said; a fill the rendering never reaches fails the test too.

// generatedConfig is the import block and resource block for one list result of typ.
func generatedConfig(t *testing.T, schema *tfprotov6.Schema, typ, label string, r listed, fills map[string]string) string {
	t.Helper()
	cfg, err := renderGeneratedConfig(schema, typ, label, r, fills)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func renderGeneratedConfig(schema *tfprotov6.Schema, typ, label string, r listed, fills map[string]string) (string, error) {
	if r.resource == nil || r.identityValue.IsNull() {
		return "", fmt.Errorf("result %q has no resource object or identity (include_resource?)", r.display)
	}
	g := &configGen{fills: fills, used: map[string]bool{}}
	var identity map[string]tftypes.Value
	if err := r.identityValue.As(&identity); err != nil {
		return "", err
	}
	fmt.Fprintf(&g.b, "# %s\nimport {\n  to = %s.%s\n  identity = {\n", r.display, typ, label)
	for _, k := range sortedKeys(identity) {
		fmt.Fprintf(&g.b, "    %s = %s\n", k, g.value(identity[k]))
	}
	fmt.Fprintf(&g.b, "  }\n}\n\nresource %q %q {\n", typ, label)
	g.attributes(schema.Block.Attributes, r.resource, "", 2)
	for _, bt := range schema.Block.BlockTypes {
		g.fail("%s has block %s: blocks are not rendered here", typ, bt.TypeName)
	}
	g.b.WriteString("}\n")
	for _, p := range sortedKeys(fills) {
		if !g.used[p] {
			g.fail("fill %s: the generated configuration has no such attribute", p)
		}
	}
	return g.b.String(), g.err
}

type configGen struct {
	b     strings.Builder
	fills map[string]string
	used  map[string]bool
	err   error // the first thing it could not render
}

func (g *configGen) fail(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf(format, args...)
	}
}

func (g *configGen) attributes(attrs []*tfprotov6.SchemaAttribute, obj map[string]tftypes.Value, prefix string, indent int) {
	byName := map[string]*tfprotov6.SchemaAttribute{}
	for _, a := range attrs {
		byName[a.Name] = a
	}
	pad := strings.Repeat(" ", indent)
	for _, name := range sortedKeys(byName) {
		a := byName[name]
		if !a.Required && !a.Optional {
			continue // computed only: not configuration
		}
		p, v := prefix+name, obj[name]
		if fill, ok := g.fills[p]; ok {
			if !v.IsNull() && !a.Sensitive {
				g.fail("fill %s: the list gave %s; fills are for what it leaves out", p, v)
			}
			g.used[p] = true
			fmt.Fprintf(&g.b, "%s%s = %s\n", pad, name, fill)
			continue
		}
		switch {
		case a.Sensitive && a.NestedType != nil:
			fmt.Fprintf(&g.b, "%s%s = {} # sensitive\n", pad, name)
		case a.Sensitive:
			fmt.Fprintf(&g.b, "%s%s = null # sensitive\n", pad, name)
		case v.IsNull():
			fmt.Fprintf(&g.b, "%s%s = null\n", pad, name)
		case a.NestedType != nil && a.NestedType.Nesting == tfprotov6.SchemaObjectNestingModeSingle:
			var inner map[string]tftypes.Value
			if err := v.As(&inner); err != nil {
				g.fail("%s: %v", p, err)
				continue
			}
			fmt.Fprintf(&g.b, "%s%s = {\n", pad, name)
			g.attributes(a.NestedType.Attributes, inner, p+".", indent+2)
			fmt.Fprintf(&g.b, "%s}\n", pad)
		case a.NestedType != nil:
			// Lists, sets and maps of objects: none of the listed attributes is one today.
			g.fail("%s: nested %v attributes are not rendered here", p, a.NestedType.Nesting)
		default:
			fmt.Fprintf(&g.b, "%s%s = %s\n", pad, name, g.value(v))
		}
	}
}

// value is v as an HCL expression.
func (g *configGen) value(v tftypes.Value) string {
	if v.IsNull() {
		return "null"
	}
	if !v.IsKnown() {
		g.fail("unknown value %s in a list result", v)
		return "null"
	}
	switch ty := v.Type(); {
	case ty.Is(tftypes.String):
		var s string
		_ = v.As(&s)
		return hclString(s)
	case ty.Is(tftypes.Number):
		var n big.Float
		_ = v.As(&n)
		return n.Text('g', -1)
	case ty.Is(tftypes.Bool):
		var b bool
		_ = v.As(&b)
		return fmt.Sprint(b)
	case ty.Is(tftypes.List{}), ty.Is(tftypes.Set{}), ty.Is(tftypes.Tuple{}):
		var items []tftypes.Value
		if err := v.As(&items); err != nil {
			g.fail("%s: %v", v, err)
		}
		parts := make([]string, len(items))
		for i, it := range items {
			parts[i] = g.value(it)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case ty.Is(tftypes.Map{}), ty.Is(tftypes.Object{}):
		var m map[string]tftypes.Value
		if err := v.As(&m); err != nil {
			g.fail("%s: %v", v, err)
		}
		parts := make([]string, 0, len(m))
		for _, k := range sortedKeys(m) {
			parts = append(parts, hclString(k)+" = "+g.value(m[k]))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	default:
		g.fail("value of type %s not rendered", ty)
		return "null"
	}
}

// hclString quotes s as an HCL string literal (no template sequences).
func hclString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "${", "$${", "%{", "%%{")
	return `"` + r.Replace(s) + `"`
}

// TestGeneratedConfig_Rendering: the renderer on a schema with every case it handles,
// and its refusals: a fill over a value the list gave, a fill of no attribute.
func TestGeneratedConfig_Rendering(t *testing.T) {
	conn := tftypes.Object{AttributeTypes: map[string]tftypes.Type{"host": tftypes.String, "token": tftypes.String}}
	schema := &tfprotov6.Schema{Block: &tfprotov6.SchemaBlock{Attributes: []*tfprotov6.SchemaAttribute{
		{Name: "id", Type: tftypes.String, Computed: true},
		{Name: "name", Type: tftypes.String, Required: true},
		{Name: "secret", Type: tftypes.String, Required: true, Sensitive: true},
		{Name: "count", Type: tftypes.Number, Optional: true, Computed: true},
		{Name: "enabled", Type: tftypes.Bool, Optional: true},
		{Name: "ids", Type: tftypes.List{ElementType: tftypes.String}, Optional: true},
		{Name: "tags", Type: tftypes.Map{ElementType: tftypes.String}, Optional: true},
		{Name: "note", Type: tftypes.String, Optional: true},
		{Name: "values", Type: tftypes.DynamicPseudoType, Optional: true},
		{Name: "conn", NestedType: &tfprotov6.SchemaObject{Nesting: tfprotov6.SchemaObjectNestingModeSingle, Attributes: []*tfprotov6.SchemaAttribute{
			{Name: "host", Type: tftypes.String, Required: true},
			{Name: "token", Type: tftypes.String, Optional: true, Sensitive: true},
		}}, Optional: true},
	}}}
	r := listed{
		display:       "thing (test)",
		identityValue: tftypes.NewValue(tftypes.Object{AttributeTypes: map[string]tftypes.Type{"name": tftypes.String}}, map[string]tftypes.Value{"name": str("a")}),
		resource: map[string]tftypes.Value{
			"id": str("x/a"), "name": str(`a"${b}`), "secret": tftypes.NewValue(tftypes.String, nil),
			"count": tftypes.NewValue(tftypes.Number, 3), "enabled": tftypes.NewValue(tftypes.Bool, true),
			"ids": strList("i-1", "i-2"), "note": tftypes.NewValue(tftypes.String, nil), "values": str("k: v\n"),
			"tags": tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, map[string]tftypes.Value{"team b": str("shop")}),
			"conn": tftypes.NewValue(conn, map[string]tftypes.Value{"host": str("https://h"), "token": tftypes.NewValue(tftypes.String, nil)}),
		},
	}
	got := generatedConfig(t, schema, "clusterkit_x", "listed_0", r, map[string]string{"conn.token": "var.token"})
	want := `# thing (test)
import {
  to = clusterkit_x.listed_0
  identity = {
    name = "a"
  }
}

resource "clusterkit_x" "listed_0" {
  conn = {
    host = "https://h"
    token = var.token
  }
  count = 3
  enabled = true
  ids = ["i-1", "i-2"]
  name = "a\"$${b}"
  note = null
  secret = null # sensitive
  tags = { "team b" = "shop" }
  values = "k: v\n"
}
`
	if got != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
	}

	for name, fills := range map[string]map[string]string{
		"over a listed value": {"name": `"b"`},
		"of no attribute":     {"conn.ca": `"pem"`},
	} {
		if _, err := renderGeneratedConfig(schema, "clusterkit_x", "listed_0", r, fills); err == nil || !strings.HasPrefix(err.Error(), "fill ") {
			t.Errorf("fills %v (%s): error %v, want the fill refused", fills, name, err)
		}
	}
}

// canonical is a plan or state JSON value (or a list result's value) as one comparable
// string: numbers in one notation, objects and maps with sorted keys, null as null.
func canonical(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return new(big.Float).SetFloat64(x).Text('g', -1)
	case json.Number:
		f, _, err := big.ParseFloat(string(x), 10, 256, big.ToNearestEven)
		if err != nil {
			return string(x)
		}
		return f.Text('g', -1)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = canonical(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			parts = append(parts, strconv.Quote(k)+":"+canonical(x[k]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case tftypes.Value:
		return canonical(tfJSON(x))
	default:
		return fmt.Sprintf("%#v", v)
	}
}

// tfJSON is v as the CLI's JSON output has it.
func tfJSON(v tftypes.Value) any {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	switch ty := v.Type(); {
	case ty.Is(tftypes.String):
		var s string
		_ = v.As(&s)
		return s
	case ty.Is(tftypes.Number):
		var n big.Float
		_ = v.As(&n)
		return json.Number(n.Text('g', -1))
	case ty.Is(tftypes.Bool):
		var b bool
		_ = v.As(&b)
		return b
	case ty.Is(tftypes.List{}), ty.Is(tftypes.Set{}), ty.Is(tftypes.Tuple{}):
		var items []tftypes.Value
		_ = v.As(&items)
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = tfJSON(it)
		}
		return out
	default:
		var m map[string]tftypes.Value
		_ = v.As(&m)
		out := map[string]any{}
		for k, e := range m {
			out[k] = tfJSON(e)
		}
		return out
	}
}

// sameAsListed compares the attributes of a plan's after values or a state's values with
// the list result's: every attribute the list gave (not null), except those in skip and
// those the plan leaves unknown (the names in unknownOK, which must be unknown); it names
// every attribute that differs. What the list leaves null the configuration leaves null
// too, so the resource's defaults apply there.
func sameAsListed(values, unknown map[string]any, listedValues map[string]tftypes.Value, unknownOK []string, skip ...string) error {
	var diffs []string
	for _, k := range sortedKeys(listedValues) {
		if slices.Contains(skip, k) || listedValues[k].IsNull() {
			continue
		}
		isUnknown, _ := unknown[k].(bool)
		switch {
		case isUnknown != slices.Contains(unknownOK, k):
			diffs = append(diffs, fmt.Sprintf("%s unknown: %v", k, isUnknown))
		case isUnknown:
		case canonical(values[k]) != canonical(listedValues[k]):
			diffs = append(diffs, fmt.Sprintf("%s = %s, listed %s", k, canonical(values[k]), canonical(listedValues[k])))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("not what the list gave: %s", strings.Join(diffs, "; "))
	}
	return nil
}

// plannedAsListed: the planned values of addr are the list result's (skip aside; the
// computed attributes in unknown are unknown until the apply).
type plannedAsListed struct {
	addr    string
	listed  map[string]tftypes.Value
	skip    []string
	unknown []string
}

func (c plannedAsListed) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != c.addr {
			continue
		}
		after, _ := rc.Change.After.(map[string]any)
		unknown, _ := rc.Change.AfterUnknown.(map[string]any)
		resp.Error = sameAsListed(after, unknown, c.listed, c.unknown, c.skip...)
		return
	}
	resp.Error = fmt.Errorf("%s is not in the plan", c.addr)
}

// stateAsListed: the state of addr holds the list result's values (skip aside).
type stateAsListed struct {
	addr   string
	listed map[string]tftypes.Value
	skip   []string
}

func (c stateAsListed) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State != nil && req.State.Values != nil && req.State.Values.RootModule != nil {
		for _, r := range req.State.Values.RootModule.Resources {
			if r.Address == c.addr {
				resp.Error = sameAsListed(r.AttributeValues, nil, c.listed, nil, c.skip...)
				return
			}
		}
	}
	resp.Error = fmt.Errorf("%s is not in the state", c.addr)
}

// importedOnly: addr's planned change is an in-place update from a prior state whose
// non-null top-level attributes are exactly attrs (what an import could record).
type importedOnly struct {
	addr  string
	attrs []string
}

func (c importedOnly) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != c.addr {
			continue
		}
		if !rc.Change.Actions.Update() {
			resp.Error = fmt.Errorf("%s: actions %v, want an in-place update", c.addr, rc.Change.Actions)
			return
		}
		before, _ := rc.Change.Before.(map[string]any)
		var set []string
		for _, k := range sortedKeys(before) {
			if before[k] != nil {
				set = append(set, k)
			}
		}
		if !slices.Equal(set, c.attrs) {
			resp.Error = fmt.Errorf("%s: the state before the update holds %v, want only %v", c.addr, set, c.attrs)
		}
		return
	}
	resp.Error = fmt.Errorf("%s is not in the plan", c.addr)
}
