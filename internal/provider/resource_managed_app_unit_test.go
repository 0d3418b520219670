package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// Unit tests: no cluster, no Terraform CLI.

func TestManagedAppSchema(t *testing.T) {
	ctx := context.Background()
	var resp resource.SchemaResponse
	newManagedAppResource().Schema(ctx, resource.SchemaRequest{}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics)
	}
	if d := resp.Schema.ValidateImplementation(ctx); d.HasError() {
		t.Fatal(d)
	}
	for name, a := range resp.Schema.Attributes {
		if a.GetMarkdownDescription() == "" {
			t.Errorf("attribute %s has no description", name)
		}
	}
	if !resp.Schema.Attributes["sensitive_values"].IsWriteOnly() {
		t.Error("sensitive_values must be write-only")
	}
}

func TestManagedAppMergeValues(t *testing.T) {
	got, err := mergeValues("a:\n  b: 1\n  c: 2\nd: [1]\ne: x\n", "a:\n  c: 3\nd: [2]\ne: null\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a:\n  b: 1\n  c: 3\nd:\n- 2\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got, _ := mergeValues("x: 1\n", ""); got != "x: 1\n" {
		t.Fatalf("defaults alone: %q", got)
	}
	if _, err := mergeValues("x: 1\n", "- a"); err == nil {
		t.Fatal("a list must be refused")
	}
}

func TestManagedAppSensitiveYAMLErrorsHideText(t *testing.T) {
	err := yamlMapping("password: hunter2: [", false)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error must not quote sensitive text: %v", err)
	}
	if err := yamlMapping("a: [", true); err == nil {
		t.Fatal("want an error")
	}
	leaves := sensitiveLeaves("auth:\n  password: hunter22\n  list: [abcd, 1]\n")
	for _, want := range []string{"hunter22", "abcd"} {
		if !strings.Contains(strings.Join(leaves, "|"), want) {
			t.Errorf("leaves %v lack %s", leaves, want)
		}
	}
}

func TestManagedAppInstallTimeout(t *testing.T) {
	for op, want := range map[time.Duration]time.Duration{
		20 * time.Minute: 18 * time.Minute,
		5 * time.Second:  2500 * time.Millisecond,
		time.Second:      time.Second,
	} {
		if got := installTimeout(op); got != want {
			t.Errorf("installTimeout(%s) = %s, want %s", op, got, want)
		}
	}
}

func TestManagedAppNeedsRecovery(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	m := func(status string, age time.Duration) managedAppModel {
		return managedAppModel{Status: types.StringValue(status), InstalledAt: types.StringValue(now.Add(-age).Format(time.RFC3339))}
	}
	cases := []struct {
		m    managedAppModel
		want bool
	}{
		{m("deployed", time.Hour), false},
		{m("failed", time.Second), true},
		{m("pending-install", time.Minute), false},
		{m("pending-upgrade", time.Hour), true},
		{m("superseded", 0), true},
	}
	for _, c := range cases {
		if got := needsRecovery(c.m, 20*time.Minute, now); got != c.want {
			t.Errorf("%s: got %v, want %v", c.m.Status, got, c.want)
		}
	}
}

func TestManagedAppValidators(t *testing.T) {
	bad := map[string]error{
		"name too long":  kube.CheckReleaseName(strings.Repeat("a", 54)),
		"name uppercase": kube.CheckReleaseName("Web"),
		"unknown app":    checkCatalogApp("nope"),
		"http repo":      checkChartRepository("http://x.example.com"),
		"repo with user": checkChartRepository("https://u:p@x.example.com"),
		"range":          kube.CheckChartVersion(">=1.0"),
		"image space":    kube.CheckImage("alpine helm"),
		"managed label":  kube.CheckPodLabels(map[string]string{kube.LabelManagedBy: "x"}),
		"owner annot":    kube.CheckPodAnnotations(map[string]string{kube.AnnotationOwner: "x"}),
		"SA uppercase":   kube.CheckServiceAccountName("Team"),
		"SA reserved":    kube.CheckServiceAccountName("installer-web"),
	}
	for name, err := range bad {
		if err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	for _, err := range []error{kube.CheckReleaseName("web-1"), checkCatalogApp("cert-manager"), checkChartRepository("oci://r.example.com/charts"),
		kube.CheckChartVersion("v1.19.1"), kube.CheckImage(kube.DefaultInstallerImage), kube.CheckPodLabels(map[string]string{"team": "a"}),
		kube.CheckServiceAccountName("team-installer.v2")} {
		if err != nil {
			t.Error(err)
		}
	}
	if err := checkCatalogApp("nope"); !strings.Contains(err.Error(), "ingress-nginx") {
		t.Errorf("the message must list the catalog: %v", err)
	}
}

// An interrupted run is no timeout: the advice must not be to raise one.
func TestAddInstallError_InterruptIsNotATimeout(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		cause       error
		want, avoid string
	}{
		{context.Canceled, "The run was interrupted", "raise it"},
		{context.DeadlineExceeded, "raise it if the chart needs longer", "interrupted"},
	} {
		var diags diag.Diagnostics
		err := &kube.InstallTimeoutError{Action: kube.ActionInstall, Pod: "install-app", Namespace: kube.DefaultInstallNamespace,
			Waited: 3 * time.Second, PodDeleted: true, Cause: tc.cause}
		addInstallError(ctx, &diags, "Install failed", err)
		if len(diags) != 1 || !strings.Contains(diags[0].Detail(), tc.want) || strings.Contains(diags[0].Detail(), tc.avoid) {
			t.Errorf("%v: %v", tc.cause, diags)
		}
	}
}

