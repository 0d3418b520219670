package provider

import (
	"context"
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
	for _, tc := range []struct {
		name, raw string
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
		// A release whose upgrade and rollback failed, checked with its deployed revision.
		{name: "failed release", raw: `{"changed":[` + changed + `],"missing":["Service web/app-demo"],"failed":3,"deployed":1}`, planned: true, want: []string{
			"Objects of the chart are missing | helm's release web/app failed at revision 3 (its last deployed revision is 1), but 1 of the objects " +
				"its chart made no longer exist (deleted outside Terraform): Service web/app-demo. The apply runs helm upgrade, which makes them again.",
			"Fields of the chart's objects changed outside Terraform | helm's release web/app failed at revision 3 (its last deployed revision is 1), " +
				"but fields its chart sets differ on 1 of its objects (changed outside Terraform, e.g. with kubectl edit, scale or set image): " +
				"Deployment web/app-demo: image of container demo is busybox:2 (chart: busybox:1); replicas 5 (chart: 2). The apply runs helm upgrade, which sets them back."}},
		{name: "failed release without drift", raw: `{"failed":3,"deployed":1}`},
		// Recorded by a refresh of an earlier build, which kept objects applied
		// server-side apart: no longer read (every changed field is planned back).
		{name: "an unknown key", raw: `{"server_side":[` + changed + `]}`},
		{name: "fields and a deleted object", raw: `{"changed":[` + cm + `],"missing":["Service web/app-demo"]}`, planned: true, want: []string{
			"Objects of the chart are missing | helm's release web/app is deployed, but 1 of the objects its chart made no longer exist (deleted outside Terraform): " +
				"Service web/app-demo. The apply runs helm upgrade, which makes them again.",
			"Fields of the chart's objects changed outside Terraform | helm's release web/app is deployed, but fields its chart sets differ on 1 of its objects " +
				"(changed outside Terraform, e.g. with kubectl edit, scale or set image): ConfigMap web/app-demo: data key message differs from the chart. " +
				"The apply runs helm upgrade, which sets them back."}},
	} {
		var diags diag.Diagnostics
		got := driftWarnings(recordedDrift(context.Background(), rawPrivate(tc.raw), &diags), "web/app", &diags)
		var texts []string
		for _, d := range diags {
			texts = append(texts, d.Summary()+" | "+d.Detail())
		}
		if got != tc.planned || !slices.Equal(texts, tc.want) {
			t.Errorf("%s: planned %v, warnings %q\nwant %q", tc.name, got, texts, tc.want)
		}
		// The upgrade forces conflicts exactly when fields changed.
		if force := driftSetsBackFields(context.Background(), rawPrivate(tc.raw), &diags); force != strings.Contains(tc.raw, `"changed"`) {
			t.Errorf("%s: the upgrade forces conflicts: %v", tc.name, force)
		}
	}
}

// rawPrivate is private state holding raw under the drift key.
type rawPrivate string

func (p rawPrivate) GetKey(_ context.Context, key string) ([]byte, diag.Diagnostics) {
	if key != privateDriftKey || p == "" {
		return nil, nil
	}
	return []byte(p), nil
}
