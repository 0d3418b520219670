package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

// The endpoint, logging, encryption and IP family attributes through the protocol server,
// as Terraform sends them: validation and plan diagnostics (exact texts, on the
// attribute), planned values, and which changes replace the cluster.

var accessDay = time.Date(2026, time.December, 1, 15, 0, 0, 0, time.UTC)

const testKeyARN = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func eksBool(b bool) tftypes.Value { return tftypes.NewValue(tftypes.Bool, b) }

func eksStrSet(items ...string) tftypes.Value {
	var vals []tftypes.Value
	for _, s := range items {
		vals = append(vals, str(s))
	}
	return tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, vals)
}

// completeCluster is the state of a created cluster on 1.35 with attrs.
func eksCompleteCluster(attrs map[string]tftypes.Value) map[string]tftypes.Value {
	m := eksConfigAttrs("1.35")
	for k, v := range map[string]tftypes.Value{
		"id": str("eu-west-1/ck-versions"), "session_name": str("clusterkit-ck-versions"), "status": str("CREATE_COMPLETE"),
		"stack_id": str("arn:aws:cloudformation:eu-west-1:222222222222:stack/ck-versions/1"), "service_ipv4_cidr": str(eksDefaultCIDR),
		"node_instance_type": str("t3.medium"), "node_count": tftypes.NewValue(tftypes.Number, 3), "node_volume_size": tftypes.NewValue(tftypes.Number, 20),
		"endpoint_public_access": eksBool(true), "endpoint_private_access": eksBool(false), "public_access_cidrs": strList("0.0.0.0/0"),
		"enabled_log_types": eksStrSet(), "ip_family": str("ipv4"),
	} {
		m[k] = v
	}
	for k, v := range attrs {
		m[k] = v
	}
	return m
}

type accessPlan struct {
	diags   []*tfprotov6.Diagnostic
	planned map[string]tftypes.Value
	replace []string
}

// planAccessChange validates config and plans it: a create when prior is nil, else an
// update of that state. The proposed new state is prior overlaid with config; a test
// that removes an optional value passes it as null.
func planAccessChange(t *testing.T, config, prior map[string]tftypes.Value) accessPlan {
	t.Helper()
	ctx := context.Background()
	srv, s := versionServer(t, accessDay)
	full := eksConfigAttrs("1.35")
	for k, v := range config {
		full[k] = v
	}
	cfg := sweepConfig(t, s, full)
	vr, err := srv.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: "clusterkit_eks_cluster", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	out := accessPlan{diags: vr.Diagnostics}
	for _, d := range vr.Diagnostics {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			return out
		}
	}
	priorV := tftypes.NewValue(s.ValueType(), nil)
	proposed := full
	if prior != nil {
		priorV = objectOf(t, s, prior)
		proposed = map[string]tftypes.Value{}
		for k, v := range prior {
			proposed[k] = v
		}
		for k, v := range full {
			proposed[k] = v
		}
	}
	priorDV, err := tfprotov6.NewDynamicValue(s.ValueType(), priorV)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := srv.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName: "clusterkit_eks_cluster", PriorState: &priorDV, ProposedNewState: sweepConfig(t, s, proposed), Config: cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	out.diags = append(out.diags, pr.Diagnostics...)
	if pr.PlannedState != nil {
		v, err := pr.PlannedState.Unmarshal(s.ValueType())
		if err != nil {
			t.Fatal(err)
		}
		if err := v.As(&out.planned); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pr.RequiresReplace {
		out.replace = append(out.replace, p.String())
	}
	return out
}

func eksAttrPath(name string) string {
	return tftypes.NewAttributePath().WithAttributeName(name).String()
}

