package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"sigs.k8s.io/yaml"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// Status values of a managed app besides helm's own release statuses (deployed, failed,
// pending-install, ...): statusFailed is also what the provider records when its install
// pod failed or timed out.
const (
	statusDeployed = string(kube.ReleaseDeployed)
	statusFailed   = string(kube.ReleaseFailed)
)

type managedAppModel struct {
	ID                      types.String   `tfsdk:"id"`
	Connection              types.Object   `tfsdk:"cluster_connection"`
	Name                    types.String   `tfsdk:"name"`
	App                     types.String   `tfsdk:"app"`
	Chart                   types.Object   `tfsdk:"chart"`
	Version                 types.String   `tfsdk:"version"`
	Namespace               types.String   `tfsdk:"namespace"`
	Values                  types.Dynamic  `tfsdk:"values"`
	SensitiveValues         types.String   `tfsdk:"sensitive_values"`
	SensitiveValuesVersion  types.String   `tfsdk:"sensitive_values_version"`
	RepositoryUsername      types.String   `tfsdk:"repository_username"`
	RepositoryPassword      types.String   `tfsdk:"repository_password"`
	RepositoryPasswordVer   types.String   `tfsdk:"repository_password_version"`
	RepositorySecret        types.Object   `tfsdk:"repository_credentials_secret"`
	RepositoryCACert        types.String   `tfsdk:"repository_ca_cert"`
	Verify                  types.Bool     `tfsdk:"verify"`
	Keyring                 types.String   `tfsdk:"keyring"`
	InstallerImage          types.String   `tfsdk:"installer_image"`
	InstallerClusterAdmin   types.Bool     `tfsdk:"installer_cluster_admin"`
	InstallerServiceAccount types.String   `tfsdk:"installer_service_account"`
	InstallerPodLabels      types.Map      `tfsdk:"installer_pod_labels"`
	InstallerPodAnnotations types.Map      `tfsdk:"installer_pod_annotations"`
	InstallerNodeSelector   types.Map      `tfsdk:"installer_node_selector"`
	InstallerTolerations    types.List     `tfsdk:"installer_tolerations"`
	InstallerAffinity       types.String   `tfsdk:"installer_affinity"`
	InstallerPriorityClass  types.String   `tfsdk:"installer_priority_class_name"`
	InstallerResources      types.Object   `tfsdk:"installer_resources"`
	InstallerPullSecrets    types.List     `tfsdk:"installer_image_pull_secrets"`
	KeepFailedPod           types.Bool     `tfsdk:"keep_failed_pod"`
	Wait                    types.Bool     `tfsdk:"wait"`
	WaitForJobs             types.Bool     `tfsdk:"wait_for_jobs"`
	Atomic                  types.Bool     `tfsdk:"atomic"`
	CleanupOnFail           types.Bool     `tfsdk:"cleanup_on_fail"`
	SkipCRDs                types.Bool     `tfsdk:"skip_crds"`
	MaxHistory              types.Int64    `tfsdk:"max_history"`
	TakeOwnership           types.Bool     `tfsdk:"take_ownership"`
	DependencyUpdate        types.Bool     `tfsdk:"dependency_update"`
	Timeouts                timeouts.Value `tfsdk:"timeouts"`
	Status                  types.String   `tfsdk:"status"`
	Revision                types.Int64    `tfsdk:"revision"`
	ChartVersion            types.String   `tfsdk:"chart_version"`
	AppVersion              types.String   `tfsdk:"app_version"`
	InstalledAt             types.String   `tfsdk:"installed_at"`
	Outputs                 types.Map      `tfsdk:"outputs"`
	ClusterIssuer           types.Object   `tfsdk:"cluster_issuer"`
}

type clusterIssuerModel struct {
	Email        types.String `tfsdk:"email"`
	Name         types.String `tfsdk:"name"`
	Server       types.String `tfsdk:"server"`
	IngressClass types.String `tfsdk:"ingress_class"`
}

