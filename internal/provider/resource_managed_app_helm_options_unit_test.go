package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// helm's switches: plan-time checks through the protocol server, the install spec they
// make, and plans in which only they (or only the form of values) change: no pod.

func boolV(b bool) tftypes.Value { return tftypes.NewValue(tftypes.Bool, b) }
func numV(n int64) tftypes.Value { return tftypes.NewValue(tftypes.Number, n) }

func TestManagedAppHelmOptions_ContradictionsRefusedAtPlanTime(t *testing.T) {
	for name, tc := range map[string]struct {
		attrs      map[string]tftypes.Value
		wantPath   string
		wantDetail string
	}{
		"defaults":                   {attrs: map[string]tftypes.Value{}},
		"no wait, no rollback":       {attrs: map[string]tftypes.Value{"wait": boolV(false), "atomic": boolV(false)}},
		"everything on":              {attrs: map[string]tftypes.Value{"wait_for_jobs": boolV(true), "skip_crds": boolV(true), "take_ownership": boolV(true), "dependency_update": boolV(true), "max_history": numV(0)}},
		"no wait with rollback":      {attrs: map[string]tftypes.Value{"wait": boolV(false)}, wantPath: "wait", wantDetail: "wait = false needs atomic = false: rolling back on failure makes helm wait"},
		"jobs without wait":          {attrs: map[string]tftypes.Value{"wait": boolV(false), "atomic": boolV(false), "wait_for_jobs": boolV(true)}, wantPath: "wait_for_jobs", wantDetail: "wait_for_jobs = true needs wait = true"},
		"negative history":           {attrs: map[string]tftypes.Value{"max_history": numV(-1)}, wantPath: "max_history", wantDetail: "max_history value must be at least 0, got: -1"},
		"unknown wait is not judged": {attrs: map[string]tftypes.Value{"wait": tftypes.NewValue(tftypes.Bool, tftypes.UnknownValue)}},
	} {
		t.Run(name, func(t *testing.T) {
			diags := validateManagedApp(t, tc.attrs)
			if tc.wantPath == "" {
				if len(diags) > 0 {
					t.Fatalf("diagnostics %v", diagStrings(diags))
				}
				return
			}
			if len(diags) != 1 || attributePath(diags[0].Attribute) != tc.wantPath || !strings.Contains(diags[0].Detail, tc.wantDetail) {
				t.Fatalf("diagnostics %v, want one on %s saying %q", diagStrings(diags), tc.wantPath, tc.wantDetail)
			}
		})
	}
}

