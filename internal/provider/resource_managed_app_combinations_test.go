package provider

import (
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestValidateCombinations(t *testing.T) {
	chart := types.ObjectValueMust(map[string]attr.Type{"name": types.StringType}, map[string]attr.Value{"name": types.StringValue("demo")})
	s, unknown := types.StringValue, types.StringUnknown()
	for _, tc := range []struct {
		name string
		edit func(*managedAppModel)
		want []string // "attribute: detail"
	}{
		{"a catalog app", func(m *managedAppModel) { m.App = s("cert-manager") }, nil},
		{"a chart", func(m *managedAppModel) { m.Chart = chart }, nil},
		{"neither", func(*managedAppModel) {}, []string{"app: Set exactly one of app (an app of the catalog) or chart (any chart by repository, name and version): neither is set."}},
		{"both", func(m *managedAppModel) { m.App, m.Chart = s("cert-manager"), chart },
			[]string{"chart: Set exactly one of app (an app of the catalog) or chart (any chart by repository, name and version): both are set."}},
		{"app unknown", func(m *managedAppModel) { m.App, m.Chart = unknown, chart }, nil},
		{"version with chart", func(m *managedAppModel) { m.Chart, m.Version = chart, s("1.2.3") },
			[]string{"version: version overrides a catalog app's pinned chart version; with chart, give the version as chart.version."}},
		{"version with app", func(m *managedAppModel) { m.App, m.Version = s("cert-manager"), s("1.2.3") }, nil},
		{"own installer and cluster admin", func(m *managedAppModel) {
			m.Chart, m.InstallerServiceAccount, m.InstallerClusterAdmin = chart, s("team"), types.BoolValue(false)
		}, []string{"installer_cluster_admin: installer_cluster_admin sets the rights of the provider's own installer; with installer_service_account, " +
			"the install pods run as your service account with the rights you gave it: remove one of the two."}},
		{"username alone", func(m *managedAppModel) { m.Chart, m.RepositoryUsername = chart, s("robot") },
			[]string{"repository_password: repository_password must be set together with repository_username."}},
		{"password alone", func(m *managedAppModel) { m.Chart, m.RepositoryPassword = chart, s("pw") },
			[]string{"repository_username: repository_username must be set together with repository_password."}},
		{"password unknown", func(m *managedAppModel) {
			m.Chart, m.RepositoryUsername, m.RepositoryPassword = chart, s("robot"), unknown
		}, nil},
	} {
		m := managedAppModel{App: types.StringNull(), Chart: types.ObjectNull(chart.AttributeTypes(t.Context())), Version: types.StringNull(),
			InstallerServiceAccount: types.StringNull(), InstallerClusterAdmin: types.BoolNull(),
			RepositoryUsername: types.StringNull(), RepositoryPassword: types.StringNull()}
		tc.edit(&m)
		var diags diag.Diagnostics
		validateCombinations(m, &diags)
		var got []string
		for _, d := range diags {
			if d.Summary() != "Invalid Attribute Combination" {
				t.Errorf("%s: summary %q", tc.name, d.Summary())
			}
			p := ""
			if wp, ok := d.(diag.DiagnosticWithPath); ok {
				p = wp.Path().String()
			}
			got = append(got, p+": "+d.Detail())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got  %q\n want %q", tc.name, got, tc.want)
		}
	}
}
