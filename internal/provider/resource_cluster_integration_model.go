package provider

import (
	"context"
	"maps"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

type clusterIntegrationModel struct {
	ID                      types.String   `tfsdk:"id"`
	Host                    types.String   `tfsdk:"host"`
	ClusterCACertificate    types.String   `tfsdk:"cluster_ca_certificate"`
	Token                   types.String   `tfsdk:"token"`
	AuthorizationType       types.String   `tfsdk:"authorization_type"`
	ServiceAccountName      types.String   `tfsdk:"service_account_name"`
	ServiceAccountNamespace types.String   `tfsdk:"service_account_namespace"`
	Namespaces              types.Map      `tfsdk:"namespaces"`
	Connection              types.Object   `tfsdk:"cluster_connection"`
	Timeouts                timeouts.Value `tfsdk:"timeouts"`

	connectionFromConfig bool
}

type namespaceModel struct {
	Role               types.String `tfsdk:"role"`
	Labels             types.Map    `tfsdk:"labels"`
	ServiceAccountName types.String `tfsdk:"service_account_name"`
}

var (
	namespaceAttrTypes = map[string]attr.Type{
		"role":                 types.StringType,
		"labels":               types.MapType{ElemType: types.StringType},
		"service_account_name": types.StringType,
	}
)

// owner is the value of the owner annotation on everything this integration creates. It
// does not include the host, so an integration re-registered under another URL of the
// same cluster still recognises its objects.
func (m clusterIntegrationModel) owner() string {
	return "cluster_integration/" + m.ServiceAccountNamespace.ValueString() + "/" + m.ServiceAccountName.ValueString()
}

func (m clusterIntegrationModel) identity() kube.IntegrationIdentity {
	return kube.IntegrationIdentity{
		Owner:     m.owner(),
		Namespace: m.ServiceAccountNamespace.ValueString(),
		Name:      m.ServiceAccountName.ValueString(),
		RBAC:      m.AuthorizationType.ValueString() != "abac",
	}
}

func (m clusterIntegrationModel) connection() kube.Connection {
	return kube.Connection{
		Host:  m.Host.ValueString(),
		CAPEM: []byte(m.ClusterCACertificate.ValueString()),
		Token: m.Token.ValueString(),
	}
}

// fillComputed derives id, connection and each namespace's service account name, which
// depend only on configuration, so plans show them known.
func (m *clusterIntegrationModel) fillComputed(ctx context.Context, diags *diag.Diagnostics) {
	known := func(v types.String) bool { return !v.IsUnknown() && !v.IsNull() }
	if known(m.Host) && known(m.ServiceAccountName) && known(m.ServiceAccountNamespace) {
		m.ID = types.StringValue(m.importID())
	} else if m.Host.IsUnknown() {
		m.ID = types.StringUnknown()
	}
	switch {
	case m.connectionFromConfig || m.usesEKS(ctx):
		// passed in: exported as it came
	case m.Host.IsUnknown() || m.ClusterCACertificate.IsUnknown() || m.Token.IsUnknown():
		m.Connection = types.ObjectUnknown(connectionAttrTypes)
	default:
		obj, d := types.ObjectValue(connectionAttrTypes, map[string]attr.Value{
			"host":                   m.Host,
			"cluster_ca_certificate": m.ClusterCACertificate,
			"token":                  m.Token,
			"eks":                    types.ObjectNull(eksConnectionAttrTypes),
		})
		diags.Append(d...)
		m.Connection = obj
	}
	if m.Namespaces.IsUnknown() || m.Namespaces.IsNull() {
		return
	}
	m.setNamespaces(ctx, m.namespaces(ctx, diags), diags)
}

func (m clusterIntegrationModel) namespaces(ctx context.Context, diags *diag.Diagnostics) map[string]namespaceModel {
	out := map[string]namespaceModel{}
	if m.Namespaces.IsNull() || m.Namespaces.IsUnknown() {
		return out
	}
	diags.Append(m.Namespaces.ElementsAs(ctx, &out, false)...)
	return out
}

// setNamespaces stores nss; an empty map stays null when the configuration had none, so
// plans do not flip between null and {}.
func (m *clusterIntegrationModel) setNamespaces(ctx context.Context, nss map[string]namespaceModel, diags *diag.Diagnostics) {
	if len(nss) == 0 && m.Namespaces.IsNull() {
		return
	}
	elems := map[string]attr.Value{}
	for name, ns := range nss {
		ns.ServiceAccountName = types.StringValue(kube.NamespaceServiceAccountName(name))
		obj, d := types.ObjectValueFrom(ctx, namespaceAttrTypes, ns)
		diags.Append(d...)
		elems[name] = obj
	}
	v, d := types.MapValue(types.ObjectType{AttrTypes: namespaceAttrTypes}, elems)
	diags.Append(d...)
	m.Namespaces = v
}

func stringMap(ctx context.Context, v types.Map) map[string]string {
	out := map[string]string{}
	if v.IsNull() || v.IsUnknown() {
		return out
	}
	_ = v.ElementsAs(ctx, &out, false) // a map of strings always converts
	return out
}

// observedLabels reports the configured label keys as found on the cluster: a changed or
// removed label shows as drift, while labels others add are not ours to report.
func observedLabels(ctx context.Context, configured types.Map, actual map[string]string, diags *diag.Diagnostics) types.Map {
	if configured.IsNull() || configured.IsUnknown() {
		return configured
	}
	out := map[string]string{}
	for k := range stringMap(ctx, configured) {
		if v, ok := actual[k]; ok {
			out[k] = v
		}
	}
	v, d := types.MapValueFrom(ctx, types.StringType, out)
	diags.Append(d...)
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// labelMapValidator checks label keys and values as Kubernetes would, at plan time.
type labelMapValidator struct{}

func (labelMapValidator) Description(context.Context) string {
	return "label keys must be qualified names and values valid label values"
}
func (v labelMapValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (labelMapValidator) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	labels := map[string]types.String{}
	resp.Diagnostics.Append(req.ConfigValue.ElementsAs(ctx, &labels, false)...)
	known := map[string]string{}
	for k, v := range labels {
		if !v.IsUnknown() && !v.IsNull() {
			known[k] = v.ValueString()
		}
	}
	if err := labelMapErrors(known); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid namespace label", err.Error()+".")
	}
}

// takeConnection adopts a cluster_connection from the configuration: host, CA and token
// follow from it (token stays null on the EKS path).
func (m *clusterIntegrationModel) takeConnection(ctx context.Context, cfg types.Object, diags *diag.Diagnostics) {
	if cfg.IsNull() {
		return
	}
	m.connectionFromConfig = true
	m.Connection = cfg
	if cfg.IsUnknown() {
		m.Host, m.ClusterCACertificate, m.Token = types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
		return
	}
	var c connectionModel
	diags.Append(cfg.As(ctx, &c, basetypes.ObjectAsOptions{})...)
	m.Host, m.ClusterCACertificate, m.Token = c.Host, c.ClusterCACertificate, c.Token
}

// usesEKS reports a connection through EKS tokens (nothing secret in state).
func (m clusterIntegrationModel) usesEKS(ctx context.Context) bool {
	var c connectionModel
	if m.Connection.IsNull() || m.Connection.IsUnknown() || m.Connection.As(ctx, &c, basetypes.ObjectAsOptions{}).HasError() {
		return false
	}
	return !c.EKS.IsNull() && !c.EKS.IsUnknown()
}

// kubeConnection is how this integration reaches its cluster.
func (m clusterIntegrationModel) kubeConnection(ctx context.Context, data *providerData, diags *diag.Diagnostics) (kube.Connection, bool) {
	if m.usesEKS(ctx) {
		return resolveConnection(ctx, data, m.Connection, path.Root("cluster_connection"), diags)
	}
	return m.connection(), true
}