func TestEKSClusterAccess_Diagnostics(t *testing.T) {
	const (
		errorSev   = tfprotov6.DiagnosticSeverityError
		warningSev = tfprotov6.DiagnosticSeverityWarning
	)
	privateWarning := "With endpoint_public_access = false the API server is reachable only from inside the VPC and networks connected to it. " +
		"The provider connects to it after the stack completes (the clusterkit service account, and aws-auth in CONFIG_MAP mode) and on every later update, " +
		"and resources that take this cluster's cluster_connection connect to it too: run Terraform from inside the VPC (for example a self-hosted Terraform Cloud agent there), or those steps fail."
	runner := "The provider connects to the API server from where Terraform runs: that address must be in public_access_cidrs, or the bootstrap after the stack fails."
	for _, tc := range []struct {
		name                   string
		config, prior          map[string]tftypes.Value
		severity               tfprotov6.DiagnosticSeverity // 0: no diagnostic
		attribute              string
		summary, detail        string
		wantReplace, noReplace []string
	}{
		{name: "defaults"},
		{name: "no endpoint at all", config: map[string]tftypes.Value{"endpoint_public_access": eksBool(false)},
			severity: errorSev, attribute: eksAttrPath("endpoint_public_access"), summary: "No way to reach the cluster's API server",
			detail: "endpoint_public_access = false needs endpoint_private_access = true: EKS refuses a cluster whose API server endpoint is reachable from nowhere."},
		{name: "private endpoint only", config: map[string]tftypes.Value{"endpoint_public_access": eksBool(false), "endpoint_private_access": eksBool(true)},
			severity: warningSev, attribute: eksAttrPath("endpoint_public_access"), summary: "The cluster's API server will be private", detail: privateWarning},
		{name: "private endpoint kept private", config: map[string]tftypes.Value{"endpoint_public_access": eksBool(false), "endpoint_private_access": eksBool(true)},
			prior: eksCompleteCluster(map[string]tftypes.Value{"endpoint_public_access": eksBool(false), "endpoint_private_access": eksBool(true)})},
		// Kept while the endpoint is private (EKS keeps them too), in force again once public.
		{name: "CIDRs without a public endpoint", config: map[string]tftypes.Value{"endpoint_public_access": eksBool(false), "endpoint_private_access": eksBool(true), "public_access_cidrs": strList("203.0.113.0/24")},
			prior:    eksCompleteCluster(map[string]tftypes.Value{"endpoint_public_access": eksBool(false), "endpoint_private_access": eksBool(true)}),
			severity: warningSev, attribute: eksAttrPath("public_access_cidrs"), summary: "public_access_cidrs limit nothing while the endpoint is private",
			detail: "endpoint_public_access = false turns the public endpoint off, so public_access_cidrs limit no access now: EKS keeps them, and they take effect when endpoint_public_access is true again."},
		{name: "CIDRs kept private", config: map[string]tftypes.Value{"endpoint_public_access": eksBool(false), "endpoint_private_access": eksBool(true), "public_access_cidrs": strList("203.0.113.0/24")},
			prior: eksCompleteCluster(map[string]tftypes.Value{"endpoint_public_access": eksBool(false), "endpoint_private_access": eksBool(true), "public_access_cidrs": strList("203.0.113.0/24")})},
		{name: "private CIDR", config: map[string]tftypes.Value{"public_access_cidrs": strList("203.0.113.0/24", "10.0.0.0/8")},
			severity: errorSev, attribute: tftypes.NewAttributePath().WithAttributeName("public_access_cidrs").WithElementKeyInt(1).String(), summary: "Invalid public_access_cidrs[1]",
			detail: `must be a public CIDR block such as 203.0.113.0/24: "10.0.0.0/8" is not a public range: the public endpoint sees only public source addresses (for access from inside the VPC set endpoint_private_access = true).`},
		{name: "CIDR with host bits", config: map[string]tftypes.Value{"public_access_cidrs": strList("203.0.113.9/24")},
			severity: errorSev, attribute: tftypes.NewAttributePath().WithAttributeName("public_access_cidrs").WithElementKeyInt(0).String(), summary: "Invalid public_access_cidrs[0]",
			detail: `must be a public CIDR block such as 203.0.113.0/24: "203.0.113.9/24" has host bits set; did you mean 203.0.113.0/24?.`},
		{name: "IPv6 CIDR on an IPv4 cluster", config: map[string]tftypes.Value{"public_access_cidrs": strList("0.0.0.0/0", "2001:db8::/32")},
			severity: errorSev, attribute: tftypes.NewAttributePath().WithAttributeName("public_access_cidrs").WithElementKeyInt(1).String(), summary: "IPv6 block for an IPv4 cluster",
			detail: `"2001:db8::/32" is an IPv6 block, and only a cluster with ip_family = "ipv6" has an IPv6 public endpoint: remove it, or use IPv4 blocks.`},
		{name: "IPv6 CIDRs on an IPv6 cluster", config: map[string]tftypes.Value{"ip_family": str("ipv6"), "public_access_cidrs": strList("0.0.0.0/0", "2001:db8::/32")}},
		{name: "private IPv6 CIDR", config: map[string]tftypes.Value{"ip_family": str("ipv6"), "public_access_cidrs": strList("fd00::/8")},
			severity: errorSev, attribute: tftypes.NewAttributePath().WithAttributeName("public_access_cidrs").WithElementKeyInt(0).String(), summary: "Invalid public_access_cidrs[0]",
			detail: `must be a public CIDR block such as 203.0.113.0/24: "fd00::/8" is not a public range: the public endpoint sees only public source addresses (for access from inside the VPC set endpoint_private_access = true).`},
		{name: "more CIDRs than EKS allows", config: map[string]tftypes.Value{"public_access_cidrs": strList(manyCIDRs(cloud.MaxPublicAccessCIDRs + 1)...)},
			severity: errorSev, attribute: eksAttrPath("public_access_cidrs"), summary: "Invalid Attribute Value",
			detail: "Attribute public_access_cidrs list must contain at least 1 elements and at most 40 elements, got: 41"},
		{name: "as many CIDRs as EKS allows", config: map[string]tftypes.Value{"public_access_cidrs": strList(append(manyCIDRs(cloud.MaxPublicAccessCIDRs-1), "0.0.0.0/0")...)}},
		{name: "ipv6 in a China region", config: map[string]tftypes.Value{"ip_family": str("ipv6"), "region": str("cn-north-1")},
			severity: errorSev, attribute: eksAttrPath("ip_family"), summary: "No IPv6 clusters in this region",
			detail: `EKS creates no IPv6 clusters in the China regions (region cn-north-1): set ip_family = "ipv4".`},
		{name: "restricted CIDRs, nodes on the public endpoint", config: map[string]tftypes.Value{"public_access_cidrs": strList("203.0.113.0/24")},
			severity: warningSev, attribute: eksAttrPath("public_access_cidrs"), summary: "The public endpoint is limited to public_access_cidrs",
			detail: runner + " With endpoint_private_access = false the nodes reach the API server through the public endpoint too: include their NAT gateways' addresses, or set endpoint_private_access = true."},
		{name: "restricted CIDRs with a private endpoint", config: map[string]tftypes.Value{"public_access_cidrs": strList("203.0.113.0/24"), "endpoint_private_access": eksBool(true)},
			severity: warningSev, attribute: eksAttrPath("public_access_cidrs"), summary: "The public endpoint is limited to public_access_cidrs", detail: runner},
		{name: "log type", config: map[string]tftypes.Value{"enabled_log_types": eksStrSet("api", "apiserver")},
			severity: errorSev, attribute: tftypes.NewAttributePath().WithAttributeName("enabled_log_types").WithElementKeyValue(str("apiserver")).String(), summary: "Invalid Attribute Value Match",
			detail: `Attribute enabled_log_types[Value("apiserver")] value must be one of: ["api" "audit" "authenticator" "controllerManager" "scheduler"], got: "apiserver"`},
		{name: "KMS alias", config: map[string]tftypes.Value{"secrets_kms_key_arn": str("arn:aws:kms:eu-west-1:222222222222:alias/eks")},
			severity: errorSev, attribute: eksAttrPath("secrets_kms_key_arn"), summary: "Invalid secrets_kms_key_arn",
			detail: `must be a KMS key ARN such as arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab: "arn:aws:kms:eu-west-1:222222222222:alias/eks" is an alias: name the key itself (the cluster keeps the key it was created with).`},
		{name: "KMS key ID", config: map[string]tftypes.Value{"secrets_kms_key_arn": str("1234abcd-12ab-34cd-56ef-1234567890ab")},
			severity: errorSev, attribute: eksAttrPath("secrets_kms_key_arn"), summary: "Invalid secrets_kms_key_arn",
			detail: `must be a KMS key ARN such as arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab: "1234abcd-12ab-34cd-56ef-1234567890ab" is not a KMS key ARN.`},
		{name: "KMS key in another region", config: map[string]tftypes.Value{"secrets_kms_key_arn": str(strings.Replace(testKeyARN, "eu-west-1", "us-east-1", 1))},
			severity: errorSev, attribute: eksAttrPath("secrets_kms_key_arn"), summary: "KMS key in another region",
			detail: "secrets_kms_key_arn is a key in us-east-1; EKS needs a key in the cluster's region eu-west-1."},
		{name: "KMS key", config: map[string]tftypes.Value{"secrets_kms_key_arn": str(testKeyARN)}},
		{name: "ip family spelling", config: map[string]tftypes.Value{"ip_family": str("IPv6")},
			severity: errorSev, attribute: eksAttrPath("ip_family"), summary: "Invalid Attribute Value Match",
			detail: `Attribute ip_family value must be one of: ["ipv4" "ipv6"], got: "IPv6"`},
		{name: "ipv6 with a service CIDR", config: map[string]tftypes.Value{"ip_family": str("ipv6"), "service_ipv4_cidr": str("10.100.0.0/16")},
			severity: errorSev, attribute: eksAttrPath("service_ipv4_cidr"), summary: `service_ipv4_cidr with ip_family = "ipv6"`,
			detail: `An IPv6 cluster's service addresses come from a block EKS chooses: remove service_ipv4_cidr, or set ip_family = "ipv4".`},
		{name: "user template without the log parameters", config: map[string]tftypes.Value{"enabled_log_types": eksStrSet("audit"), "template_body": str(userTemplateWithoutNewParams())},
			severity: errorSev, attribute: eksAttrPath("enabled_log_types"), summary: "template_body lacks a parameter",
			detail: "template_body declares no LogAudit parameter, so enabled_log_types cannot take effect: declare it in the template (as the embedded template does), or leave enabled_log_types at its default."},
		{name: "user template without the new parameters, defaults", config: map[string]tftypes.Value{"template_body": str(userTemplateWithoutNewParams())}},
		// In place: endpoint access, CIDRs and logging go through UpdateStack.
		{name: "logging and endpoint access change in place", config: map[string]tftypes.Value{"enabled_log_types": eksStrSet("audit", "api"), "endpoint_private_access": eksBool(true)},
			prior: eksCompleteCluster(nil), noReplace: []string{"enabled_log_types", "endpoint_private_access"}},
		// Create-only in CloudFormation: a replacement.
		{name: "adding a KMS key replaces", config: map[string]tftypes.Value{"secrets_kms_key_arn": str(testKeyARN)},
			prior: eksCompleteCluster(nil), wantReplace: []string{"secrets_kms_key_arn"}},
		// EKS cannot turn encryption off: the replacement is planned, and said out loud.
		{name: "removing the KMS key replaces", config: map[string]tftypes.Value{"secrets_kms_key_arn": tftypes.NewValue(tftypes.String, nil)}, prior: eksCompleteCluster(map[string]tftypes.Value{"secrets_kms_key_arn": str(testKeyARN)}),
			wantReplace: []string{"secrets_kms_key_arn"}, severity: warningSev, attribute: eksAttrPath("secrets_kms_key_arn"), summary: "Removing secrets_kms_key_arn replaces the cluster",
			detail: "EKS cannot turn secrets encryption off, and CloudFormation sets the key only when it creates the cluster: this plan deletes the cluster, with everything running in it, and creates a new one without a key. " +
				"To keep the cluster, keep secrets_kms_key_arn as it is."},
		{name: "changing the KMS key replaces", config: map[string]tftypes.Value{"secrets_kms_key_arn": str(strings.Replace(testKeyARN, "1234abcd-", "5678abcd-", 1))},
			prior: eksCompleteCluster(map[string]tftypes.Value{"secrets_kms_key_arn": str(testKeyARN)}), wantReplace: []string{"secrets_kms_key_arn"}},
		{name: "ip family replaces", config: map[string]tftypes.Value{"ip_family": str("ipv6")}, prior: eksCompleteCluster(nil), wantReplace: []string{"ip_family"}},
		{name: "an imported stack is compared by the update, not replaced", config: map[string]tftypes.Value{"secrets_kms_key_arn": str(testKeyARN)},
			prior: map[string]tftypes.Value{"id": str("eu-west-1/ck-versions"), "region": str("eu-west-1"), "name": str("ck-versions")}, noReplace: []string{"secrets_kms_key_arn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planAccessChange(t, tc.config, tc.prior)
			var texts []string
			for _, d := range p.diags {
				texts = append(texts, d.Summary+": "+d.Detail)
			}
			all := strings.Join(texts, "\n")
			if tc.severity == 0 {
				if len(p.diags) != 0 {
					t.Fatalf("want no diagnostic, got:\n%s", all)
				}
			} else {
				if len(p.diags) != 1 {
					t.Fatalf("%d diagnostics, want 1:\n%s", len(p.diags), all)
				}
				d := p.diags[0]
				if d.Severity != tc.severity || d.Summary != tc.summary || d.Detail != tc.detail {
					t.Errorf("got severity %v\n%s: %s\nwant severity %v\n%s: %s", d.Severity, d.Summary, d.Detail, tc.severity, tc.summary, tc.detail)
				}
				if d.Attribute == nil || d.Attribute.String() != tc.attribute {
					t.Errorf("diagnostic is on %v, not %s", d.Attribute, tc.attribute)
				}
			}
			for _, a := range tc.wantReplace {
				if !slices.Contains(p.replace, eksAttrPath(a)) {
					t.Errorf("RequiresReplace %q lacks %s", p.replace, a)
				}
			}
			for _, a := range tc.noReplace {
				if slices.Contains(p.replace, eksAttrPath(a)) {
					t.Errorf("RequiresReplace %q has %s", p.replace, a)
				}
			}
		})
	}
}

