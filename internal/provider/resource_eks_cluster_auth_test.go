package provider

import (
	"maps"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

// authentication_mode through the protocol server: a new cluster's default, the prior
// mode kept, the one-way steps EKS allows (others refused at plan time, on the attribute),
// and the warnings.
func TestEKSClusterAuthenticationMode_Plan(t *testing.T) {
	const (
		errorSev   = tfprotov6.DiagnosticSeverityError
		warningSev = tfprotov6.DiagnosticSeverityWarning
	)
	unknown := tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
	mode := func(m string) map[string]tftypes.Value {
		return map[string]tftypes.Value{"authentication_mode": str(m)}
	}
	existing := func(m string) map[string]tftypes.Value { return eksCompleteCluster(mode(m)) }
	for _, tc := range []struct {
		name          string
		config, prior map[string]tftypes.Value
		planned       tftypes.Value
		severity      tfprotov6.DiagnosticSeverity // 0: no diagnostic
		summary       string
		detail        string
	}{
		{name: "new cluster: API", planned: str("API")},
		{name: "new cluster, API_AND_CONFIG_MAP", config: mode("API_AND_CONFIG_MAP"), planned: str("API_AND_CONFIG_MAP")},
		{name: "new cluster, CONFIG_MAP warns", config: mode("CONFIG_MAP"), planned: str("CONFIG_MAP"), severity: warningSev, summary: "A new cluster in CONFIG_MAP mode",
			detail: "authentication_mode = \"CONFIG_MAP\" maps IAM roles through kube-system/aws-auth only, which EKS is moving away from: every role other than the provisioning role needs an aws-auth entry, and the cluster can later move to API_AND_CONFIG_MAP and API but never back. " +
				"Use API (the default) unless something that must stay on aws-auth needs this cluster."},
		{name: "spelling", config: mode("api"), severity: errorSev, summary: "Invalid Attribute Value Match",
			detail: `Attribute authentication_mode value must be one of: ["CONFIG_MAP" "API_AND_CONFIG_MAP" "API"], got: "api"`},
		// Unset on an existing cluster: its mode stays (no default forces API on it).
		{name: "existing cluster keeps its mode", prior: existing("API_AND_CONFIG_MAP"), planned: str("API_AND_CONFIG_MAP")},
		{name: "existing CONFIG_MAP cluster keeps its mode", prior: existing("CONFIG_MAP"), planned: str("CONFIG_MAP")},
		{name: "a state without the attribute (imported) reads it", prior: eksCompleteCluster(nil), planned: unknown},
		{name: "CONFIG_MAP -> API_AND_CONFIG_MAP in place", config: mode("API_AND_CONFIG_MAP"), prior: existing("CONFIG_MAP"), planned: str("API_AND_CONFIG_MAP")},
		{name: "API_AND_CONFIG_MAP -> API in place, warned", config: mode("API"), prior: existing("API_AND_CONFIG_MAP"), planned: str("API"),
			severity: warningSev, summary: "kube-system/aws-auth will no longer be read",
			detail: "Moving from API_AND_CONFIG_MAP to API makes EKS ignore kube-system/aws-auth: every IAM role or user mapped there (other than the nodes and the provisioning role, which have access entries) loses access unless it gets an access entry first. EKS cannot move the cluster back."},
		{name: "CONFIG_MAP -> API skips a step", config: mode("API"), prior: existing("CONFIG_MAP"), severity: errorSev, summary: "Change the authentication mode one step at a time",
			detail: "EKS changes the authentication mode one step at a time: from CONFIG_MAP go to API_AND_CONFIG_MAP first, apply, then to API."},
		{name: "API -> API_AND_CONFIG_MAP goes back", config: mode("API_AND_CONFIG_MAP"), prior: existing("API"), severity: errorSev, summary: "Authentication mode cannot go back",
			detail: "EKS cannot change the authentication mode back from API to API_AND_CONFIG_MAP: the change is one-way (CONFIG_MAP, then API_AND_CONFIG_MAP, then API); replace the cluster to go back."},
		{name: "API -> CONFIG_MAP goes back", config: mode("CONFIG_MAP"), prior: existing("API"), severity: errorSev, summary: "Authentication mode cannot go back",
			detail: "EKS cannot change the authentication mode back from API to CONFIG_MAP: the change is one-way (CONFIG_MAP, then API_AND_CONFIG_MAP, then API); replace the cluster to go back."},
		{name: "user template without the parameter decides", config: map[string]tftypes.Value{"template_body": str(userTemplateWithoutNewParams())}, planned: unknown},
		{name: "user template without the parameter, mode set", config: map[string]tftypes.Value{"template_body": str(userTemplateWithoutNewParams()), "authentication_mode": str("API")},
			severity: errorSev, summary: "template_body lacks a parameter",
			detail: "template_body declares no AuthenticationMode parameter, so authentication_mode cannot take effect: declare it in the template (as the embedded template does), or leave authentication_mode unset (the template decides, and the attribute reports what EKS says)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planAccessChange(t, tc.config, tc.prior)
			var errs int
			for _, d := range p.diags {
				if d.Severity == errorSev {
					errs++
				}
			}
			if tc.severity == 0 && len(p.diags) != 0 || tc.severity != 0 && len(p.diags) != 1 {
				for _, d := range p.diags {
					t.Logf("%v %s: %s", d.Severity, d.Summary, d.Detail)
				}
				t.Fatalf("%d diagnostics", len(p.diags))
			}
			if tc.severity != 0 {
				d := p.diags[0]
				if d.Severity != tc.severity || d.Summary != tc.summary || d.Detail != tc.detail || d.Attribute == nil || d.Attribute.String() != eksAttrPath("authentication_mode") {
					t.Errorf("got %v on %v\n%s: %s\nwant %v\n%s: %s", d.Severity, d.Attribute, d.Summary, d.Detail, tc.severity, tc.summary, tc.detail)
				}
			}
			if errs == 0 && !p.planned["authentication_mode"].Equal(tc.planned) {
				t.Errorf("planned authentication_mode %v, want %v", p.planned["authentication_mode"], tc.planned)
			}
			if len(p.replace) != 0 {
				t.Errorf("RequiresReplace %q", p.replace)
			}
		})
	}
}

