package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// clockedProvider is the provider whose clusterkit_eks_cluster reads the time at now.
type clockedProvider struct {
	*clusterkitProvider
	now time.Time
}

func (p clockedProvider) Resources(ctx context.Context) []func() resource.Resource {
	var out []func() resource.Resource
	for _, f := range p.clusterkitProvider.Resources(ctx) {
		out = append(out, func() resource.Resource {
			r := f()
			if e, ok := r.(*eksClusterResource); ok {
				e.now = func() time.Time { return p.now }
			}
			return r
		})
	}
	return out
}

// versionServer is the protocol server of the provider on the given day, and the eks
// cluster schema.
func versionServer(t *testing.T, now time.Time) (tfprotov6.ProviderServer, *tfprotov6.Schema) {
	t.Helper()
	p := New("test")().(*clusterkitProvider)
	srv, err := providerserver.NewProtocol6WithError(provider.Provider(clockedProvider{p, now}))()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || len(schemas.Diagnostics) > 0 {
		t.Fatalf("schema: %v %v", err, schemas.Diagnostics)
	}
	return srv, schemas.ResourceSchemas["clusterkit_eks_cluster"]
}

// eksConfigAttrs is a valid configuration of the cluster on version.
func eksConfigAttrs(version string) map[string]tftypes.Value {
	return map[string]tftypes.Value{
		"name":                            str("ck-versions"),
		"region":                          str("eu-west-1"),
		"provision_role_arn":              str("arn:aws:iam::222222222222:role/p"),
		"external_id":                     str("ext-123"),
		"cluster_role_arn":                str("arn:aws:iam::222222222222:role/eks"),
		"kubernetes_version":              str(version),
		"vpc_id":                          str("vpc-0123456789abcdef0"),
		"subnet_ids":                      strList("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
		"control_plane_security_group_id": str("sg-0123456789abcdef0"),
	}
}

// planVersion plans the cluster on version `to`: a create when from is "", else an update
// of a complete cluster on from. It returns the diagnostics of validation and plan.
func planVersion(t *testing.T, now time.Time, from, to string) []*tfprotov6.Diagnostic {
	t.Helper()
	ctx := context.Background()
	srv, s := versionServer(t, now)
	cfg := sweepConfig(t, s, eksConfigAttrs(to))
	vr, err := srv.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: "clusterkit_eks_cluster", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	diags := vr.Diagnostics
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			return diags // Terraform plans nothing after an invalid configuration
		}
	}
	prior := tftypes.NewValue(s.ValueType(), nil)
	proposed := eksConfigAttrs(to)
	if from != "" {
		attrs := eksConfigAttrs(from)
		for k, v := range map[string]tftypes.Value{
			"id": str("eu-west-1/ck-versions"), "session_name": str("clusterkit-ck-versions"), "status": str("CREATE_COMPLETE"),
			"stack_id": str("arn:aws:cloudformation:eu-west-1:222222222222:stack/ck-versions/1"), "service_ipv4_cidr": str(eksDefaultCIDR),
			"node_instance_type": str("t3.medium"), "node_count": tftypes.NewValue(tftypes.Number, 3), "node_volume_size": tftypes.NewValue(tftypes.Number, 20),
		} {
			attrs[k] = v
		}
		prior = objectOf(t, s, attrs)
		for k, v := range attrs {
			if k != "kubernetes_version" {
				proposed[k] = v
			}
		}
	}
	priorDV, err := tfprotov6.NewDynamicValue(s.ValueType(), prior)
	if err != nil {
		t.Fatal(err)
	}
	proposedDV := sweepConfig(t, s, proposed)
	pr, err := srv.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName: "clusterkit_eks_cluster", PriorState: &priorDV, ProposedNewState: proposedDV, Config: cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return append(diags, pr.Diagnostics...)
}

// objectOf is the object of schema s with attrs set and every other attribute null.
func objectOf(t *testing.T, s *tfprotov6.Schema, attrs map[string]tftypes.Value) tftypes.Value {
	t.Helper()
	typ := s.ValueType().(tftypes.Object)
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		vals[name] = tftypes.NewValue(at, nil)
	}
	for name, v := range attrs {
		vals[name] = v
	}
	return tftypes.NewValue(typ, vals)
}

