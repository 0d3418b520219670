package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/list"
	listschema "github.com/hashicorp/terraform-plugin-framework/list/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"sigs.k8s.io/yaml"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

var (
	_ list.ListResource                   = (*managedAppList)(nil)
	_ list.ListResourceWithConfigure      = (*managedAppList)(nil)
	_ list.ListResourceWithValidateConfig = (*managedAppList)(nil)
)

// managedAppList lists the helm releases of a cluster (`terraform query`), clusterkit's
// and anyone else's, so that `-generate-config-out` writes the import blocks (by identity)
// and managed_app blocks that adopt them: the first apply after such an import reads
// helm's record and, when chart, version and values match, runs no pod (adoptImported).
func newManagedAppList() list.ListResource { return &managedAppList{} }

type managedAppList struct {
	data *providerData
}

type managedAppListModel struct {
	Connection types.Object `tfsdk:"cluster_connection"`
	Namespaces types.List   `tfsdk:"namespaces"`
}

func (l *managedAppList) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_managed_app"
}

func (l *managedAppList) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	d, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	if d != nil {
		l.data = d
	}
}

func (l *managedAppList) ListResourceConfigSchema(_ context.Context, _ list.ListResourceSchemaRequest, resp *list.ListResourceSchemaResponse) {
	resp.Schema = listschema.Schema{
		MarkdownDescription: "Every helm release of a cluster, whoever installed it (clusterkit, helm by hand, a CI job), as " +
			"`clusterkit_managed_app` instances: identity (`host`, `namespace`, `name`), a display name with chart, version and " +
			"status, and with `include_resource` the attributes from helm's record, so `terraform query -generate-config-out` " +
			"writes the blocks that adopt them (the first apply after the import runs no install pod when chart, version and " +
			"values match). Releases uninstalled with kept history are left out. Nothing secret is returned: the result's " +
			"`cluster_connection` has no `token` and no `eks.external_id`, and helm's record does not say which repository a " +
			"chart came from, so `chart.repository` is null unless the chart is a catalog entry's.",
		Attributes: map[string]listschema.Attribute{
			"cluster_connection": listConnectionAttribute(),
			"namespaces": listschema.ListAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Namespaces to look in. Default: every namespace, which needs the right to list Secrets " +
					"cluster-wide; with namespaces, listing Secrets in each of them is enough.",
				Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(dns1123Label())},
			},
		},
	}
}

// listConnectionAttribute is managed_app's cluster_connection as a list block takes it.
// List schemas cannot mark an attribute sensitive: pass the token from a sensitive
// variable or another resource's output (the CLI keeps their marks), never as a literal.
func listConnectionAttribute() listschema.SingleNestedAttribute {
	str := func(d string) listschema.StringAttribute {
		return listschema.StringAttribute{Optional: true, MarkdownDescription: d}
	}
	return listschema.SingleNestedAttribute{
		Required: true,
		MarkdownDescription: "How to reach the cluster, as `clusterkit_managed_app` takes it: " +
			"`clusterkit_cluster_integration.<name>.cluster_connection`, `clusterkit_eks_cluster.<name>.cluster_connection`, " +
			"or an object with `host`, `cluster_ca_certificate` and `token`. The credential needs to list Secrets (helm's " +
			"release records) in the namespaces listed.",
		Attributes: map[string]listschema.Attribute{
			"host":                   str("API server URL; also the `host` of every identity listed."),
			"cluster_ca_certificate": str("PEM CA bundle of the API server."),
			"token":                  str("Bearer token (pass a sensitive variable or an output: list schemas cannot mark it sensitive). Either `token` or `eks`."),
			"eks": listschema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "On the EKS path: how the provider mints short-lived EKS tokens.",
				Attributes: map[string]listschema.Attribute{
					"region":       str("AWS region of the cluster."),
					"cluster_name": str("EKS cluster name."),
					"role_arn":     str("Role assumed to mint tokens."),
					"external_id":  str("External ID for the role."),
					"session_name": str("Session name used when assuming the role."),
				},
			},
		},
	}
}