func TestEKSClusterAccess_PlannedValues(t *testing.T) {
	p := planAccessChange(t, nil, nil)
	var public, private bool
	var cidrs, logs []tftypes.Value
	var family, serviceCIDR string
	for name, dst := range map[string]any{"endpoint_public_access": &public, "endpoint_private_access": &private, "public_access_cidrs": &cidrs,
		"enabled_log_types": &logs, "ip_family": &family, "service_ipv4_cidr": &serviceCIDR} {
		if err := p.planned[name].As(dst); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if !public || private || len(cidrs) != 1 || !cidrs[0].Equal(str("0.0.0.0/0")) || len(logs) != 0 || family != "ipv4" || serviceCIDR != eksDefaultCIDR {
		t.Errorf("defaults: public %v private %v cidrs %v logs %v family %q service CIDR %q", public, private, cidrs, logs, family, serviceCIDR)
	}
	if !p.planned["secrets_kms_key_arn"].IsNull() {
		t.Errorf("secrets_kms_key_arn planned %v, want null", p.planned["secrets_kms_key_arn"])
	}
	// An IPv6 cluster has no IPv4 service CIDR of ours.
	p = planAccessChange(t, map[string]tftypes.Value{"ip_family": str("ipv6")}, nil)
	if !p.planned["service_ipv4_cidr"].IsNull() || !p.planned["ip_family"].Equal(str("ipv6")) {
		t.Errorf("ipv6: service_ipv4_cidr %v ip_family %v", p.planned["service_ipv4_cidr"], p.planned["ip_family"])
	}
	// An IPv6 cluster's public endpoint is dual-stack: EKS's default opens it over both.
	if !p.planned["public_access_cidrs"].Equal(strList("0.0.0.0/0", "::/0")) {
		t.Errorf("ipv6: public_access_cidrs %v", p.planned["public_access_cidrs"])
	}
	// An existing IPv6 cluster on the IPv4 default keeps it (no update planned); configured
	// blocks are kept as given.
	v6 := map[string]tftypes.Value{"ip_family": str("ipv6"), "service_ipv4_cidr": tftypes.NewValue(tftypes.String, nil)}
	p = planAccessChange(t, map[string]tftypes.Value{"ip_family": str("ipv6")}, eksCompleteCluster(v6))
	if !p.planned["public_access_cidrs"].Equal(strList("0.0.0.0/0")) || !p.planned["status"].Equal(str("CREATE_COMPLETE")) {
		t.Errorf("existing ipv6 cluster: public_access_cidrs %v status %v", p.planned["public_access_cidrs"], p.planned["status"])
	}
	// The plan after creating one with the default blocks is empty (the default is applied
	// before the stack's inputs are compared).
	v6["public_access_cidrs"] = strList("0.0.0.0/0", "::/0")
	p = planAccessChange(t, map[string]tftypes.Value{"ip_family": str("ipv6")}, eksCompleteCluster(v6))
	if !p.planned["public_access_cidrs"].Equal(strList("0.0.0.0/0", "::/0")) || !p.planned["status"].Equal(str("CREATE_COMPLETE")) {
		t.Errorf("created ipv6 cluster: public_access_cidrs %v status %v", p.planned["public_access_cidrs"], p.planned["status"])
	}
	p = planAccessChange(t, map[string]tftypes.Value{"ip_family": str("ipv6"), "public_access_cidrs": strList("203.0.113.0/24")}, nil)
	if !p.planned["public_access_cidrs"].Equal(strList("203.0.113.0/24")) {
		t.Errorf("ipv6 with blocks: public_access_cidrs %v", p.planned["public_access_cidrs"])
	}
	// An in-place change plans an update of the stack (status unknown until it ran).
	p = planAccessChange(t, map[string]tftypes.Value{"enabled_log_types": eksStrSet("audit")}, eksCompleteCluster(nil))
	if p.planned["status"].IsKnown() || len(p.replace) != 0 {
		t.Errorf("logging change: status %v replace %q", p.planned["status"], p.replace)
	}
}

// manyCIDRs is n distinct public /32 blocks.
func manyCIDRs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("198.51.100.%d/32", i+1)
	}
	return out
}

