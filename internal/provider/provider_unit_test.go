package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// The provider's and every resource's schema must be valid: the framework reports
// problems (bad defaults, validators on the wrong type) through GetProviderSchema.
func TestProviderSchema_Valid(t *testing.T) {
	server, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("%s: %s: %s", d.Severity, d.Summary, d.Detail)
	}
	if _, ok := resp.ResourceSchemas["clusterkit_cluster_integration"]; !ok {
		t.Fatalf("clusterkit_cluster_integration missing; resources: %v", keys(resp.ResourceSchemas))
	}
	for name, s := range resp.ResourceSchemas {
		for _, a := range s.Block.Attributes {
			if strings.TrimSpace(a.Description) == "" {
				t.Errorf("%s.%s has no description (descriptions become the docs)", name, a.Name)
			}
		}
	}
	for _, a := range resp.Provider.Block.Attributes {
		if strings.TrimSpace(a.Description) == "" {
			t.Errorf("provider attribute %s has no description", a.Name)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRestrictedNamespaceName(t *testing.T) {
	ok := []string{"team-a", "a", "x1", strings.Repeat("a", 63)}
	for _, s := range ok {
		if err := restrictedNamespaceName(s); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
	bad := map[string]string{
		"clusterkit-managed-apps": "reserved for clusterkit's managed apps",
		"kube-system":             "Kubernetes' own",
		"Team":                    "not a DNS-1123 label",
		"-a":                      "not a DNS-1123 label",
		strings.Repeat("a", 64):   "at most 63 characters",
		"a_b":                     "not a DNS-1123 label",
	}
	for s, want := range bad {
		err := restrictedNamespaceName(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want error containing %q", s, err, want)
		}
	}
}

func TestLabelMapErrors(t *testing.T) {
	if err := labelMapErrors(map[string]string{"team": "a", "example.com/tier": "gold", "empty": ""}); err != nil {
		t.Fatalf("valid labels refused: %v", err)
	}
	cases := map[string]map[string]string{
		`label key "bad key"`:                          {"bad key": "x"},
		`has an invalid value "no spaces"`:             {"k": "no spaces"},
		`"app.kubernetes.io/managed-by" is set by clu`: {"app.kubernetes.io/managed-by": "me"},
	}
	for want, labels := range cases {
		err := labelMapErrors(labels)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: got %v, want %q", labels, err, want)
		}
	}
}

// providerConfig is a provider configuration as Terraform sends it: attrs set, the rest
// null, and an endpoints block when endpoints is non-nil.
func providerConfig(t *testing.T, server tfprotov6.ProviderServer, attrs map[string]tftypes.Value, endpoints map[string]string) *tfprotov6.DynamicValue {
	t.Helper()
	resp, err := server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	typ, ok := resp.Provider.ValueType().(tftypes.Object)
	if !ok {
		t.Fatal("the provider schema is not an object")
	}
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		vals[name] = tftypes.NewValue(at, nil)
		if v, ok := attrs[name]; ok {
			vals[name] = v
		}
	}
	if endpoints != nil {
		et, ok := typ.AttributeTypes["endpoints"].(tftypes.Object)
		if !ok {
			t.Fatal("endpoints is not a block")
		}
		ev := map[string]tftypes.Value{}
		for name := range et.AttributeTypes {
			ev[name] = tftypes.NewValue(tftypes.String, nil)
			if s, ok := endpoints[name]; ok {
				ev[name] = tftypes.NewValue(tftypes.String, s)
			}
		}
		vals["endpoints"] = tftypes.NewValue(et, ev)
	}
	dv, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, vals))
	if err != nil {
		t.Fatal(err)
	}
	return &dv
}

func newTestServer(t *testing.T) tfprotov6.ProviderServer {
	t.Helper()
	server, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	return server
}

func diagStrings(diags []*tfprotov6.Diagnostic) []string {
	var out []string
	for _, d := range diags {
		out = append(out, d.Summary+" | "+d.Detail)
	}
	return out
}

