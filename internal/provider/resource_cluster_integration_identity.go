package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// clusterIntegrationIdentity names an integration: the cluster (its API server URL) and
// the integration's own service account, which is what its objects' owner annotation
// names. The token and CA are not part of it.
type clusterIntegrationIdentity struct {
	Host                    types.String `tfsdk:"host"`
	ServiceAccountNamespace types.String `tfsdk:"service_account_namespace"`
	ServiceAccountName      types.String `tfsdk:"service_account_name"`
}

func (r *clusterIntegrationResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"host": identityschema.StringAttribute{
				RequiredForImport: true,
				Description:       "URL of the cluster's API server, as in `host`, e.g. `https://k8s.example.com:6443`.",
			},
			"service_account_namespace": identityschema.StringAttribute{
				OptionalForImport: true,
				Description:       "Namespace of the integration's service account; on import, default `" + defaultIntegrationNamespace + "`.",
			},
			"service_account_name": identityschema.StringAttribute{
				OptionalForImport: true,
				Description:       "Name of the integration's service account; on import, default `" + defaultIntegrationServiceAccount + "`.",
			},
		},
	}
}

func (m clusterIntegrationModel) identityData() clusterIntegrationIdentity {
	return clusterIntegrationIdentity{Host: m.Host, ServiceAccountNamespace: m.ServiceAccountNamespace, ServiceAccountName: m.ServiceAccountName}
}

// ImportState takes `<service_account_namespace>/<service_account_name>@<host>` or an
// identity. The token and CA cannot be read from the cluster: the first apply writes them
// from the configuration and adopts the existing namespaces.
func (r *clusterIntegrationResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	var id clusterIntegrationIdentity
	if req.ID != "" {
		account, host, ok := strings.Cut(req.ID, "@")
		ns, name, ok2 := strings.Cut(account, "/")
		if !ok || !ok2 || ns == "" || name == "" || host == "" {
			resp.Diagnostics.AddError("Invalid import ID",
				fmt.Sprintf("Expected <service_account_namespace>/<service_account_name>@<host>, e.g. kube-system/clusterkit@https://k8s.example.com:6443; got %q.", req.ID))
			return
		}
		id = clusterIntegrationIdentity{Host: types.StringValue(host), ServiceAccountNamespace: types.StringValue(ns), ServiceAccountName: types.StringValue(name)}
	} else {
		resp.Diagnostics.Append(req.Identity.Get(ctx, &id)...)
		if resp.Diagnostics.HasError() {
			return
		}
		if id.ServiceAccountNamespace.IsNull() || id.ServiceAccountNamespace.ValueString() == "" {
			id.ServiceAccountNamespace = types.StringValue(defaultIntegrationNamespace)
		}
		if id.ServiceAccountName.IsNull() || id.ServiceAccountName.ValueString() == "" {
			id.ServiceAccountName = types.StringValue(defaultIntegrationServiceAccount)
		}
		// The schema's own checks; the address classes are ModifyPlan's, as for host.
		var bad []string
		for name, c := range map[string]struct {
			v     types.String
			check validator.String
		}{
			"host":                      {id.Host, clusterURL()},
			"service_account_namespace": {id.ServiceAccountNamespace, dns1123Label()},
			"service_account_name":      {id.ServiceAccountName, dns1123Subdomain()},
		} {
			if err := c.check.(funcValidator).check(c.v.ValueString()); err != nil {
				bad = append(bad, name+": "+err.Error())
			}
		}
		sort.Strings(bad)
		if len(bad) > 0 {
			resp.Diagnostics.AddError("Invalid import identity", strings.Join(bad, "; ")+".")
			return
		}
	}
	m := clusterIntegrationModel{Host: id.Host, ServiceAccountNamespace: id.ServiceAccountNamespace, ServiceAccountName: id.ServiceAccountName}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), m.importID())...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("host"), id.Host)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("service_account_namespace"), id.ServiceAccountNamespace)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("service_account_name"), id.ServiceAccountName)...)
	setIdentity(ctx, resp.Identity, id, false, &resp.Diagnostics)
}

// importID is the resource's ID: `<service_account_namespace>/<service_account_name>@<host>`.
func (m clusterIntegrationModel) importID() string {
	return m.ServiceAccountNamespace.ValueString() + "/" + m.ServiceAccountName.ValueString() + "@" + m.Host.ValueString()
}
