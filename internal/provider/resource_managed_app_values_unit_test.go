package provider

import (
	"context"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// values as one document or a list of them, through the provider's protocol server as
// Terraform sends them, and the state of schema version 0 upgraded.

func tuple(items ...tftypes.Value) tftypes.Value {
	var types []tftypes.Type
	for _, v := range items {
		types = append(types, v.Type())
	}
	return tftypes.NewValue(tftypes.Tuple{ElementTypes: types}, items)
}

func managedAppSchema(t *testing.T) (tfprotov6.ProviderServer, *tfprotov6.Schema) {
	t.Helper()
	srv := newTestServer(t)
	schemas, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || len(schemas.Diagnostics) > 0 {
		t.Fatalf("schema: %v %v", err, schemas.Diagnostics)
	}
	return srv, schemas.ResourceSchemas["clusterkit_managed_app"]
}

// validateManagedApp validates a managed app of the catalog with attrs set.
func validateManagedApp(t *testing.T, attrs map[string]tftypes.Value) []*tfprotov6.Diagnostic {
	t.Helper()
	srv, s := managedAppSchema(t)
	all := map[string]tftypes.Value{"app": str("cert-manager"), "name": str("web")}
	for k, v := range attrs {
		all[k] = v
	}
	resp, err := srv.ValidateResourceConfig(context.Background(), &tfprotov6.ValidateResourceConfigRequest{
		TypeName: "clusterkit_managed_app", Config: sweepConfig(t, s, all),
		ClientCapabilities: &tfprotov6.ValidateResourceConfigClientCapabilities{WriteOnlyAttributesAllowed: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []*tfprotov6.Diagnostic
	for _, d := range resp.Diagnostics {
		// cluster_connection is required and left null here: not the case's business.
		if d.Attribute != nil && len(d.Attribute.Steps()) > 0 && d.Attribute.Steps()[0] == tftypes.AttributeName("cluster_connection") {
			continue
		}
		out = append(out, d)
	}
	return out
}

func TestManagedAppValues_ValidatedPerDocument(t *testing.T) {
	for name, tc := range map[string]struct {
		values     tftypes.Value
		wantPath   string // "" for no diagnostic
		wantDetail string
		secret     string
	}{
		"one string":            {values: str("replicaCount: 2\n")},
		"a list of two":         {values: tuple(str("a: 1\n"), str("b: {c: 2}\n"))},
		"a typed list":          {values: strList("a: 1\n", "a: 2\n")},
		"null element left out": {values: tuple(tftypes.NewValue(tftypes.String, nil), str("a: 1\n"))},
		"empty list":            {values: tuple()},
		"bad string":            {values: str("a: [1"), wantPath: "values", wantDetail: "values must be a YAML mapping of chart values (as in a values.yaml file): not valid YAML"},
		"second document a list": {values: tuple(str("a: 1\n"), str("- hunter2-listed\n")), wantPath: "values[1]",
			wantDetail: "values[1] must be a YAML mapping of chart values (as in a values.yaml file): a list, not a mapping of chart values.", secret: "hunter2-listed"},
		"second document broken": {values: tuple(str("a: 1\n"), str("password: s3cr3t-pw: [\n")), wantPath: "values[1]",
			wantDetail: "values[1] must be a YAML mapping of chart values (as in a values.yaml file): not valid YAML (", secret: "s3cr3t-pw"},
		"element not a string": {values: tuple(str("a: 1\n"), tftypes.NewValue(tftypes.Number, big.NewFloat(3))), wantPath: "values[1]",
			wantDetail: `values[1] must be a YAML string (e.g. yamlencode({...}) or file("values.yaml")).`},
		"a map": {values: tftypes.NewValue(tftypes.Object{AttributeTypes: map[string]tftypes.Type{"a": tftypes.String}}, map[string]tftypes.Value{"a": str("b")}),
			wantPath: "values", wantDetail: `values must be a YAML string (e.g. yamlencode({...}) or file("values.yaml")) or a list of them.`},
		"a set": {values: tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, []tftypes.Value{str("a: 1\n")}), wantPath: "values",
			wantDetail: "values a set has no order, and the order of values documents matters: use a list."},
	} {
		t.Run(name, func(t *testing.T) {
			diags := validateManagedApp(t, map[string]tftypes.Value{"values": tc.values})
			if tc.wantPath == "" {
				if len(diags) != 0 {
					t.Fatalf("diagnostics %v", diagStrings(diags))
				}
				return
			}
			if len(diags) != 1 {
				t.Fatalf("%d diagnostics, want 1: %v", len(diags), diagStrings(diags))
			}
			d := diags[0]
			if d.Summary != "Invalid "+tc.wantPath || !strings.HasPrefix(d.Detail, tc.wantDetail) {
				t.Errorf("diagnostic %q | %q, want %q | %q...", d.Summary, d.Detail, "Invalid "+tc.wantPath, tc.wantDetail)
			}
			if got := attributePath(d.Attribute); got != tc.wantPath {
				t.Errorf("diagnostic on %q, want %q", got, tc.wantPath)
			}
			if tc.secret != "" && strings.Contains(d.Summary+d.Detail, tc.secret) {
				t.Errorf("the diagnostic repeats the document: %q", d.Detail)
			}
		})
	}
}

// unitManagedApp is a custom chart's model with every collection attribute null, as a
// plan of a configuration that sets none of them.
func unitManagedApp(t *testing.T) managedAppModel {
	t.Helper()
	var resp resource.SchemaResponse
	newManagedAppResource().Schema(context.Background(), resource.SchemaRequest{}, &resp)
	typ := func(name string) attr.Type { return resp.Schema.Attributes[name].GetType() }
	return managedAppModel{
		Name: types.StringValue("web"), Namespace: types.StringValue("web"), InstallerImage: types.StringValue(kube.DefaultInstallerImage),
		Chart:                types.ObjectNull(typ("chart").(types.ObjectType).AttrTypes),
		ClusterIssuer:        types.ObjectNull(typ("cluster_issuer").(types.ObjectType).AttrTypes),
		InstallerTolerations: types.ListNull(typ("installer_tolerations").(types.ListType).ElemType),
		InstallerResources:   types.ObjectNull(typ("installer_resources").(types.ObjectType).AttrTypes),
		InstallerPullSecrets: types.ListNull(types.StringType), InstallerNodeSelector: types.MapNull(types.StringType),
		InstallerPodLabels: types.MapNull(types.StringType), InstallerPodAnnotations: types.MapNull(types.StringType),
		Values: types.DynamicNull(),
		Wait:   types.BoolValue(true), WaitForJobs: types.BoolValue(false), Atomic: types.BoolValue(true), CleanupOnFail: types.BoolValue(true),
		SkipCRDs: types.BoolValue(false), MaxHistory: types.Int64Value(10), TakeOwnership: types.BoolValue(false), DependencyUpdate: types.BoolValue(false),
	}
}

// attributePath writes a diagnostic's attribute path as Terraform shows it: values[1].
func attributePath(p *tftypes.AttributePath) string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	for _, s := range p.Steps() {
		switch s := s.(type) {
		case tftypes.AttributeName:
			if b.Len() > 0 {
				b.WriteString(".")
			}
			b.WriteString(string(s))
		case tftypes.ElementKeyInt:
			b.WriteString("[" + big.NewInt(int64(s)).String() + "]")
		}
	}
	return b.String()
}

func TestManagedAppValues_SpecKeepsDocumentsApart(t *testing.T) {
	ctx := context.Background()
	list := types.DynamicValue(types.TupleValueMust([]attr.Type{types.StringType, types.StringType, types.StringType},
		[]attr.Value{types.StringValue("message: first\nservice: {type: NodePort}\n"), types.StringNull(), types.StringValue("message: second\n")}))
	m := unitManagedApp(t)
	m.Values = list
	spec, err := m.spec(ctx, writeOnly{}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// A custom chart: each document goes to helm as it was written, helm merges them.
	if spec.Values != "message: first\nservice: {type: NodePort}\n" || len(spec.MoreValues) != 1 || spec.MoreValues[0] != "message: second\n" {
		t.Errorf("values %q, more %q", spec.Values, spec.MoreValues)
	}
	if err := spec.Validate(); err != nil {
		t.Errorf("spec: %v", err)
	}
	// A catalog app: its defaults are merged under the first document, as with one string.
	m.App = types.StringValue("ingress-nginx")
	spec, err = m.spec(ctx, writeOnly{}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(spec.Values, "ingressClassResource:") || !strings.Contains(spec.Values, "message: first") ||
		len(spec.MoreValues) != 1 || spec.MoreValues[0] != "message: second\n" {
		t.Errorf("catalog values %q, more %q", spec.Values, spec.MoreValues)
	}
	// The outputs read every document merged: the last fullnameOverride wins.
	m.Values = types.DynamicValue(types.ListValueMust(types.StringType, []attr.Value{
		types.StringValue("fullnameOverride: one\n"), types.StringValue("fullnameOverride: edge\n")}))
	if out, ok := m.catalogOutputs(); !ok || out["service"] != "edge-controller" {
		t.Errorf("outputs %v %v", out, ok)
	}
}

func TestManagedAppValues_StringAndOneElementListAreTheSameDocuments(t *testing.T) {
	s := types.DynamicValue(types.StringValue("a: 1\n"))
	one := types.DynamicValue(types.TupleValueMust([]attr.Type{types.StringType}, []attr.Value{types.StringValue("a: 1\n")}))
	withNull := types.DynamicValue(types.ListValueMust(types.StringType, []attr.Value{types.StringNull(), types.StringValue("a: 1\n")}))
	other := types.DynamicValue(types.TupleValueMust([]attr.Type{types.StringType, types.StringType}, []attr.Value{types.StringValue("a: 1\n"), types.StringValue("b: 2\n")}))
	if valuesChanged(s, one) || valuesChanged(one, withNull) || valuesChanged(types.DynamicNull(), types.DynamicValue(types.TupleValueMust(nil, nil))) {
		t.Error("the same documents must not run an upgrade")
	}
	if !valuesChanged(one, other) || !valuesChanged(s, types.DynamicValue(types.StringValue("a: 2\n"))) || !valuesChanged(types.DynamicUnknown(), s) {
		t.Error("other (or unknown) documents are a change")
	}
}

// A state written before values could be a list (schema version 0, values a string) is
// upgraded: the string stays a string, and the helm switches get the defaults those
// releases were installed with, so a provider upgrade plans nothing.
func TestManagedAppValues_StateUpgradeFromVersion0(t *testing.T) {
	srv, s := managedAppSchema(t)
	if s.Version != 1 {
		t.Fatalf("schema version %d, want 1", s.Version)
	}
	v0 := map[string]any{
		"id": "web/web", "name": "web", "namespace": "web", "values": "replicaCount: 2\n", "installer_image": kube.DefaultInstallerImage,
		"keep_failed_pod": true, "status": "deployed", "revision": 3, "chart_version": "0.1.0", "installed_at": "2026-12-01T10:00:00Z",
		"chart": map[string]any{"repository": "https://charts.example.com", "name": "demo", "version": "0.1.0"},
	}
	raw, err := json.Marshal(v0)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.UpgradeResourceState(context.Background(), &tfprotov6.UpgradeResourceStateRequest{
		TypeName: "clusterkit_managed_app", Version: 0, RawState: &tfprotov6.RawState{JSON: raw},
	})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("upgrade: %v %v", err, diagStrings(resp.Diagnostics))
	}
	v, err := resp.UpgradedState.Unmarshal(s.ValueType())
	if err != nil {
		t.Fatal(err)
	}
	var attrs map[string]tftypes.Value
	if err := v.As(&attrs); err != nil {
		t.Fatal(err)
	}
	var values string
	if err := attrs["values"].As(&values); err != nil || !attrs["values"].Type().Is(tftypes.String) || values != "replicaCount: 2\n" {
		t.Errorf("values %v (%v)", attrs["values"], err)
	}
	for name, want := range map[string]bool{"wait": true, "atomic": true, "cleanup_on_fail": true, "wait_for_jobs": false, "skip_crds": false,
		"take_ownership": false, "dependency_update": false} {
		var got bool
		if err := attrs[name].As(&got); err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", name, attrs[name], err, want)
		}
	}
	var history big.Float
	if err := attrs["max_history"].As(&history); err != nil || history.String() != "10" {
		t.Errorf("max_history = %v (%v)", attrs["max_history"], err)
	}
	var status string
	if err := attrs["status"].As(&status); err != nil || status != "deployed" {
		t.Errorf("status %v", attrs["status"])
	}
	// A version 0 state without values gets a null.
	delete(v0, "values")
	raw, _ = json.Marshal(v0)
	resp, err = srv.UpgradeResourceState(context.Background(), &tfprotov6.UpgradeResourceStateRequest{
		TypeName: "clusterkit_managed_app", Version: 0, RawState: &tfprotov6.RawState{JSON: raw},
	})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("upgrade without values: %v %v", err, diagStrings(resp.Diagnostics))
	}
	v, _ = resp.UpgradedState.Unmarshal(s.ValueType())
	_ = v.As(&attrs)
	if !attrs["values"].IsNull() {
		t.Errorf("values %v, want null", attrs["values"])
	}
}