// endpoints.* are validated at plan time: https, no local or metadata host, no
// credentials in the URL, unless allow_local_requests; one diagnostic per attribute that
// names it and what is allowed, and never repeats the URL.
func TestProviderEndpoints_ValidatedAtPlanTime(t *testing.T) {
	t.Setenv("CLUSTERKIT_ALLOW_LOCAL_REQUESTS", "")
	server := newTestServer(t)
	allow := map[string]tftypes.Value{"allow_local_requests": tftypes.NewValue(tftypes.Bool, true)}
	rule := " must be an https URL of the AWS service (such as https://sts.us-east-1.amazonaws.com); plain http and " +
		"hosts that are loopback, link-local (cloud metadata), private or otherwise local are allowed only with " +
		"allow_local_requests = true (or CLUSTERKIT_ALLOW_LOCAL_REQUESTS=true); this one was refused: "
	cases := []struct {
		name      string
		attrs     map[string]tftypes.Value
		endpoints map[string]string
		want      []string
	}{
		{"plain http", nil, map[string]string{"sts": "http://sts.example.com"},
			[]string{`Invalid endpoints.sts | endpoints.sts` + rule + `scheme must be "https" (plain "http" is only allowed with allow_local_requests = true).`}},
		{"metadata", nil, map[string]string{"cloudformation": "https://169.254.169.254/latest"},
			[]string{`Invalid endpoints.cloudformation | endpoints.cloudformation` + rule + `its host is a link-local (cloud metadata) address.`}},
		{"loopback name", nil, map[string]string{"eks": "https://localhost:4566"},
			[]string{`Invalid endpoints.eks | endpoints.eks` + rule + `its host is a loopback address.`}},
		{"credentials in the URL", allow, map[string]string{"eks": "https://admin:hunter2@eks.example.com"},
			[]string{`Invalid endpoints.eks | endpoints.eks` + rule + `it must not contain a user name or password; pass credentials in their own attributes.`}},
		{"AWS", nil, map[string]string{"sts": "https://sts.us-east-1.amazonaws.com", "cloudformation": "https://cloudformation.eu-west-1.amazonaws.com"}, nil},
		{"emulator with allow_local_requests", allow, map[string]string{"sts": "http://127.0.0.1:4566", "cloudformation": "http://127.0.0.1:4566", "eks": "http://127.0.0.1:4566"}, nil},
		{"allow_local_requests not known yet", map[string]tftypes.Value{"allow_local_requests": tftypes.NewValue(tftypes.Bool, tftypes.UnknownValue)},
			map[string]string{"sts": "http://127.0.0.1:4566"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := server.ValidateProviderConfig(context.Background(), &tfprotov6.ValidateProviderConfigRequest{Config: providerConfig(t, server, c.attrs, c.endpoints)})
			if err != nil {
				t.Fatal(err)
			}
			got := diagStrings(resp.Diagnostics)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, c.want)
			}
			if strings.Contains(strings.Join(got, ""), "hunter2") {
				t.Error("a diagnostic repeats the password in the URL")
			}
		})
	}

	t.Run("CLUSTERKIT_ALLOW_LOCAL_REQUESTS", func(t *testing.T) {
		t.Setenv("CLUSTERKIT_ALLOW_LOCAL_REQUESTS", "true")
		resp, err := server.ValidateProviderConfig(context.Background(), &tfprotov6.ValidateProviderConfigRequest{
			Config: providerConfig(t, server, nil, map[string]string{"sts": "http://127.0.0.1:4566"})})
		if err != nil || len(resp.Diagnostics) != 0 {
			t.Fatalf("err %v, diagnostics %q", err, diagStrings(resp.Diagnostics))
		}
	})
}

// The SDK's own endpoint variables follow the same rule, checked at Configure.
func TestProviderEndpoints_EnvironmentCheckedAtConfigure(t *testing.T) {
	t.Setenv("CLUSTERKIT_ALLOW_LOCAL_REQUESTS", "")
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://169.254.169.254")
	server := newTestServer(t)
	resp, err := server.ConfigureProvider(context.Background(), &tfprotov6.ConfigureProviderRequest{Config: providerConfig(t, server, nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Invalid AWS_ENDPOINT_URL_CLOUDFORMATION | The environment variable AWS_ENDPOINT_URL_CLOUDFORMATION must be an https URL " +
		"of the AWS service (such as https://sts.us-east-1.amazonaws.com); plain http and hosts that are loopback, link-local " +
		"(cloud metadata), private or otherwise local are allowed only with allow_local_requests = true (or " +
		`CLUSTERKIT_ALLOW_LOCAL_REQUESTS=true); its value was refused: scheme must be "https" (plain "http" is only allowed with allow_local_requests = true).`}
	if got := diagStrings(resp.Diagnostics); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n got %q\nwant %q", got, want)
	}

	server = newTestServer(t)
	resp, err = server.ConfigureProvider(context.Background(), &tfprotov6.ConfigureProviderRequest{
		Config: providerConfig(t, server, map[string]tftypes.Value{"allow_local_requests": tftypes.NewValue(tftypes.Bool, true)}, nil)})
	if err != nil || len(resp.Diagnostics) != 0 {
		t.Fatalf("with allow_local_requests: err %v, diagnostics %q", err, diagStrings(resp.Diagnostics))
	}
}