// clusterIssuer renders the ClusterIssuer manifest; "" when none is configured.
func (m managedAppModel) clusterIssuer(ctx context.Context) (string, error) {
	if m.ClusterIssuer.IsNull() || m.ClusterIssuer.IsUnknown() {
		return "", nil
	}
	var ci clusterIssuerModel
	if d := m.ClusterIssuer.As(ctx, &ci, basetypes.ObjectAsOptions{}); d.HasError() {
		return "", fmt.Errorf("reading cluster_issuer failed")
	}
	return apps.CertManagerClusterIssuer(apps.ClusterIssuerOptions{
		Email: ci.Email.ValueString(), Name: ci.Name.ValueString(), Server: ci.Server.ValueString(), IngressClass: ci.IngressClass.ValueString(),
	})
}

// tolerationModel is one entry of installer_tolerations.
type tolerationModel struct {
	Key               types.String `tfsdk:"key"`
	Operator          types.String `tfsdk:"operator"`
	Value             types.String `tfsdk:"value"`
	Effect            types.String `tfsdk:"effect"`
	TolerationSeconds types.Int64  `tfsdk:"toleration_seconds"`
}

// resourcesModel is installer_resources.
type resourcesModel struct {
	Requests types.Map `tfsdk:"requests"`
	Limits   types.Map `tfsdk:"limits"`
}

// installerTolerations converts installer_tolerations; ok is false while any part of it
// is unknown.
func installerTolerations(ctx context.Context, l types.List) (out []kube.Toleration, ok bool) {
	if l.IsUnknown() {
		return nil, false
	}
	if l.IsNull() {
		return nil, true
	}
	var entries []types.Object
	if l.ElementsAs(ctx, &entries, false).HasError() {
		return nil, false
	}
	for _, e := range entries {
		var t tolerationModel
		if !known(e) || e.As(ctx, &t, basetypes.ObjectAsOptions{}).HasError() ||
			t.Key.IsUnknown() || t.Operator.IsUnknown() || t.Value.IsUnknown() || t.Effect.IsUnknown() || t.TolerationSeconds.IsUnknown() {
			return nil, false
		}
		kt := kube.Toleration{Key: t.Key.ValueString(), Operator: t.Operator.ValueString(), Value: t.Value.ValueString(), Effect: t.Effect.ValueString()}
		if !t.TolerationSeconds.IsNull() {
			kt.Seconds = t.TolerationSeconds.ValueInt64Pointer()
		}
		out = append(out, kt)
	}
	return out, true
}

// installerResources converts installer_resources; ok is false while any part of it is
// unknown.
func installerResources(ctx context.Context, o types.Object) (out kube.Resources, ok bool) {
	if o.IsUnknown() {
		return out, false
	}
	if o.IsNull() {
		return out, true
	}
	var r resourcesModel
	if o.As(ctx, &r, basetypes.ObjectAsOptions{}).HasError() {
		return out, false
	}
	for _, m := range []types.Map{r.Requests, r.Limits} {
		if m.IsUnknown() {
			return out, false
		}
		for _, e := range m.Elements() {
			if e.IsUnknown() {
				return out, false
			}
		}
	}
	return kube.Resources{Requests: stringMap(ctx, r.Requests), Limits: stringMap(ctx, r.Limits)}, true
}

// knownStringList is a list of strings (null: nil); ok is false while an element is unknown.
func knownStringList(ctx context.Context, l types.List) (out []string, ok bool) {
	if l.IsUnknown() {
		return nil, false
	}
	var elems []types.String
	if l.ElementsAs(ctx, &elems, false).HasError() {
		return nil, false
	}
	for _, e := range elems {
		if e.IsUnknown() {
			return nil, false
		}
		out = append(out, e.ValueString())
	}
	return out, true
}

// repositorySecretModel is repository_credentials_secret.
type repositorySecretModel struct {
	Name types.String `tfsdk:"name"`
}