// A pod no node took is a placement problem: the diagnostic points at the placement
// attributes, not at the timeout.
func TestAddInstallError_UnscheduledPointsAtPlacement(t *testing.T) {
	var diags diag.Diagnostics
	err := &kube.InstallTimeoutError{Action: kube.ActionInstall, Pod: "install-app", Namespace: kube.DefaultInstallNamespace,
		Waited: 30 * time.Second, Phase: "Pending", Waiting: "Unschedulable", Unscheduled: true, PodDeleted: true, Cause: context.DeadlineExceeded}
	addInstallError(context.Background(), &diags, "Install failed", err)
	want := "install pod clusterkit-managed-apps/install-app did not finish within 30s (last phase Pending, not scheduled on any node: Unschedulable)"
	if len(diags) != 1 || !strings.HasPrefix(diags[0].Detail(), want) || !strings.Contains(diags[0].Detail(), "installer_tolerations") ||
		strings.Contains(diags[0].Detail(), "raise it") {
		t.Fatalf("diagnostics %v", diags)
	}
	if ad, ok := diags[0].(diag.DiagnosticWithPath); !ok || !ad.Path().Equal(path.Root("installer_tolerations")) {
		t.Errorf("diagnostic not on installer_tolerations: %#v", diags[0])
	}
}

