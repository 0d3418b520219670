package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// kubernetes_qps and kubernetes_burst: optional (no client-side limit by default),
// checked at plan time.
func TestProviderKubernetesLimits_ValidatedAtPlanTime(t *testing.T) {
	server := newTestServer(t)
	n := func(v int64) tftypes.Value { return tftypes.NewValue(tftypes.Number, v) }
	for _, c := range []struct {
		name  string
		attrs map[string]tftypes.Value
		want  []string
	}{
		{"unset", nil, nil},
		{"qps and burst", map[string]tftypes.Value{"kubernetes_qps": n(5), "kubernetes_burst": n(10)}, nil},
		{"qps alone", map[string]tftypes.Value{"kubernetes_qps": n(20)}, nil},
		{"qps 0", map[string]tftypes.Value{"kubernetes_qps": n(0)}, []string{"Invalid Attribute Value | Attribute kubernetes_qps value must be between 1 and 100000, got: 0"}},
		{"burst without qps", map[string]tftypes.Value{"kubernetes_burst": n(10)}, []string{`Invalid Attribute Combination | Attribute "kubernetes_qps" must be specified when "kubernetes_burst" is specified`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := server.ValidateProviderConfig(context.Background(), &tfprotov6.ValidateProviderConfigRequest{Config: providerConfig(t, server, c.attrs, nil)})
			if err != nil {
				t.Fatal(err)
			}
			if got := diagStrings(resp.Diagnostics); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