// repositorySecretName is the name in repository_credentials_secret ("" when unset or
// unknown).
func (m managedAppModel) repositorySecretName(ctx context.Context) string {
	var rs repositorySecretModel
	if !known(m.RepositorySecret) || m.RepositorySecret.As(ctx, &rs, basetypes.ObjectAsOptions{}).HasError() {
		return ""
	}
	return rs.Name.ValueString()
}

type chartModel struct {
	Repository types.String `tfsdk:"repository"`
	Name       types.String `tfsdk:"name"`
	Version    types.String `tfsdk:"version"`
}

func known(v attr.Value) bool { return !v.IsNull() && !v.IsUnknown() }

// catalogApp is the catalog entry the model names, if any.
func (m managedAppModel) catalogApp() (apps.App, bool) {
	if !known(m.App) {
		return apps.App{}, false
	}
	return apps.Lookup(m.App.ValueString())
}

func (m managedAppModel) chart(ctx context.Context) (chartModel, bool) {
	var c chartModel
	if !known(m.Chart) {
		return c, false
	}
	if m.Chart.As(ctx, &c, basetypes.ObjectAsOptions{}).HasError() {
		return c, false
	}
	return c, true
}

// chartRef is the repository, chart and version to install; ok is false while any of
// them is unknown (or neither app nor chart is set).
func (m managedAppModel) chartRef(ctx context.Context) (repo, chart, version string, ok bool) {
	if a, found := m.catalogApp(); found {
		if m.Version.IsUnknown() {
			return "", "", "", false
		}
		version = a.Version
		if known(m.Version) && m.Version.ValueString() != "" {
			version = m.Version.ValueString()
		}
		return a.Repository, a.Chart, version, true
	}
	c, found := m.chart(ctx)
	if !found || !known(c.Repository) || !known(c.Name) || !known(c.Version) {
		return "", "", "", false
	}
	return c.Repository.ValueString(), c.Name.ValueString(), c.Version.ValueString(), true
}

// defaultReleaseNamespace is the release namespace when none is configured: the catalog
// app's, else one named after the release (never the shared install namespace, where an
// installer's rights would reach every app's values and credentials).
func defaultReleaseNamespace(app, name string) string {
	if a, ok := apps.Lookup(app); ok && a.Namespace != "" {
		return a.Namespace
	}
	return name
}

// catalogOutputs are the catalog app's outputs for this release: its object names follow
// the release name and the values (fullnameOverride). ok is false while either is
// unknown; a custom chart has none.
func (m managedAppModel) catalogOutputs() (out map[string]string, ok bool) {
	a, isApp := m.catalogApp()
	if !isApp {
		return nil, !m.App.IsUnknown()
	}
	docs, docsKnown, _ := valuesDocuments(m.Values)
	if !known(m.Name) || !docsKnown {
		return nil, false
	}
	var values map[string]any
	if merged, err := mergedValues(a.DefaultValues, valuesTexts(docs)); err == nil {
		_ = yaml.Unmarshal([]byte(merged), &values) // invalid values are refused by validation
	}
	return a.ResolveOutputs(m.Name.ValueString(), values), true
}

// endpointService is the catalog app's Service whose load balancer address becomes
// outputs["endpoint"]; "" when the app has none (or it is not known yet).
func (m managedAppModel) endpointService() string {
	out, _ := m.catalogOutputs()
	return out["service"]
}

// refreshOutputs sets outputs: the catalog facts plus, once the app's Service has a load
// balancer address, "endpoint".
func (m *managedAppModel) refreshOutputs(ctx context.Context, client *kube.Client) error {
	resolved, ok := m.catalogOutputs()
	out := outputsMap(resolved, ok)
	if svc := resolved["service"]; svc != "" {
		addr, err := client.FindLoadBalancerAddress(ctx, m.Namespace.ValueString(), svc)
		if err != nil {
			return err
		}
		if addr != "" {
			elems := out.Elements()
			elems["endpoint"] = types.StringValue(addr)
			out = types.MapValueMust(types.StringType, elems)
		}
	}
	m.Outputs = out
	return nil
}

