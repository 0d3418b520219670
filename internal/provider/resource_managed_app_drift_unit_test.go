package provider

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

func TestDriftWarnings(t *testing.T) {
	var many []string
	for i := range 12 {
		many = append(many, fmt.Sprintf(`"Service web/s%d"`, i))
	}
	for _, tc := range []struct {
		name, raw string
		want      []string
	}{
		{"nothing recorded", ``, nil},
		{"nothing drifted", `{}`, nil},
		{"unreadable", `{"missing":`, nil},
		{"a revision made outside", `{"revision":3,"applied":2}`, []string{"Release changed outside Terraform | helm's release web/app is at revision 3, " +
			"but this provider's last install or upgrade left revision 2: someone ran helm on it since (an upgrade with other values or chart, or a rollback). " +
			"The apply upgrades it back to this configuration."}},
		{"objects deleted", `{"missing":["Deployment web/app-demo","ClusterRole app-reader"]}`, []string{"Objects of the chart are missing | helm's release web/app is deployed, " +
			"but 2 of the objects its chart made no longer exist (deleted outside Terraform): Deployment web/app-demo, ClusterRole app-reader. " +
			"The apply runs helm upgrade, which makes them again."}},
		{"many deleted", `{"missing":[` + strings.Join(many, ",") + `]}`, []string{"Objects of the chart are missing | helm's release web/app is deployed, " +
			"but 12 of the objects its chart made no longer exist (deleted outside Terraform): Service web/s0, Service web/s1, Service web/s2, " +
			"Service web/s3, Service web/s4, Service web/s5, Service web/s6, Service web/s7, Service web/s8, Service web/s9 and 2 more. " +
			"The apply runs helm upgrade, which makes them again."}},
	} {
		var diags diag.Diagnostics
		got := driftWarnings([]byte(tc.raw), "web/app", &diags)
		var texts []string
		for _, d := range diags {
			texts = append(texts, d.Summary()+" | "+d.Detail())
		}
		if got != (len(tc.want) > 0) || !slices.Equal(texts, tc.want) {
			t.Errorf("%s: planned %v, warnings %q\nwant %q", tc.name, got, texts, tc.want)
		}
	}
}