func (l *managedAppList) ValidateListResourceConfig(ctx context.Context, req list.ValidateConfigRequest, resp *list.ValidateConfigResponse) {
	var m managedAppListModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !known(m.Connection) {
		return
	}
	var c connectionModel
	resp.Diagnostics.Append(m.Connection.As(ctx, &c, basetypes.ObjectAsOptions{})...)
	if resp.Diagnostics.HasError() {
		return
	}
	if c.Host.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("cluster_connection").AtName("host"), "Missing cluster_connection.host",
			"Set host to the cluster's API server URL: it names the cluster in every identity listed.")
	}
	if c.Token.IsNull() && c.EKS.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("cluster_connection"), "Incomplete cluster_connection", "Either token or eks must be set.")
	}
}

func (l *managedAppList) List(ctx context.Context, req list.ListRequest, stream *list.ListResultsStream) {
	var m managedAppListModel
	var diags diag.Diagnostics
	diags.Append(req.Config.Get(ctx, &m)...)
	if diags.HasError() {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	var namespaces []string
	if !m.Namespaces.IsNull() {
		diags.Append(m.Namespaces.ElementsAs(ctx, &namespaces, false)...)
	}
	r := &managedAppResource{data: l.data}
	r.checkHost(ctx, m.Connection, &diags)
	if diags.HasError() {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	ctx = withInstallPodLogging(ctx, connectionSecrets(ctx, m.Connection)...)
	client, ok := r.client(ctx, m.Connection, &diags)
	if !ok {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	found, err := client.ListReleases(ctx, namespaces)
	if err != nil {
		addKubeError(ctx, &diags, "Listing helm releases failed", path.Root("cluster_connection").AtName("host"), err)
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	for _, u := range found.Unreadable {
		diags.AddWarning("Unreadable helm release record", u.Error()+"; that release is not listed.")
	}
	var c connectionModel
	diags.Append(m.Connection.As(ctx, &c, basetypes.ObjectAsOptions{})...)
	conn := publicConnection(ctx, c, &diags)
	stream.Results = func(push func(list.ListResult) bool) {
		if len(diags) > 0 && !push(list.ListResult{Diagnostics: diags}) {
			return
		}
		for i, rel := range found.Releases {
			if req.Limit > 0 && int64(i) >= req.Limit {
				return
			}
			res := req.NewListResult(ctx)
			res.DisplayName = releaseDisplayName(rel)
			res.Diagnostics.Append(res.Identity.Set(ctx, managedAppIdentity{
				Host: c.Host, Namespace: types.StringValue(rel.Namespace), Name: types.StringValue(rel.Name),
			})...)
			if req.IncludeResource {
				managedAppObject(ctx, rel, conn, res.Resource, &res.Diagnostics)
				if found.SensitiveValues[rel.Name] || found.SensitiveUnknown {
					// helm's record holds them merged into the values: none are listed.
					res.Diagnostics.Append(res.Resource.SetAttribute(ctx, path.Root("values"), types.DynamicNull())...)
					res.Diagnostics.AddWarning("Values not listed", sensitiveValuesNotice(rel, found.SensitiveUnknown))
				}
			}
			if !push(res) {
				return
			}
		}
	}
}

func sensitiveValuesNotice(rel *kube.Release, unknown bool) string {
	why := "clusterkit installed it with sensitive_values, which helm's record merges into its values"
	if unknown {
		why = "the install namespace " + kube.DefaultInstallNamespace + " could not be read to tell whether clusterkit installed it with sensitive_values, which helm's record merges into its values"
	}
	return fmt.Sprintf("Release %s/%s: %s, so values are null in this result. Set values and sensitive_values in the generated configuration; "+
		"until they match what helm runs, the apply after the import upgrades the release.", rel.Namespace, rel.Name, why)
}

// releaseDisplayName: "<namespace>/<name>: <chart> <version>, <status> (revision n)".
func releaseDisplayName(r *kube.Release) string {
	chart := strings.TrimSpace(r.ChartName + " " + r.ChartVersion)
	if chart == "" {
		chart = "unknown chart"
	}
	return fmt.Sprintf("%s/%s: %s, %s (revision %d)", r.Namespace, r.Name, chart, r.Status, r.Revision)
}

// publicConnection is the listed connection without its secrets (token, external ID),
// as the results' cluster_connection.
func publicConnection(ctx context.Context, c connectionModel, diags *diag.Diagnostics) types.Object {
	eks := types.ObjectNull(eksConnectionAttrTypes)
	if known(c.EKS) {
		var e eksConnectionModel
		diags.Append(c.EKS.As(ctx, &e, basetypes.ObjectAsOptions{})...)
		v, d := types.ObjectValue(eksConnectionAttrTypes, map[string]attr.Value{
			"region": e.Region, "cluster_name": e.ClusterName, "role_arn": e.RoleARN,
			"external_id": types.StringNull(), "session_name": e.SessionName,
		})
		diags.Append(d...)
		eks = v
	}
	v, d := types.ObjectValue(connectionAttrTypes, map[string]attr.Value{
		"host": c.Host, "cluster_ca_certificate": c.ClusterCACertificate, "token": types.StringNull(), "eks": eks,
	})
	diags.Append(d...)
	return v
}

var chartAttrTypes = map[string]attr.Type{"repository": types.StringType, "name": types.StringType, "version": types.StringType}

// managedAppObject fills res with what a configuration that adopts rel sets: a catalog
// entry when rel runs its chart with its default values among the values (as clusterkit
// installs it), otherwise the chart by name and version; the values helm was given.
func managedAppObject(ctx context.Context, rel *kube.Release, conn types.Object, res *tfsdk.Resource, diags *diag.Diagnostics) {
	values := types.DynamicNull()
	valuesYAML := ""
	if js := strings.TrimSpace(string(rel.Values)); js != "" && js != "null" && js != "{}" {
		y, err := yaml.JSONToYAML(rel.Values)
		if err != nil {
			diags.AddWarning("Unreadable values in helm's record", fmt.Sprintf("Release %s/%s: its values are left out.", rel.Namespace, rel.Name))
		} else {
			valuesYAML = string(y)
			values = types.DynamicValue(types.StringValue(valuesYAML))
		}
	}
	set := map[string]attr.Value{
		"id":                 types.StringValue(rel.Namespace + "/" + rel.Name),
		"name":               types.StringValue(rel.Name),
		"namespace":          types.StringValue(rel.Namespace),
		"cluster_connection": conn,
		"status":             types.StringValue(string(rel.Status)),
		"revision":           types.Int64Value(int64(rel.Revision)),
		"chart_version":      stringOrNull(rel.ChartVersion),
		"app_version":        stringOrNull(rel.AppVersion),
		"values":             values,
	}
	if !rel.LastDeployed.IsZero() {
		set["installed_at"] = types.StringValue(rel.LastDeployed.UTC().Format(time.RFC3339))
	}
	if a, ok := catalogEntryOf(rel, valuesYAML); ok {
		set["app"] = types.StringValue(a.Name)
		if rel.ChartVersion != a.Version {
			set["version"] = types.StringValue(rel.ChartVersion)
		}
		if sameValues(a.DefaultValues, rel.Values) {
			set["values"] = types.DynamicNull() // the catalog's defaults and nothing else
		}
	} else {
		repo := types.StringNull() // helm's record does not say where the chart came from
		for _, name := range apps.Names() {
			if a, _ := apps.Lookup(name); a.Chart == rel.ChartName {
				repo = types.StringValue(a.Repository)
				break
			}
		}
		chart, d := types.ObjectValue(chartAttrTypes, map[string]attr.Value{
			"repository": repo, "name": stringOrNull(rel.ChartName), "version": stringOrNull(rel.ChartVersion),
		})
		diags.Append(d...)
		set["chart"] = chart
	}
	for name, v := range set {
		diags.Append(res.SetAttribute(ctx, path.Root(name), v)...)
	}
}

// catalogEntryOf is the catalog entry rel was installed from: its chart, with the entry's
// default values kept under the values helm was given (clusterkit passes them first).
func catalogEntryOf(rel *kube.Release, valuesYAML string) (apps.App, bool) {
	for _, name := range apps.Names() {
		a, _ := apps.Lookup(name)
		if a.Chart != rel.ChartName {
			continue
		}
		merged, err := mergeValues(a.DefaultValues, valuesYAML)
		if err == nil && sameValues(merged, rel.Values) {
			return a, true
		}
	}
	return apps.App{}, false
}

func stringOrNull(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}