// outputsValue lists the catalog app's outputs (an empty map for custom charts; unknown
// while the release name or values are).
func (m managedAppModel) outputsValue() types.Map {
	return outputsMap(m.catalogOutputs())
}

func outputsMap(resolved map[string]string, ok bool) types.Map {
	if !ok {
		return types.MapUnknown(types.StringType)
	}
	out := map[string]attr.Value{}
	for k, v := range resolved {
		out[k] = types.StringValue(v)
	}
	return types.MapValueMust(types.StringType, out)
}

// installerClusterAdminDefault: catalog entries say whether their chart needs
// cluster-admin; custom charts get the namespaced admin role unless configured.
func (m managedAppModel) installerClusterAdminDefault() bool {
	if !m.InstallerServiceAccount.IsNull() {
		return false // the user's own service account: the provider grants nothing
	}
	a, ok := m.catalogApp()
	return ok && a.NeedsClusterAdmin
}

// installTimeout is helm's --timeout for an operation allowed to take op: the pod's own
// deadline adds kube.InstallDeadlineMargin, which must fit in op too.
func installTimeout(op time.Duration) time.Duration {
	if op > 2*kube.InstallDeadlineMargin {
		return op - kube.InstallDeadlineMargin
	}
	if op/2 < time.Second {
		return time.Second
	}
	return op / 2
}

// repositoryUsernameRE: a user name helm can pass (basic auth splits at the first ':').
var repositoryUsernameRE = regexp.MustCompile(`^[^:\r\n\x00]+$`)

func checkRepositoryUsername(s string) error {
	if n := len(s); n < 1 || n > 256 {
		return fmt.Errorf("it is %d characters long", n)
	}
	if !repositoryUsernameRE.MatchString(s) {
		return errors.New("it contains ':', a line break or a NUL character")
	}
	return nil
}

// writeOnly are the write-only values of a configuration: only Create and Update see them.
type writeOnly struct {
	values             string // sensitive_values
	repositoryPassword string
}

// secrets lists what logs and diagnostics mask of them.
func (w writeOnly) secrets() []string {
	return append(sensitiveLeaves(w.values), w.repositoryPassword)
}

// spec builds the install spec; sensitive comes from the configuration (write-only).
// Fields that no longer resolve (an imported app, or a catalog entry since removed) get
// placeholders, which only an uninstall may use: it does not read the chart.
func (m managedAppModel) spec(ctx context.Context, sensitive writeOnly, op time.Duration) (kube.InstallSpec, error) {
	s := kube.InstallSpec{
		Name:             m.Name.ValueString(),
		ReleaseNamespace: m.Namespace.ValueString(),
		Image:            m.InstallerImage.ValueString(),
		ClusterAdmin:     m.InstallerClusterAdmin.ValueBool(),
		Timeout:          installTimeout(op),
		PodLabels:        stringMap(ctx, m.InstallerPodLabels),
		PodAnnotations:   stringMap(ctx, m.InstallerPodAnnotations),
		KeepFailedPod:    m.KeepFailedPod.IsNull() || m.KeepFailedPod.ValueBool(),
		SensitiveValues:  sensitive.values,

		RepositoryUsername: m.RepositoryUsername.ValueString(),
		RepositoryPassword: sensitive.repositoryPassword,
		RepositoryCA:       m.RepositoryCACert.ValueString(),
		Verify:             m.Verify.ValueBool(),
		Keyring:            m.Keyring.ValueString(),

		NodeSelector:      stringMap(ctx, m.InstallerNodeSelector),
		Affinity:          m.InstallerAffinity.ValueString(),
		PriorityClassName: m.InstallerPriorityClass.ValueString(),
	}
	s.RepositoryCredentialsSecret = m.repositorySecretName(ctx)
	s.Tolerations, _ = installerTolerations(ctx, m.InstallerTolerations)
	s.Resources, _ = installerResources(ctx, m.InstallerResources)
	s.ImagePullSecrets, _ = knownStringList(ctx, m.InstallerPullSecrets)
	if !m.InstallerServiceAccount.IsNull() {
		s.ServiceAccount, s.ExternalServiceAccount = m.InstallerServiceAccount.ValueString(), true
	}
	if m.InstallerClusterAdmin.IsNull() {
		s.ClusterAdmin = m.installerClusterAdminDefault()
	}
	s.Helm = m.helmOptions()
	docs, _, err := valuesDocuments(m.Values)
	if err != nil {
		return s, fmt.Errorf("values %w", err)
	}
	defaults := ""
	if a, ok := m.catalogApp(); ok {
		defaults = a.DefaultValues
		s.PreInstall, s.PostInstall, s.PreUninstall = a.PreInstall, a.PostInstall, a.PreUninstall
		s.UninstallOrder = a.UninstallOrder
	}
	if s.Values, s.MoreValues, err = splitValues(defaults, valuesTexts(docs)); err != nil {
		return s, err
	}
	issuer, err := m.clusterIssuer(ctx)
	if err != nil {
		return s, err
	}
	if issuer != "" {
		s.ExtraFiles = map[string]string{apps.ClusterIssuerFile: issuer}
	}
	repo, chart, version, ok := m.chartRef(ctx)
	if !ok {
		repo, chart, version = "oci://unknown.invalid", s.Name, "0.0.0"
	}
	s.Repository, s.Chart, s.Version = repo, chart, version
	return s.WithDefaults(), nil
}

