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
	const changed = `"Deployment web/app-demo: image of container demo is busybox:2 (chart: busybox:1); replicas 5 (chart: 2)"`
	const cm = `"ConfigMap web/app-demo: data key message differs from the chart"`
	conflictNote := "Helm 4 applies these objects server-side, and the field manager that changed them (kubectl or another client) now owns those fields: " +
		"a helm upgrade that sets them back fails with a conflict unless it forces (helm's --force-conflicts). " +
		"So no upgrade is planned for them, and an upgrade planned for another reason fails on them the same way. " +
		"Set take_ownership = true to have the upgrade force them back to the chart's values, or set them back by hand."
	for _, tc := range []struct {
		name, raw string
		forced    bool
		want      []string
		planned   bool
	}{
		{name: "nothing recorded"},
		{name: "nothing drifted", raw: `{}`},
		{name: "unreadable", raw: `{"missing":`},
		{name: "a revision made outside", raw: `{"revision":3,"applied":2}`, planned: true, want: []string{"Release changed outside Terraform | helm's release web/app is at revision 3, " +
			"but this provider's last install or upgrade left revision 2: someone ran helm on it since (an upgrade with other values or chart, or a rollback). " +
			"The apply upgrades it back to this configuration."}},
		{name: "objects deleted", raw: `{"missing":["Deployment web/app-demo","ClusterRole app-reader"]}`, planned: true, want: []string{"Objects of the chart are missing | helm's release web/app is deployed, " +
			"but 2 of the objects its chart made no longer exist (deleted outside Terraform): Deployment web/app-demo, ClusterRole app-reader. " +
			"The apply runs helm upgrade, which makes them again."}},
		{name: "many deleted", raw: `{"missing":[` + strings.Join(many, ",") + `]}`, planned: true, want: []string{"Objects of the chart are missing | helm's release web/app is deployed, " +
			"but 12 of the objects its chart made no longer exist (deleted outside Terraform): Service web/s0, Service web/s1, Service web/s2, " +
			"Service web/s3, Service web/s4, Service web/s5, Service web/s6, Service web/s7, Service web/s8, Service web/s9 and 2 more. " +
			"The apply runs helm upgrade, which makes them again."}},
		{name: "fields changed", raw: `{"changed":[` + changed + `,` + cm + `]}`, planned: true, want: []string{
			"Fields of the chart's objects changed outside Terraform | helm's release web/app is deployed, but fields its chart sets differ on 2 of its objects " +
				"(changed outside Terraform, e.g. with kubectl edit, scale or set image): Deployment web/app-demo: image of container demo is busybox:2 (chart: busybox:1); " +
				"replicas 5 (chart: 2). ConfigMap web/app-demo: data key message differs from the chart. The apply runs helm upgrade, which sets them back."}},
		{name: "fields of server-side objects changed", raw: `{"server_side":[` + changed + `]}`, want: []string{
			"Fields changed outside Terraform are not planned back | helm's release web/app is deployed, but fields its chart sets differ on 1 of its objects " +
				"(changed outside Terraform): Deployment web/app-demo: image of container demo is busybox:2 (chart: busybox:1); replicas 5 (chart: 2). " + conflictNote}},
		{name: "fields of server-side objects changed, take_ownership", raw: `{"server_side":[` + changed + `],"changed":[` + cm + `]}`, forced: true, planned: true, want: []string{
			"Fields of the chart's objects changed outside Terraform | helm's release web/app is deployed, but fields its chart sets differ on 2 of its objects " +
				"(changed outside Terraform, e.g. with kubectl edit, scale or set image): ConfigMap web/app-demo: data key message differs from the chart. " +
				"Deployment web/app-demo: image of container demo is busybox:2 (chart: busybox:1); replicas 5 (chart: 2). The apply runs helm upgrade, which sets them back."}},
		{name: "server-side fields and a deleted object", raw: `{"server_side":[` + cm + `],"missing":["Service web/app-demo"]}`, planned: true, want: []string{
			"Fields changed outside Terraform are not planned back | helm's release web/app is deployed, but fields its chart sets differ on 1 of its objects " +
				"(changed outside Terraform): ConfigMap web/app-demo: data key message differs from the chart. " + conflictNote,
			"Objects of the chart are missing | helm's release web/app is deployed, but 1 of the objects its chart made no longer exist (deleted outside Terraform): " +
				"Service web/app-demo. The apply runs helm upgrade, which makes them again."}},
	} {
		var diags diag.Diagnostics
		got := driftWarnings([]byte(tc.raw), "web/app", tc.forced, &diags)
		var texts []string
		for _, d := range diags {
			texts = append(texts, d.Summary()+" | "+d.Detail())
		}
		if got != tc.planned || !slices.Equal(texts, tc.want) {
			t.Errorf("%s: planned %v, warnings %q\nwant %q", tc.name, got, texts, tc.want)
		}
	}
}