// userTemplateWithoutNewParams is a user template written for the first template's
// parameters only.
func userTemplateWithoutNewParams() string {
	var b strings.Builder
	b.WriteString("Parameters:\n")
	for _, p := range cloud.EKSClusterTemplateParameters {
		if _, later := cloud.EKSClusterTemplateDefaults[p]; !later {
			b.WriteString("  " + p + ":\n    Type: String\n")
		}
	}
	b.WriteString("Resources:\n  EKSCluster:\n    Type: AWS::EKS::Cluster\nOutputs:\n  NodeInstanceRoleArn:\n    Value: x\n")
	return b.String()
}

func TestEKSClusterAccess_StackParameters(t *testing.T) {
	ctx := context.Background()
	m := eksClusterModel{}
	m.accessFromStack(map[string]string{}) // a stack of the first template: EKS's defaults
	if !m.EndpointPublicAccess.ValueBool() || m.EndpointPrivateAccess.ValueBool() || len(m.PublicAccessCIDRs.Elements()) != 1 ||
		len(m.EnabledLogTypes.Elements()) != 0 || !m.SecretsKMSKeyARN.IsNull() || m.IPFamily.ValueString() != "ipv4" {
		t.Errorf("from an old stack: %+v", m)
	}
	m.accessFromStack(map[string]string{"EndpointPublicAccess": "false", "EndpointPrivateAccess": "true", "PublicAccessCidrs": "203.0.113.0/24,198.51.100.7/32",
		"LogAudit": "true", "LogScheduler": "true", "SecretsKmsKeyArn": testKeyARN, "IpFamily": "ipv6"})
	var diags diag.Diagnostics
	got := m.access(ctx, &diags).Parameters()
	want := map[string]string{"EndpointPublicAccess": "false", "EndpointPrivateAccess": "true", "PublicAccessCidrs": "203.0.113.0/24,198.51.100.7/32",
		"LogApi": "false", "LogAudit": "true", "LogAuthenticator": "false", "LogControllerManager": "false", "LogScheduler": "true",
		"SecretsKmsKeyArn": testKeyARN, "IpFamily": "ipv6"}
	if diags.HasError() || len(got) != len(want) {
		t.Fatalf("params %v %v", got, diags)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (round trip through the stack)", k, got[k], v)
		}
	}
}