// yamlMapping reports why s is not a YAML mapping of values, in the user's words: the
// parser's message for a syntax error (it quotes the document, so quote=false leaves it out
// for sensitive values), else what the document is instead of a mapping.
func yamlMapping(s string, quote bool) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var doc any
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		if quote {
			return fmt.Errorf("not valid YAML (%s)", strings.TrimPrefix(err.Error(), "error converting YAML to JSON: "))
		}
		return fmt.Errorf("not valid YAML")
	}
	switch doc.(type) {
	case map[string]any, nil:
		return nil
	case []any:
		return fmt.Errorf("a list, not a mapping of chart values")
	default:
		return fmt.Errorf("a single value, not a mapping of chart values")
	}
}

// sensitiveLeaves lists the scalar values of a YAML document, to mask them in logs.
func sensitiveLeaves(s string) []string {
	var doc any
	if strings.TrimSpace(s) == "" || yaml.Unmarshal([]byte(s), &doc) != nil {
		return nil
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, e := range t {
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		case nil, bool:
		default:
			if str := fmt.Sprint(t); len(str) >= 4 {
				out = append(out, str)
			}
		}
	}
	walk(doc)
	return append(out, s)
}

func checkCatalogApp(s string) error {
	if _, ok := apps.Lookup(s); !ok {
		return fmt.Errorf("%q is not in the catalog; valid names are: %s (or use a chart block for any other chart)", s, strings.Join(apps.Names(), ", "))
	}
	return nil
}

// checkChartRepository: the provider never installs from plain http.
func checkChartRepository(s string) error { return kube.CheckRepository(s, false) }

// setRelease records what helm's release record says.
func (m *managedAppModel) setRelease(r *kube.Release) {
	m.Status = types.StringValue(string(r.Status))
	m.Revision = types.Int64Value(int64(r.Revision))
	if r.ChartVersion != "" {
		m.ChartVersion = types.StringValue(r.ChartVersion)
	}
	m.AppVersion = types.StringNull()
	if r.AppVersion != "" {
		m.AppVersion = types.StringValue(r.AppVersion)
	}
	if !r.LastDeployed.IsZero() {
		m.InstalledAt = types.StringValue(r.LastDeployed.UTC().Format(time.RFC3339))
	}
}