func TestManagedAppHelmOptions_Spec(t *testing.T) {
	m := unitManagedApp(t)
	spec, err := m.spec(context.Background(), writeOnly{}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	h := spec.Helm
	if !*h.Wait || !*h.RollbackOnFailure || !*h.CleanupOnFail || *h.HistoryMax != 10 || h.WaitForJobs || h.SkipCRDs || h.TakeOwnership || h.DependencyUpdate {
		t.Errorf("defaults %+v", h)
	}
	m.Wait, m.Atomic, m.CleanupOnFail = types.BoolValue(false), types.BoolValue(false), types.BoolValue(false)
	m.SkipCRDs, m.TakeOwnership, m.DependencyUpdate, m.MaxHistory = types.BoolValue(true), types.BoolValue(true), types.BoolValue(true), types.Int64Value(2)
	spec, err = m.spec(context.Background(), writeOnly{}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	h = spec.Helm
	if *h.Wait || *h.RollbackOnFailure || *h.CleanupOnFail || *h.HistoryMax != 2 || !h.SkipCRDs || !h.TakeOwnership || !h.DependencyUpdate {
		t.Errorf("options %+v", h)
	}
	if err := spec.Validate(); err != nil {
		t.Error(err)
	}
	// None of them is an install input.
	if installInputsChanged(m, unitManagedApp(t)) {
		t.Error("changing only helm's switches must not run an upgrade")
	}
}

// planManagedApp plans an update of a deployed custom chart at revision 3: prior is its
// state, change what the configuration changes.
func planManagedApp(t *testing.T, prior, change map[string]tftypes.Value) map[string]tftypes.Value {
	t.Helper()
	ctx := context.Background()
	srv, s := managedAppSchema(t)
	typ := s.ValueType().(tftypes.Object)
	connType := typ.AttributeTypes["cluster_connection"].(tftypes.Object)
	conn := map[string]tftypes.Value{}
	for k, at := range connType.AttributeTypes {
		conn[k] = tftypes.NewValue(at, nil)
	}
	conn["host"], conn["cluster_ca_certificate"], conn["token"] = str("https://k8s.example.com"), str("ca"), str("tok")
	chartType := typ.AttributeTypes["chart"].(tftypes.Object)
	state := map[string]tftypes.Value{
		"id": str("web/web"), "name": str("web"), "namespace": str("web"), "installer_image": str(kube.DefaultInstallerImage),
		"installer_cluster_admin": boolV(false), "keep_failed_pod": boolV(true), "status": str("deployed"), "revision": numV(3),
		"chart_version": str("0.1.0"), "installed_at": str("2026-12-01T10:00:00Z"), "outputs": tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, map[string]tftypes.Value{}),
		"cluster_connection": tftypes.NewValue(connType, conn),
		"chart":              tftypes.NewValue(chartType, map[string]tftypes.Value{"repository": str("https://charts.example.com"), "name": str("demo"), "version": str("0.1.0")}),
		"wait":               boolV(true), "wait_for_jobs": boolV(false), "atomic": boolV(true), "cleanup_on_fail": boolV(true), "skip_crds": boolV(false),
		"max_history": numV(10), "take_ownership": boolV(false), "dependency_update": boolV(false),
	}
	for k, v := range prior {
		state[k] = v
	}
	proposed := map[string]tftypes.Value{}
	for k, v := range state {
		proposed[k] = v
	}
	for k, v := range change {
		proposed[k] = v
	}
	config := map[string]tftypes.Value{}
	for k, v := range proposed {
		switch k {
		case "id", "status", "revision", "chart_version", "installed_at", "outputs", "app_version":
		default:
			config[k] = v
		}
	}
	priorDV, err := tfprotov6.NewDynamicValue(typ, objectOf(t, s, state))
	if err != nil {
		t.Fatal(err)
	}
	proposedDV, err := tfprotov6.NewDynamicValue(typ, objectOf(t, s, proposed))
	if err != nil {
		t.Fatal(err)
	}
	pr, err := srv.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName: "clusterkit_managed_app", PriorState: &priorDV, ProposedNewState: &proposedDV, Config: sweepConfig(t, s, config),
	})
	if err != nil || len(pr.Diagnostics) > 0 {
		t.Fatalf("plan: %v %v", err, diagStrings(pr.Diagnostics))
	}
	planned, err := pr.PlannedState.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]tftypes.Value
	if err := planned.As(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestManagedAppHelmOptions_ChangeAloneRunsNoPod(t *testing.T) {
	for name, tc := range map[string]struct {
		prior, change map[string]tftypes.Value
		upgrade       bool
	}{
		"max_history":                   {change: map[string]tftypes.Value{"max_history": numV(2)}},
		"all switches":                  {change: map[string]tftypes.Value{"wait": boolV(false), "atomic": boolV(false), "cleanup_on_fail": boolV(false), "skip_crds": boolV(true), "take_ownership": boolV(true), "dependency_update": boolV(true)}},
		"a string becomes a list of it": {prior: map[string]tftypes.Value{"values": str("a: 1\n")}, change: map[string]tftypes.Value{"values": tuple(str("a: 1\n"))}},
		"a second document":             {prior: map[string]tftypes.Value{"values": str("a: 1\n")}, change: map[string]tftypes.Value{"values": tuple(str("a: 1\n"), str("a: 2\n"))}, upgrade: true},
		"a document changes":            {prior: map[string]tftypes.Value{"values": tuple(str("a: 1\n"), str("b: 1\n"))}, change: map[string]tftypes.Value{"values": tuple(str("a: 1\n"), str("b: 2\n"))}, upgrade: true},
	} {
		t.Run(name, func(t *testing.T) {
			planned := planManagedApp(t, tc.prior, tc.change)
			rev := planned["revision"]
			if tc.upgrade != !rev.IsKnown() {
				t.Errorf("revision planned %v: upgrade %v, want %v", rev, !rev.IsKnown(), tc.upgrade)
			}
			for k, v := range tc.change {
				if !planned[k].Equal(v) {
					t.Errorf("%s planned %v, want %v (as configured)", k, planned[k], v)
				}
			}
		})
	}
}
