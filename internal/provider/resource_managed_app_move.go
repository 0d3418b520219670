package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// `moved { from = helm_release.x  to = clusterkit_managed_app.x }`: the state of
// hashicorp/helm's helm_release becomes a managed_app's, so a release helm_release installed
// is adopted as it is, without a reinstall. The source schema is read from the raw JSON, by
// name, so that every schema version helm_release has had is read by one mapping:
//
//   - version 0 (helm provider 1.x and early 2.x, SDKv2): no pass_credentials, wait_for_jobs;
//   - version 1 (2.x, SDKv2): metadata is a list of one object, set and set_sensitive sets;
//   - version 2 (3.x, plugin framework): metadata is an object, set a list, plus
//     take_ownership, set_wo (write-only, never in state), timeouts, resources.
//
// helm_release keeps no cluster connection (the helm provider's block has it), so the moved
// state has none, as an imported one: the first apply records the configuration's. What
// clusterkit cannot express is not guessed: a warning names it (see the migration guide).

var _ resource.ResourceWithMoveState = (*managedAppResource)(nil)

// helmReleaseSources are the provider addresses helm_release moves from: the Terraform
// registry's and the OpenTofu registry's (OpenTofu names hashicorp/helm so).
var helmReleaseSources = []string{"registry.terraform.io/hashicorp/helm", "registry.opentofu.org/hashicorp/helm"}

// helmReleaseMaxSchemaVersion is the newest helm_release schema version the mapping knows.
const helmReleaseMaxSchemaVersion = 2

// helmReleaseDefaultTimeout is helm_release's default timeout, in seconds.
const helmReleaseDefaultTimeout = 300

func (r *managedAppResource) MoveState(context.Context) []resource.StateMover {
	return []resource.StateMover{{StateMover: moveFromHelmRelease}}
}

// moveFromHelmRelease handles helm_release of hashicorp/helm and leaves every other source
// alone (the framework then says that this source is not supported).
func moveFromHelmRelease(ctx context.Context, req resource.MoveStateRequest, resp *resource.MoveStateResponse) {
	if req.SourceTypeName != "helm_release" || !slices.Contains(helmReleaseSources, strings.ToLower(req.SourceProviderAddress)) {
		return
	}
	const summary = "Cannot move helm_release to clusterkit_managed_app"
	if req.SourceSchemaVersion < 0 || req.SourceSchemaVersion > helmReleaseMaxSchemaVersion {
		resp.Diagnostics.AddError(summary, fmt.Sprintf("The helm_release state has schema version %d; this provider knows versions 0 to %d "+
			"(hashicorp/helm 1.x to 3.x). A newer hashicorp/helm may have changed what its state means: upgrade clusterkit, or remove "+
			"the helm_release from state (`terraform state rm`) and import the release into clusterkit_managed_app instead.",
			req.SourceSchemaVersion, helmReleaseMaxSchemaVersion))
		return
	}
	if req.SourceRawState == nil || len(req.SourceRawState.JSON) == 0 {
		resp.Diagnostics.AddError(summary, "The helm_release state has no JSON data (a state in the legacy flatmap format cannot be moved; "+
			"run a plan with hashicorp/helm first so that it rewrites its state).")
		return
	}
	src, err := parseHelmRelease(req.SourceRawState.JSON, req.SourceSchemaVersion)
	if err != nil {
		resp.Diagnostics.AddError(summary, fmt.Sprintf("The helm_release state (schema version %d) is malformed: %s.", req.SourceSchemaVersion, err))
		return
	}
	m, warnings, err := src.managedApp()
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	for _, w := range warnings {
		resp.Diagnostics.AddWarning(w.summary, w.detail)
	}
	resp.Diagnostics.Append(setMovedState(ctx, &resp.TargetState, m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if src.revision > 0 {
		// helm_release read this release's record: a record found missing later means
		// the release was removed (Read then plans to install it again).
		resp.Diagnostics.Append(resp.TargetPrivate.SetKey(ctx, privateReleaseKey, []byte(`{"seen":true}`))...)
	}
}

// helmRelease is what the move reads of a helm_release state.
type helmRelease struct {
	version                 int64
	id, name, namespace     string
	chart, repository       string
	chartVersion            string // version (the chart version asked for, computed when unset)
	values                  []string
	setNames, sensitiveSets []string
	setListNames            []string
	repositoryUsername      string
	repositoryPassword      bool
	timeout                 int64
	wait, waitForJobs       bool
	atomic, cleanupOnFail   bool
	skipCRDs, dependencyUpd bool
	takeOwnership           bool
	maxHistory              int64
	status                  string
	// verify, and the files on the runner helm_release read: the keyring (a GnuPG keyring
	// file, helm's default ~/.gnupg/pubring.gpg when empty) and repository_ca_file
	verify                  bool
	keyringPath, caFilePath string
	// from metadata, helm's release record as last read
	revision     int64
	metaVersion  string
	appVersion   string
	lastDeployed int64
	// settings clusterkit has no equivalent of, with a value other than helm_release's default
	unmapped []string
}

// hrFields reads attributes of a helm_release state by name; a missing or null attribute
// is its zero value (or the given default), a value of another type an error naming it.
type hrFields map[string]json.RawMessage

func (f hrFields) present(name string) bool {
	raw, ok := f[name]
	return ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func (f hrFields) decode(name string, into any, what string) error {
	if !f.present(name) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(f[name]))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("%s is not %s", name, what)
	}
	return nil
}

func (f hrFields) str(name string) (string, error) {
	var s string
	return s, f.decode(name, &s, "a string")
}

func (f hrFields) boolean(name string, def bool) (bool, error) {
	if !f.present(name) {
		return def, nil
	}
	var b bool
	return b, f.decode(name, &b, "a boolean")
}

func (f hrFields) integer(name string, def int64) (int64, error) {
	if !f.present(name) {
		return def, nil
	}
	var n json.Number
	if err := f.decode(name, &n, "a number"); err != nil {
		return 0, err
	}
	i, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf("%s is not a whole number (%s)", name, n)
	}
	return i, nil
}