func TestEKSClusterVersions_Diagnostics(t *testing.T) {
	dec1 := time.Date(2026, time.December, 1, 15, 0, 0, 0, time.UTC)
	const (
		errorSev   = tfprotov6.DiagnosticSeverityError
		warningSev = tfprotov6.DiagnosticSeverityWarning
	)
	for _, tc := range []struct {
		name     string
		now      time.Time
		from, to string
		severity tfprotov6.DiagnosticSeverity // 0: no diagnostic
		summary  string
		detail   string
	}{
		{name: "standard support, create", now: dec1, to: "1.35"},
		{name: "standard support on its last day", now: dec1, to: "1.34"},
		{name: "standard support, upgrade", now: dec1, from: "1.34", to: "1.35"},
		{name: "unknown version", now: dec1, to: "1.99", severity: errorSev, summary: "Unsupported kubernetes_version",
			detail: "kubernetes_version 1.99 is not a version EKS offers: choose one of 1.32, 1.33, 1.34, 1.35."},
		{name: "not a minor version", now: dec1, to: "1.35.1", severity: errorSev, summary: "Invalid kubernetes_version",
			detail: `kubernetes_version must be a Kubernetes minor version such as 1.33, without a patch number: EKS offers 1.32, 1.33, 1.34, 1.35; got "1.35.1".`},
		{name: "extended support, create", now: dec1, to: "1.33", severity: warningSev, summary: "Kubernetes 1.33 is in extended support",
			detail: "kubernetes_version 1.33 is in extended support since 2026-07-29: EKS charges extended-support pricing for it; choose 1.34 or 1.35 (in standard support; an existing cluster upgrades one minor version at a time). Extended support for 1.33 ends on 2027-07-29."},
		{name: "extended support the day standard support ends", now: time.Date(2026, time.December, 2, 0, 0, 0, 0, time.UTC), to: "1.34", severity: warningSev, summary: "Kubernetes 1.34 is in extended support",
			detail: "kubernetes_version 1.34 is in extended support since 2026-12-02: EKS charges extended-support pricing for it; choose 1.35 (in standard support; an existing cluster upgrades one minor version at a time). Extended support for 1.34 ends on 2027-12-02."},
		{name: "extended support, existing cluster unchanged", now: dec1, from: "1.32", to: "1.32", severity: warningSev, summary: "Kubernetes 1.32 is in extended support",
			detail: "kubernetes_version 1.32 is in extended support since 2026-03-23: EKS charges extended-support pricing for it; choose 1.34 or 1.35 (in standard support; an existing cluster upgrades one minor version at a time). Extended support for 1.32 ends on 2027-03-23."},
		{name: "past extended support, create", now: dec1, to: "1.31", severity: errorSev, summary: "Kubernetes 1.31 is no longer supported by EKS",
			detail: "kubernetes_version 1.31 left EKS extended support on 2026-11-26: EKS no longer runs it. Choose 1.34 or 1.35 (in standard support)."},
		{name: "past extended support, existing cluster", now: dec1, from: "1.30", to: "1.31", severity: warningSev, summary: "Kubernetes 1.31 is no longer supported by EKS",
			detail: "kubernetes_version 1.31 left EKS extended support on 2026-11-26: EKS upgrades such clusters on its own. Upgrade the cluster one minor version at a time towards 1.34 or 1.35."},
		{name: "the same version was standard a year earlier", now: time.Date(2025, time.December, 1, 0, 0, 0, 0, time.UTC), to: "1.33"},
		{name: "skip of a minor version", now: dec1, from: "1.33", to: "1.35", severity: errorSev, summary: "Upgrade one minor version at a time",
			detail: "EKS upgrades one minor version at a time: from 1.33 go to 1.34 first, apply, then continue."},
		{name: "skip from a version older than the calendar", now: dec1, from: "1.29", to: "1.31", severity: errorSev, summary: "Upgrade one minor version at a time",
			detail: "EKS upgrades one minor version at a time: from 1.29 go to 1.30 first, apply, then continue."},
		{name: "downgrade", now: dec1, from: "1.35", to: "1.34", severity: errorSev, summary: "Kubernetes cannot be downgraded",
			detail: "The cluster runs 1.35; EKS cannot go back to 1.34. Keep 1.35, or replace the cluster."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diags := planVersion(t, tc.now, tc.from, tc.to)
			var texts []string
			for _, d := range diags {
				texts = append(texts, d.Summary+": "+d.Detail)
			}
			all := strings.Join(texts, "\n")
			if tc.severity == 0 {
				if len(diags) != 0 {
					t.Fatalf("want no diagnostic, got:\n%s", all)
				}
				return
			}
			if len(diags) != 1 {
				t.Fatalf("%d diagnostics, want 1:\n%s", len(diags), all)
			}
			d := diags[0]
			if d.Severity != tc.severity || d.Summary != tc.summary || d.Detail != tc.detail {
				t.Errorf("got severity %v\n%s: %s\nwant severity %v\n%s: %s", d.Severity, d.Summary, d.Detail, tc.severity, tc.summary, tc.detail)
			}
			if d.Attribute == nil || d.Attribute.String() != tftypes.NewAttributePath().WithAttributeName("kubernetes_version").String() {
				t.Errorf("diagnostic is on %v, not kubernetes_version", d.Attribute)
			}
			for _, w := range goWords {
				if strings.Contains(all, w) {
					t.Errorf("diagnostic %q holds %q", all, w)
				}
			}
		})
	}
}