// clearUnknown replaces what is still unknown after an apply with null, as state may
// hold no unknown values.
func (m *managedAppModel) clearUnknown() {
	if m.Revision.IsUnknown() {
		m.Revision = types.Int64Null()
	}
	if m.InstalledAt.IsUnknown() {
		m.InstalledAt = types.StringNull()
	}
	if m.Status.IsUnknown() {
		m.Status = types.StringNull()
	}
	if m.ChartVersion.IsUnknown() {
		m.ChartVersion = types.StringNull()
	}
	if m.AppVersion.IsUnknown() {
		m.AppVersion = types.StringNull()
	}
	if m.Outputs.IsUnknown() {
		m.Outputs = m.outputsValue()
	}
	if m.InstallerClusterAdmin.IsUnknown() {
		m.InstallerClusterAdmin = types.BoolValue(m.installerClusterAdminDefault())
	}
}

// installInputsChanged reports whether anything helm sees differs between plan and
// state (then an apply runs an install pod). The installer image is not among them: a new
// default image (a provider upgrade) or a mirror of the same helm changes no release; the
// next operation that runs a pod uses it. Nor is the pods' placement and policy
// (installer_node_selector, _tolerations, _affinity, _priority_class_name, _resources,
// _image_pull_secrets): where and with what the next pod runs changes nothing helm
// does, so changing them alone is an in-place update of state that runs no pod.
func installInputsChanged(plan, state managedAppModel) bool {
	pairs := [][2]attr.Value{
		{plan.App, state.App}, {plan.Chart, state.Chart}, {plan.Version, state.Version},
		{plan.Namespace, state.Namespace},
		{plan.SensitiveValuesVersion, state.SensitiveValuesVersion},
		{plan.RepositoryUsername, state.RepositoryUsername}, {plan.RepositoryPasswordVer, state.RepositoryPasswordVer},
		{plan.InstallerClusterAdmin, state.InstallerClusterAdmin},
		{plan.InstallerServiceAccount, state.InstallerServiceAccount},
		{plan.InstallerPodLabels, state.InstallerPodLabels}, {plan.InstallerPodAnnotations, state.InstallerPodAnnotations},
		{plan.ClusterIssuer, state.ClusterIssuer},
		// Where the credentials come from and what provenance the chart must have: a change
		// fetches the chart again with them (repository_ca_cert, like the image, only says
		// how the next pod reaches the same repository).
		{plan.RepositorySecret, state.RepositorySecret}, {plan.Keyring, state.Keyring},
	}
	for _, p := range pairs {
		if !p[0].Equal(p[1]) {
			return true
		}
	}
	if plan.Verify.ValueBool() != state.Verify.ValueBool() { // null is false
		return true
	}
	// Nor are helm's switches (wait, atomic, max_history, ...): they say how the next
	// operation runs, not what the release is. Values count as the documents helm gets.
	return valuesChanged(plan.Values, state.Values)
}

// needsRecovery: a release helm left failed, or pending for longer than an operation
// may take, is repaired by an upgrade. A young pending release is another run's
// operation in progress and is left alone.
func needsRecovery(state managedAppModel, timeout time.Duration, now time.Time) bool {
	switch st := kube.ReleaseStatus(state.Status.ValueString()); {
	case state.Status.IsNull() || st == kube.ReleaseDeployed:
		return false
	case st.Pending():
		at, err := time.Parse(time.RFC3339, state.InstalledAt.ValueString())
		return err != nil || now.Sub(at) > timeout
	default:
		return true
	}
}

// mapFuncValidator adapts a check of a whole string map to validator.Map; unknown
// elements are left out until known.
type mapFuncValidator struct {
	description string
	check       func(map[string]string) error
}

func (v mapFuncValidator) Description(context.Context) string         { return v.description }
func (v mapFuncValidator) MarkdownDescription(context.Context) string { return v.description }

func (v mapFuncValidator) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if !known(req.ConfigValue) {
		return
	}
	elems := map[string]types.String{}
	resp.Diagnostics.Append(req.ConfigValue.ElementsAs(ctx, &elems, false)...)
	m := map[string]string{}
	for k, e := range elems {
		if known(e) {
			m[k] = e.ValueString()
		}
	}
	if err := v.check(m); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(), fmt.Sprintf("%s %s: %s.", req.Path, v.description, err))
	}
}