// The placement attributes reach the install spec, and changing them alone is no reason
// to run helm: they are not among the install inputs, and none forces a replacement.
func TestManagedAppPlacement_SpecAndNoUpgrade(t *testing.T) {
	ctx := context.Background()
	var resp resource.SchemaResponse
	newManagedAppResource().Schema(ctx, resource.SchemaRequest{}, &resp)
	placement := []string{"installer_node_selector", "installer_tolerations", "installer_affinity", "installer_priority_class_name",
		"installer_resources", "installer_image_pull_secrets"}
	for _, name := range placement {
		a, ok := resp.Schema.Attributes[name]
		if !ok {
			t.Fatalf("no attribute %s", name)
		}
		if !a.IsOptional() || a.IsComputed() || !strings.Contains(a.GetMarkdownDescription(), "Changing it alone runs no pod") {
			t.Errorf("%s: optional %v, computed %v, description %q", name, a.IsOptional(), a.IsComputed(), a.GetMarkdownDescription())
		}
		if s, ok := a.(interface{ StringPlanModifiers() []planmodifier.String }); ok && len(s.StringPlanModifiers()) > 0 {
			t.Errorf("%s has plan modifiers (replacement?)", name)
		}
	}

	tolType := resp.Schema.Attributes["installer_tolerations"].GetType().(types.ListType).ElemType.(types.ObjectType)
	resType := resp.Schema.Attributes["installer_resources"].GetType().(types.ObjectType)
	tol := types.ObjectValueMust(tolType.AttrTypes, map[string]attr.Value{
		"key": types.StringValue("dedicated"), "operator": types.StringNull(), "value": types.StringValue("platform"),
		"effect": types.StringValue("NoExecute"), "toleration_seconds": types.Int64Value(60),
	})
	m := managedAppModel{
		Name: types.StringValue("web"), Namespace: types.StringValue("web"), InstallerImage: types.StringValue(kube.DefaultInstallerImage),
		Chart:                  types.ObjectNull(map[string]attr.Type{"repository": types.StringType, "name": types.StringType, "version": types.StringType}),
		InstallerNodeSelector:  types.MapValueMust(types.StringType, map[string]attr.Value{"pool": types.StringValue("platform")}),
		InstallerTolerations:   types.ListValueMust(tolType, []attr.Value{tol}),
		InstallerAffinity:      types.StringValue("podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1, podAffinityTerm: {topologyKey: kubernetes.io/hostname}}]}"),
		InstallerPriorityClass: types.StringValue("platform"),
		InstallerResources: types.ObjectValueMust(resType.AttrTypes, map[string]attr.Value{
			"requests": types.MapNull(types.StringType),
			"limits":   types.MapValueMust(types.StringType, map[string]attr.Value{"cpu": types.StringValue("2")}),
		}),
		InstallerPullSecrets: types.ListValueMust(types.StringType, []attr.Value{types.StringValue("mirror-pull")}),
	}
	spec, err := m.spec(ctx, writeOnly{}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if spec.NodeSelector["pool"] != "platform" || spec.PriorityClassName != "platform" || spec.Affinity != m.InstallerAffinity.ValueString() ||
		len(spec.ImagePullSecrets) != 1 || spec.ImagePullSecrets[0] != "mirror-pull" || spec.Resources.Limits["cpu"] != "2" || len(spec.Resources.Requests) != 0 {
		t.Errorf("spec %+v", spec)
	}
	if len(spec.Tolerations) != 1 || spec.Tolerations[0].Key != "dedicated" || spec.Tolerations[0].Operator != "" || spec.Tolerations[0].Value != "platform" ||
		spec.Tolerations[0].Effect != "NoExecute" || spec.Tolerations[0].Seconds == nil || *spec.Tolerations[0].Seconds != 60 {
		t.Errorf("tolerations %+v", spec.Tolerations)
	}
	if err := spec.Validate(); err != nil {
		t.Errorf("the spec must be valid: %v", err)
	}

	// Unset: no placement at all.
	empty := managedAppModel{Name: m.Name, Namespace: m.Namespace, InstallerImage: m.InstallerImage, Chart: m.Chart,
		InstallerTolerations: types.ListNull(tolType), InstallerResources: types.ObjectNull(resType.AttrTypes),
		InstallerPullSecrets: types.ListNull(types.StringType), InstallerNodeSelector: types.MapNull(types.StringType)}
	spec, err = empty.spec(ctx, writeOnly{}, 10*time.Minute)
	if err != nil || len(spec.NodeSelector) != 0 || spec.Tolerations != nil || spec.Affinity != "" || spec.PriorityClassName != "" ||
		len(spec.Resources.Requests) > 0 || spec.ImagePullSecrets != nil {
		t.Errorf("unset placement: %+v %v", spec, err)
	}

	// Placement changes alone: nothing helm sees changed.
	for _, x := range []*managedAppModel{&m, &empty} {
		x.InstallerPodLabels, x.InstallerPodAnnotations = types.MapNull(types.StringType), types.MapNull(types.StringType)
	}
	if installInputsChanged(m, empty) {
		t.Error("changing only the pods' placement must not run an upgrade")
	}
	changed := m
	changed.Values = types.DynamicValue(types.StringValue("a: 1"))
	if !installInputsChanged(changed, empty) {
		t.Error("values are an install input")
	}
}

// An upgrade Helm 4's server-side apply stopped at another field manager's fields: the
// diagnostic leads with what to do (take_ownership, or set them back), then helm's line.
func TestAddInstallError_FieldConflictAdvice(t *testing.T) {
	var diags diag.Diagnostics
	line := `Error: UPGRADE FAILED: Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas`
	err := &kube.InstallFailedError{Action: kube.ActionInstall, Pod: "install-app", Namespace: kube.DefaultInstallNamespace,
		ExitCode: 1, Reason: "Error", HelmError: line, PodKept: true, LogsCommand: "kubectl logs -n clusterkit-managed-apps install-app"}
	addInstallError(context.Background(), &diags, "Upgrading managed app failed", err)
	if len(diags) != 1 || !strings.HasPrefix(diags[0].Detail(), fieldConflictAdvice+"\n\n") || !strings.Contains(diags[0].Detail(), "helm said:\n\n  "+line) {
		t.Fatalf("diagnostics %v", diags)
	}
	if strings.Count(diags[0].Detail(), "take_ownership") != 1 {
		t.Errorf("the advice is not given once: %s", diags[0].Detail())
	}
}