// names lists the name of each entry of a list (or set) of objects such as set.
func (f hrFields) names(name string) ([]string, error) {
	var entries []hrFields
	if err := f.decode(name, &entries, "a list of objects"); err != nil {
		return nil, err
	}
	var out []string
	for i, e := range entries {
		n, err := e.str("name")
		if err != nil || n == "" {
			return nil, fmt.Errorf("%s[%d] has no name", name, i)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseHelmRelease reads the JSON of a helm_release state of the given schema version.
func parseHelmRelease(raw []byte, version int64) (*helmRelease, error) {
	var f hrFields
	if err := json.Unmarshal(raw, &f); err != nil || f == nil {
		return nil, fmt.Errorf("it is not a JSON object")
	}
	h := &helmRelease{version: version}
	var errs []string
	note := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	var err error
	for name, into := range map[string]*string{
		"id": &h.id, "name": &h.name, "namespace": &h.namespace, "chart": &h.chart, "repository": &h.repository,
		"version": &h.chartVersion, "repository_username": &h.repositoryUsername, "status": &h.status,
		"keyring": &h.keyringPath, "repository_ca_file": &h.caFilePath,
	} {
		*into, err = f.str(name)
		note(err)
	}
	for name, v := range map[string]string{"name": h.name, "chart": h.chart} {
		if _, err := f.str(name); err == nil && v == "" {
			errs = append(errs, name+" is missing")
		}
	}
	if h.namespace == "" {
		h.namespace = "default" // helm_release's own default (HELM_NAMESPACE aside)
	}
	var values []*string
	note(f.decode("values", &values, "a list of strings"))
	for _, v := range values {
		if v != nil { // helm_release skips null documents too
			h.values = append(h.values, *v)
		}
	}
	h.setNames, err = f.names("set")
	note(err)
	h.setListNames, err = f.names("set_list")
	note(err)
	h.sensitiveSets, err = f.names("set_sensitive")
	note(err)
	password, err := f.str("repository_password")
	note(err)
	h.repositoryPassword = password != ""

	// helm_release's defaults, which also stand for attributes an older version lacked.
	for name, b := range map[string]struct {
		into *bool
		def  bool
	}{
		"wait": {&h.wait, true}, "wait_for_jobs": {&h.waitForJobs, false}, "atomic": {&h.atomic, false},
		"cleanup_on_fail": {&h.cleanupOnFail, false}, "skip_crds": {&h.skipCRDs, false},
		"dependency_update": {&h.dependencyUpd, false}, "take_ownership": {&h.takeOwnership, false},
		"verify": {&h.verify, false},
	} {
		*b.into, err = f.boolean(name, b.def)
		note(err)
	}
	h.timeout, err = f.integer("timeout", helmReleaseDefaultTimeout)
	note(err)
	h.maxHistory, err = f.integer("max_history", 0)
	note(err)
	if h.maxHistory < 0 {
		errs = append(errs, fmt.Sprintf("max_history is negative (%d)", h.maxHistory))
	}
	note(h.readMetadata(f))
	h.unmapped, err = unmappedSettings(f)
	note(err)
	if len(errs) > 0 {
		slices.Sort(errs)
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return h, nil
}

// readMetadata reads helm's release record as helm_release last saw it: a list of one
// object in schema versions 0 and 1, an object in version 2; null before a first read.
func (h *helmRelease) readMetadata(f hrFields) error {
	if !f.present("metadata") {
		return nil
	}
	var meta hrFields
	if h.version < 2 {
		var list []hrFields
		if err := f.decode("metadata", &list, "a list of one object (schema versions 0 and 1)"); err != nil {
			return err
		}
		if len(list) > 1 {
			return fmt.Errorf("metadata has %d entries, not one", len(list))
		}
		if len(list) == 0 {
			return nil
		}
		meta = list[0]
	} else if err := f.decode("metadata", &meta, "an object (schema version 2)"); err != nil {
		return err
	}
	var errs []string
	var err error
	if h.revision, err = meta.integer("revision", 0); err != nil {
		errs = append(errs, "metadata."+err.Error())
	}
	if h.lastDeployed, err = meta.integer("last_deployed", 0); err != nil {
		errs = append(errs, "metadata."+err.Error())
	}
	if h.metaVersion, err = meta.str("version"); err != nil {
		errs = append(errs, "metadata."+err.Error())
	}
	if h.appVersion, err = meta.str("app_version"); err != nil {
		errs = append(errs, "metadata."+err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// unmappedSettings lists helm_release's settings that clusterkit has no equivalent of and
// that are set to something other than helm_release's default.
func unmappedSettings(f hrFields) ([]string, error) {
	var out []string
	for _, name := range []string{"devel", "reuse_values", "reset_values", "force_update", "recreate_pods",
		"disable_webhooks", "disable_crd_hooks", "disable_openapi_validation", "replace", "pass_credentials"} {
		b, err := f.boolean(name, false)
		if err != nil {
			return nil, err
		}
		if b {
			out = append(out, name+" = true")
		}
	}
	if b, err := f.boolean("render_subchart_notes", true); err != nil {
		return nil, err
	} else if !b {
		out = append(out, "render_subchart_notes = false")
	}
	// repository_ca_file has an equivalent, which takes the file's content (see runnerFiles).
	for _, name := range []string{"repository_cert_file", "repository_key_file"} {
		if s, err := f.str(name); err != nil {
			return nil, err
		} else if s != "" {
			out = append(out, name)
		}
	}
	// postrender: a list of at most one object (versions 0 and 1) or an object (version 2,
	// which the upgrade from version 1 fills with an empty binary_path).
	var pr any
	if err := f.decode("postrender", &pr, "a postrender block"); err != nil {
		return nil, err
	}
	if l, ok := pr.([]any); ok && len(l) > 0 {
		pr = l[0]
	}
	if obj, ok := pr.(map[string]any); ok {
		if bin, _ := obj["binary_path"].(string); bin != "" {
			out = append(out, "postrender")
		}
	}
	if f.present("set_wo_revision") {
		out = append(out, "set_wo (write-only: its values are not in state)")
	}
	return out, nil
}

type moveWarning struct{ summary, detail string }

// movedApp is the managed_app state a helm_release moves to.
type movedApp struct {
	id, name, namespace        string
	chart                      *chartRefValues
	values                     []string
	repositoryUsername         string
	timeout                    string // "" keeps the default
	wait, waitForJobs          bool
	atomic, cleanupOnFail      bool
	skipCRDs, dependencyUpdate bool
	takeOwnership, verify      bool
	maxHistory                 int64
	status, chartVersion       string
	appVersion, installedAt    string
	revision                   int64
}

type chartRefValues struct{ repository, name, version string }

// managedApp maps the helm_release to a managed_app and says what it could not map.
func (h *helmRelease) managedApp() (movedApp, []moveWarning, error) {
	if err := kube.CheckReleaseName(h.name); err != nil {
		return movedApp{}, nil, fmt.Errorf("helm_release name: %w; clusterkit_managed_app cannot hold this release", err)
	}
	if err := kube.CheckReleaseNamespace(h.namespace); err != nil {
		return movedApp{}, nil, fmt.Errorf("helm_release namespace: %w; clusterkit_managed_app cannot hold this release", err)
	}
	m := movedApp{
		id: h.namespace + "/" + h.name, name: h.name, namespace: h.namespace, values: h.values,
		repositoryUsername: h.repositoryUsername,
		wait:               h.wait, waitForJobs: h.waitForJobs, atomic: h.atomic, cleanupOnFail: h.cleanupOnFail,
		skipCRDs: h.skipCRDs, dependencyUpdate: h.dependencyUpd, takeOwnership: h.takeOwnership, maxHistory: h.maxHistory,
		status: h.status, revision: h.revision, appVersion: h.appVersion, verify: h.verify,
	}
	m.chartVersion = h.metaVersion
	if m.chartVersion == "" {
		m.chartVersion = h.chartVersion
	}
	if h.lastDeployed > 0 {
		m.installedAt = time.Unix(h.lastDeployed, 0).UTC().Format(time.RFC3339)
	}
	var warnings []moveWarning
	if h.timeout > 0 && time.Duration(h.timeout)*time.Second > installTimeout(managedAppDefaultTimeout) {
		// helm's --timeout is the operation's timeout less a margin: keep at least what
		// helm_release gave helm. A shorter one is within the default (20m, helm 18m).
		m.timeout = formatMinutes(time.Duration(h.timeout)*time.Second + kube.InstallDeadlineMargin)
	}

	version := h.chartVersion
	if version == "" {
		version = h.metaVersion
	}
	repo, chart, why := chartReference(h.repository, h.chart)
	switch {
	case why == "" && version == "":
		why = "the state holds no chart version (neither version nor metadata.version)"
	case why == "" && kube.CheckChartVersion(version) != nil:
		why = fmt.Sprintf("version %q is not a pinned chart version", version)
	}
	if why == "" {
		m.chart = &chartRefValues{repository: repo, name: chart, version: version}
		if strings.HasPrefix(repo, "http://") {
			warnings = append(warnings, moveWarning{"helm_release repository uses plain http",
				fmt.Sprintf("The release's chart came from %s; clusterkit installs only from https:// or oci:// repositories (or a mirror in the provider's "+
					"chart_repository_mirrors). Set chart.repository to one: the next apply then upgrades the release from there.", repo)})
		}
	} else {
		warnings = append(warnings, moveWarning{"helm_release chart not moved",
			fmt.Sprintf("The chart of helm_release (chart %q, repository %q) is not moved: %s. clusterkit installs a chart by repository "+
				"(https:// or oci://), name and pinned version: set chart = { repository, name, version } in the configuration; the next apply "+
				"upgrades the release from that chart.", h.chart, h.repository, why)})
	}

	var notMoved []string
	if len(h.setNames) > 0 {
		notMoved = append(notMoved, "set ("+strings.Join(h.setNames, ", ")+"): write them into a values document, e.g. yamlencode({ ... }) as the last element of values")
	}
	if len(h.setListNames) > 0 {
		notMoved = append(notMoved, "set_list ("+strings.Join(h.setListNames, ", ")+"): write them into a values document")
	}
	if len(h.sensitiveSets) > 0 {
		notMoved = append(notMoved, "set_sensitive ("+strings.Join(h.sensitiveSets, ", ")+"): write them into sensitive_values (write-only) and set sensitive_values_version")
	}
	if h.repositoryPassword {
		notMoved = append(notMoved, "repository_password: set repository_password (write-only) and repository_password_version")
	}
	if len(notMoved) > 0 {
		warnings = append(warnings, moveWarning{"helm_release values not moved",
			"clusterkit has no set, set_list or set_sensitive, and keeps no secret in state, so these are not in the moved state:\n\n  - " +
				strings.Join(notMoved, "\n  - ") + "\n\nhelm gets only what the configuration gives on the next upgrade (it does not reuse a " +
				"release's values): leave none out. The next plan shows the change and the apply upgrades the release with them."})
	}
	warnings = append(warnings, h.runnerFiles()...)
	if len(h.unmapped) > 0 {
		warnings = append(warnings, moveWarning{"helm_release settings without an equivalent",
			"clusterkit_managed_app has no equivalent of these helm_release settings, so the next install or upgrade runs without them: " +
				strings.Join(h.unmapped, ", ") + "."})
	}
	return m, warnings, nil
}

// runnerFiles: helm_release read its keyring (with verify) and repository_ca_file from
// files on the machine that ran Terraform; clusterkit's install pods run in the cluster
// and take the content instead, which the state never had. The configuration must give
// it: verify = true without keyring is refused at plan time, and without the CA helm
// does not trust the repository.
func (h *helmRelease) runnerFiles() []moveWarning {
	var out []moveWarning
	if h.verify {
		ring := h.keyringPath
		if ring == "" {
			ring = "~/.gnupg/pubring.gpg" // helm's default
		}
		out = append(out, moveWarning{"helm_release keyring not moved",
			fmt.Sprintf("verify = true is moved, but helm_release's keyring is a file on the machine that ran Terraform (%s), which the install "+
				"pods in the cluster cannot read. Set keyring to the signers' public keys, ASCII-armored, e.g. keyring = file(\"chart-signers.asc\") "+
				"after `gpg --no-default-keyring --keyring %s --export --armor > chart-signers.asc`: verify = true without keyring is refused at plan time.",
				ring, ring)})
	}
	if h.caFilePath != "" {
		out = append(out, moveWarning{"helm_release repository_ca_file not moved",
			fmt.Sprintf("helm_release trusted the repository's CA from the file %s on the machine that ran Terraform, which the install pods "+
				"in the cluster cannot read. Set repository_ca_cert to the certificate itself (PEM), e.g. repository_ca_cert = file(%q); "+
				"without it helm in the install pod does not trust the repository.", h.caFilePath, h.caFilePath)})
	}
	return out
}

// chartReference splits helm_release's chart and repository into clusterkit's repository
// and chart name; why says why it cannot when it cannot.
func chartReference(repository, chart string) (repo, name, why string) {
	switch {
	case repository == "" && strings.HasPrefix(chart, "oci://"):
		i := strings.LastIndex(chart, "/")
		repo, name = chart[:i], chart[i+1:]
	case repository == "":
		return "", "", "without a repository it is a local path, a chart archive URL or a chart of a repository added with `helm repo add`, which clusterkit cannot install"
	default:
		repo, name = strings.TrimRight(repository, "/"), chart
	}
	if err := kube.CheckRepository(repo, true); err != nil {
		return "", "", "the repository: " + err.Error()
	}
	if err := kube.CheckChartName(name); err != nil {
		return "", "", "the chart: " + err.Error()
	}
	return repo, name, ""
}

// formatMinutes writes d as a Terraform duration string: "27m", or "1625s".
func formatMinutes(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", int64(d/time.Minute))
	}
	return fmt.Sprintf("%ds", int64(d/time.Second))
}

// setMovedState writes m into the managed_app state; what helm_release has no notion of
// gets the values a fresh managed_app with that configuration would plan.
func setMovedState(ctx context.Context, st interface {
	SetAttribute(context.Context, path.Path, any) diag.Diagnostics
}, m movedApp) diag.Diagnostics {
	var diags diag.Diagnostics
	set := func(name string, v any) { diags.Append(st.SetAttribute(ctx, path.Root(name), v)...) }
	set("id", m.id)
	set("name", m.name)
	set("namespace", m.namespace)
	if m.chart != nil {
		set("chart", types.ObjectValueMust(
			map[string]attr.Type{"repository": types.StringType, "name": types.StringType, "version": types.StringType},
			map[string]attr.Value{"repository": types.StringValue(m.chart.repository), "name": types.StringValue(m.chart.name), "version": types.StringValue(m.chart.version)}))
	}
	if len(m.values) > 0 {
		// A tuple, as the configuration's `values = [...]` is: the same documents plan no change.
		elemTypes := make([]attr.Type, len(m.values))
		elems := make([]attr.Value, len(m.values))
		for i, v := range m.values {
			elemTypes[i], elems[i] = types.StringType, types.StringValue(v)
		}
		set("values", types.DynamicValue(types.TupleValueMust(elemTypes, elems)))
	}
	if m.repositoryUsername != "" {
		set("repository_username", m.repositoryUsername)
	}
	set("installer_image", kube.DefaultInstallerImage)
	set("installer_cluster_admin", false) // a custom chart's default
	set("keep_failed_pod", true)
	set("wait", m.wait)
	set("wait_for_jobs", m.waitForJobs)
	set("atomic", m.atomic)
	set("cleanup_on_fail", m.cleanupOnFail)
	set("skip_crds", m.skipCRDs)
	set("dependency_update", m.dependencyUpdate)
	set("take_ownership", m.takeOwnership)
	if m.verify { // else null, as in a configuration that leaves it out
		set("verify", true)
	}
	set("max_history", m.maxHistory)
	if m.timeout != "" {
		t := types.StringValue(m.timeout)
		set("timeouts", types.ObjectValueMust(map[string]attr.Type{"create": types.StringType, "update": types.StringType, "delete": types.StringType},
			map[string]attr.Value{"create": t, "update": t, "delete": t}))
	}
	optional := func(name, v string) {
		if v != "" {
			set(name, v)
		}
	}
	optional("status", m.status)
	optional("chart_version", m.chartVersion)
	optional("app_version", m.appVersion)
	optional("installed_at", m.installedAt)
	if m.revision > 0 {
		set("revision", m.revision)
	}
	set("outputs", types.MapValueMust(types.StringType, map[string]attr.Value{})) // a custom chart has none
	return diags
}
