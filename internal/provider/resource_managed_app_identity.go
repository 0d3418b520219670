package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

var _ resource.ResourceWithIdentity = (*managedAppResource)(nil)

// managedAppIdentity names a managed app: the cluster (its API server URL, as in
// cluster_connection.host) and helm's release (namespace and name). Nothing secret.
type managedAppIdentity struct {
	Host      types.String `tfsdk:"host"`
	Namespace types.String `tfsdk:"namespace"`
	Name      types.String `tfsdk:"name"`
}

func (r *managedAppResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"host": identityschema.StringAttribute{
				OptionalForImport: true,
				Description: "URL of the cluster's API server, as in `cluster_connection.host`. On import, the plan refuses a " +
					"configuration that connects elsewhere. Null when the app was imported by `<namespace>/<name>` alone, or " +
					"connects to an EKS cluster by name only.",
			},
			"namespace": identityschema.StringAttribute{RequiredForImport: true, Description: "The release namespace."},
			"name":      identityschema.StringAttribute{RequiredForImport: true, Description: "The release name."},
		},
	}
}

// identityData is the app's identity from its model; host is null while the connection
// gives none.
func (m managedAppModel) identityData(ctx context.Context) managedAppIdentity {
	id := managedAppIdentity{Host: types.StringNull(), Namespace: m.Namespace, Name: m.Name}
	if known(m.Connection) {
		var c connectionModel
		if diags := m.Connection.As(ctx, &c, basetypes.ObjectAsOptions{}); !diags.HasError() && known(c.Host) {
			id.Host = c.Host
		}
	}
	return id
}

// ImportState takes `<namespace>/<name>`, `<namespace>/<name>@<host>`, or an identity.
// How to reach the cluster is the configuration's: the first plan reads the release
// through it (see adoptImported).
func (r *managedAppResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := managedAppIdentity{Host: types.StringNull()}
	if req.ID != "" {
		release, host, withHost := strings.Cut(req.ID, "@")
		ns, name, ok := strings.Cut(release, "/")
		if !ok || kube.CheckReleaseName(name) != nil || dnsLabelErr(ns) != nil || (withHost && host == "") {
			resp.Diagnostics.AddError("Invalid import ID",
				fmt.Sprintf("Expected <namespace>/<name> (the release namespace and release name, both DNS-1123 labels), e.g. ingress-nginx/ingress-nginx, "+
					"optionally followed by @<host> (the cluster's API server URL, kept in the resource identity); got %q.", req.ID))
			return
		}
		id.Namespace, id.Name = types.StringValue(ns), types.StringValue(name)
		if withHost {
			id.Host = types.StringValue(host)
		}
	} else {
		resp.Diagnostics.Append(req.Identity.Get(ctx, &id)...)
		if resp.Diagnostics.HasError() {
			return
		}
		var bad []string
		if err := dnsLabelErr(id.Namespace.ValueString()); err != nil {
			bad = append(bad, "namespace: "+err.Error())
		}
		if err := kube.CheckReleaseName(id.Name.ValueString()); err != nil {
			bad = append(bad, "name: "+err.Error())
		}
		if len(bad) > 0 {
			resp.Diagnostics.AddError("Invalid import identity", strings.Join(bad, "; ")+".")
			return
		}
	}
	ns, name := id.Namespace.ValueString(), id.Name.ValueString()
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), ns+"/"+name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("namespace"), ns)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	setIdentity(ctx, resp.Identity, id, false, &resp.Diagnostics)
}

// checkImportedHost refuses, right after an import that named the cluster, a configuration
// that connects to another one: the plan would take over a release of another cluster.
func checkImportedHost(ctx context.Context, req resource.ModifyPlanRequest, plan managedAppModel, diags *diag.Diagnostics) {
	if req.Identity == nil || req.Identity.Raw.IsNull() {
		return
	}
	var prior managedAppIdentity
	if d := req.Identity.Get(ctx, &prior); d.HasError() || prior.Host.IsNull() || prior.Host.IsUnknown() {
		return
	}
	want := plan.identityData(ctx).Host
	if known(want) && want.ValueString() != prior.Host.ValueString() {
		diags.AddAttributeError(path.Root("cluster_connection").AtName("host"), "Imported app is on another cluster",
			fmt.Sprintf("The import named the app on cluster %s, but cluster_connection.host is %s. Connect to the cluster the app is on, or import it again with that host.",
				prior.Host.ValueString(), want.ValueString()))
	}
}
