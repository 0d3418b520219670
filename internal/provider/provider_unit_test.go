package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
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