// The template parameters a plan sends: a new cluster gets the provisioning role as its
// admin entry (none in CONFIG_MAP), an existing stack keeps the admin role it has.
func TestEKSClusterAuthentication_StackParameters(t *testing.T) {
	const role = "arn:aws:iam::222222222222:role/clusterkit-provisioner"
	m := eksClusterModel{ProvisionRoleARN: types.StringValue(role), KubernetesVersion: types.StringValue("1.35")}
	params := func(mode string, prior map[string]string) map[string]string {
		m.AuthenticationMode = types.StringValue(mode)
		if mode == "" {
			m.AuthenticationMode = types.StringNull()
		}
		return m.authentication(prior).Parameters()
	}
	for name, tc := range map[string]struct {
		got, want map[string]string
	}{
		"new, API":                    {params("API", nil), map[string]string{"AuthenticationMode": "API", "ClusterAdminRoleArn": role}},
		"new, unset":                  {params("", nil), map[string]string{"AuthenticationMode": "API", "ClusterAdminRoleArn": role}},
		"new, CONFIG_MAP":             {params("CONFIG_MAP", nil), map[string]string{"AuthenticationMode": "CONFIG_MAP", "ClusterAdminRoleArn": ""}},
		"older stack to API":          {params("API", map[string]string{"ClusterName": "x"}), map[string]string{"AuthenticationMode": "API", "ClusterAdminRoleArn": ""}},
		"older stack, unset (import)": {params("", map[string]string{"ClusterName": "x"}), map[string]string{"AuthenticationMode": "API_AND_CONFIG_MAP", "ClusterAdminRoleArn": ""}},
		"CONFIG_MAP stack moving on": {params("API_AND_CONFIG_MAP", map[string]string{"AuthenticationMode": "CONFIG_MAP", "ClusterAdminRoleArn": ""}),
			map[string]string{"AuthenticationMode": "API_AND_CONFIG_MAP", "ClusterAdminRoleArn": ""}},
	} {
		if !maps.Equal(tc.got, tc.want) {
			t.Errorf("%s: %v, want %v", name, tc.got, tc.want)
		}
	}
	var c eksClusterModel
	c.fromCluster(&cloud.Cluster{AuthenticationMode: cloud.AuthModeAPIAndConfigMap})
	if c.AuthenticationMode.ValueString() != "API_AND_CONFIG_MAP" {
		t.Errorf("from the cluster: %v", c.AuthenticationMode)
	}
}
