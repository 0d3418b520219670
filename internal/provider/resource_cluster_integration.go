package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

var (
	_ resource.ResourceWithConfigure      = (*clusterIntegrationResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*clusterIntegrationResource)(nil)
	_ resource.ResourceWithImportState    = (*clusterIntegrationResource)(nil)
	_ resource.ResourceWithValidateConfig = (*clusterIntegrationResource)(nil)
	_ resource.ResourceWithIdentity       = (*clusterIntegrationResource)(nil)
)

const (
	defaultIntegrationServiceAccount = "clusterkit"
	defaultIntegrationNamespace      = "kube-system"
	defaultNamespaceRole             = "edit"
	integrationCreateTimeout         = 20 * time.Minute
	integrationUpdateTimeout         = 20 * time.Minute
	integrationDeleteTimeout         = 5 * time.Minute
)

func newClusterIntegrationResource() resource.Resource { return &clusterIntegrationResource{} }

type clusterIntegrationResource struct {
	data *providerData
}

func (r *clusterIntegrationResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_integration"
}

func (r *clusterIntegrationResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Registers a Kubernetes cluster and prepares it for the platform: the integration's own service " +
			"account (bound to `cluster-admin` with `rbac`), and restricted namespaces, each with a service account that may " +
			"act only inside it. Objects are labelled `app.kubernetes.io/managed-by=clusterkit` and annotated with their owner; " +
			"existing objects are adopted, and destroy removes only what this resource created.\n\n" +
			"The cluster URL is user input: it must be `https`, and addresses that are loopback, link-local (cloud metadata), " +
			"private, CGNAT, unspecified or multicast are refused at plan time and on every connection unless the provider sets " +
			"`allow_local_requests = true`. Redirects are never followed.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<service_account_namespace>/<service_account_name>@<host>`; also the import ID.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"host": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "URL of the Kubernetes API server, e.g. `https://k8s.example.com:6443`; with `cluster_connection`, taken from it. Changing it replaces the resource.",
				Validators:          []validator.String{clusterURL()},
				// A host that is only unknown (the connection of a cluster being updated) is
				// not a change: replace only when a known host differs.
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(func(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
					resp.RequiresReplace = !req.StateValue.IsNull() && !req.PlanValue.IsUnknown() && !req.PlanValue.Equal(req.StateValue)
				}, "Changing it replaces the resource.", "Changing it replaces the resource.")},
			},
			"cluster_ca_certificate": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "PEM-encoded CA certificate(s) that sign the API server's serving certificate.",
				Validators:          []validator.String{pemCertificate()},
			},
			"token": schema.StringAttribute{
				Optional: true, Computed: true,
				Sensitive:           true,
				MarkdownDescription: "Bearer token with rights to create service accounts, namespaces and RBAC bindings (cluster-admin). Stored in state as a sensitive value.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"authorization_type": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("rbac"),
				MarkdownDescription: "`rbac` (default) binds the service accounts with RBAC; `abac` (legacy clusters) creates no RBAC objects.",
				Validators:          []validator.String{stringvalidator.OneOf("rbac", "abac")},
			},
			"service_account_name": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(defaultIntegrationServiceAccount),
				MarkdownDescription: "Name of the integration's service account (default `clusterkit`); with `rbac` it is bound to `cluster-admin` by ClusterRoleBinding `<name>-admin`.",
				Validators:          []validator.String{dns1123Subdomain()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"service_account_namespace": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(defaultIntegrationNamespace),
				MarkdownDescription: "Namespace of the integration's service account (default `kube-system`). It must exist.",
				Validators:          []validator.String{dns1123Label()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"namespaces": schema.MapNestedAttribute{
				Optional: true,
				MarkdownDescription: "Restricted namespaces keyed by name (DNS-1123 label, at most 63 characters; `clusterkit-managed-apps` " +
					"and Kubernetes' own namespaces are reserved). Each gets service account `<namespace>-service-account` and, " +
					"with `rbac`, RoleBinding `clusterkit-<namespace>` to a ClusterRole.",
				Validators: []validator.Map{mapvalidator.KeysAre(funcValidator{"namespace names", restrictedNamespaceName})},
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"role": schema.StringAttribute{
							Optional:            true,
							Computed:            true,
							Default:             stringdefault.StaticString(defaultNamespaceRole),
							MarkdownDescription: "ClusterRole the namespace's service account is bound to inside the namespace (default `edit`). Changing it recreates the binding (roleRef is immutable).",
							Validators:          []validator.String{stringvalidator.LengthBetween(1, 253), stringvalidator.NoneOfCaseInsensitive("cluster-admin")},
						},
						"labels": schema.MapAttribute{
							ElementType:         types.StringType,
							Optional:            true,
							MarkdownDescription: "Extra labels for the namespace (`app.kubernetes.io/managed-by` is set by clusterkit).",
							Validators:          []validator.Map{labelMapValidator{}},
						},
						"service_account_name": schema.StringAttribute{
							Computed:            true,
							MarkdownDescription: "Name of the namespace's service account.",
						},
					},
				},
			},
			"cluster_connection": integrationConnectionAttribute(),
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{Create: true, Update: true, Delete: true},
				"Defaults: create 20m, update 20m, delete 5m (delete waits for restricted namespaces to be gone)."),
		},
	}
}

func (r *clusterIntegrationResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg clusterIntegrationModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !cfg.Connection.IsNull() {
		for name, v := range map[string]types.String{"host": cfg.Host, "cluster_ca_certificate": cfg.ClusterCACertificate, "token": cfg.Token} {
			if !v.IsNull() {
				resp.Diagnostics.AddAttributeError(path.Root(name), "Conflicting cluster settings",
					name+" cannot be set together with cluster_connection: either pass another resource's cluster_connection, or set host, cluster_ca_certificate and token.")
			}
		}
		return
	}
	for name, v := range map[string]types.String{"host": cfg.Host, "cluster_ca_certificate": cfg.ClusterCACertificate, "token": cfg.Token} {
		if v.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root(name), "Missing cluster setting",
				name+" is required unless cluster_connection is set (for example cluster_connection = clusterkit_eks_cluster.this.cluster_connection).")
		}
	}
}

func (r *clusterIntegrationResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	d, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	if d != nil {
		r.data = d
	}
}

func (r *clusterIntegrationResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan, cfg clusterIntegrationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.takeConnection(ctx, cfg.Connection, &resp.Diagnostics)
	if r.data != nil && !plan.Host.IsUnknown() && !plan.Host.IsNull() {
		// Refused here, before any connection is attempted.
		if _, err := r.data.policy.ValidateURL(plan.Host.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("host"), "Cluster URL refused", err.Error())
			return
		}
	}
	plan.fillComputed(ctx, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *clusterIntegrationResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan clusterIntegrationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = withLogging(ctx, append(connectionSecrets(ctx, plan.Connection), plan.Token.ValueString())...)
	timeout, diags := plan.Timeouts.Create(ctx, integrationCreateTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	client, ok := r.client(ctx, plan, &resp.Diagnostics)
	if !ok {
		return
	}
	want := plan.namespaces(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	done, err := r.apply(ctx, client, plan, nil, want)
	// Whatever was made is in state, so a failure taints the resource and the next apply
	// replaces it: delete removes exactly what this resource owns, then create starts clean.
	plan.setNamespaces(ctx, done, &resp.Diagnostics)
	plan.fillComputed(ctx, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	setIdentity(ctx, resp.Identity, plan.identityData(), false, &resp.Diagnostics)
	if err != nil {
		addKubeError(ctx, &resp.Diagnostics, "Cluster integration failed", path.Root("host"), err)
	}
}

func (r *clusterIntegrationResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state clusterIntegrationModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Kept as stored; computed only for a state written before the resource had one.
	setIdentity(ctx, resp.Identity, state.identityData(), true, &resp.Diagnostics)
	if (state.Token.IsNull() || state.ClusterCACertificate.IsNull()) && !state.usesEKS(ctx) {
		// Just imported: the credential is not readable from anywhere, so the next apply
		// writes it from the configuration and adopts the objects.
		return
	}
	ctx = withLogging(ctx, append(connectionSecrets(ctx, state.Connection), state.Token.ValueString())...)
	client, ok := r.client(ctx, state, &resp.Diagnostics)
	if !ok {
		return
	}
	identity := state.identity()
	st, err := client.ReadIdentity(ctx, identity)
	if err != nil {
		addKubeError(ctx, &resp.Diagnostics, "Reading cluster integration failed", path.Root("host"), err)
		return
	}
	if !st.ServiceAccount || (identity.RBAC && st.BindingRole != "cluster-admin") {
		tflog.Warn(ctx, "The integration's service account or its cluster-admin binding is gone; planning to create them again",
			map[string]any{"service_account": identity.Namespace + "/" + identity.Name})
		resp.State.RemoveResource(ctx)
		return
	}
	current := map[string]namespaceModel{}
	for name, ns := range state.namespaces(ctx, &resp.Diagnostics) {
		got, err := client.ReadRestrictedNamespace(ctx, name)
		if err != nil {
			addKubeError(ctx, &resp.Diagnostics, "Reading cluster integration failed", path.Root("host"), err)
			return
		}
		if !got.Exists || !got.ServiceAccount {
			continue // shows up in the plan as a namespace to create again
		}
		if identity.RBAC {
			ns.Role = types.StringValue(got.ClusterRole) // "" when the binding is gone
		}
		ns.Labels = observedLabels(ctx, ns.Labels, got.Labels, &resp.Diagnostics)
		current[name] = ns
	}
	state.setNamespaces(ctx, current, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *clusterIntegrationResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state clusterIntegrationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = withLogging(ctx, append(connectionSecrets(ctx, plan.Connection), plan.Token.ValueString(), state.Token.ValueString())...)
	timeout, diags := plan.Timeouts.Update(ctx, integrationUpdateTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	client, ok := r.client(ctx, plan, &resp.Diagnostics)
	if !ok {
		return
	}
	previous := state.namespaces(ctx, &resp.Diagnostics)
	want := plan.namespaces(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	done, err := r.apply(ctx, client, plan, previous, want)
	plan.setNamespaces(ctx, done, &resp.Diagnostics)
	plan.fillComputed(ctx, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	setIdentity(ctx, resp.Identity, plan.identityData(), true, &resp.Diagnostics)
	if err != nil {
		addKubeError(ctx, &resp.Diagnostics, "Updating cluster integration failed", path.Root("host"), err)
	}
}

func (r *clusterIntegrationResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state clusterIntegrationModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = withLogging(ctx, append(connectionSecrets(ctx, state.Connection), state.Token.ValueString())...)
	timeout, diags := state.Timeouts.Delete(ctx, integrationDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	client, ok := r.client(ctx, state, &resp.Diagnostics)
	if !ok {
		return
	}
	previous := state.namespaces(ctx, &resp.Diagnostics)
	if err := removeNamespaces(ctx, client, state.owner(), previous, nil); err != nil {
		addKubeError(ctx, &resp.Diagnostics, "Deleting cluster integration failed", path.Root("host"), err)
		return
	}
	if err := client.DeleteIdentity(ctx, state.identity()); err != nil {
		addKubeError(ctx, &resp.Diagnostics, "Deleting cluster integration failed", path.Root("host"), err)
	}
}

// client builds (or reuses) the Kubernetes client for m's connection.
func (r *clusterIntegrationResource) client(ctx context.Context, m clusterIntegrationModel, diags *diag.Diagnostics) (*kube.Client, bool) {
	if r.data == nil {
		diags.AddError("Provider not configured", "The clusterkit provider was not configured before the resource was used. Please report this issue to the provider developers.")
		return nil, false
	}
	conn, ok := m.kubeConnection(ctx, r.data, diags)
	if !ok {
		return nil, false
	}
	c, err := r.data.kube.Client(conn)
	if err != nil {
		addKubeError(ctx, diags, "Cannot connect to the cluster", path.Root("host"), err)
		return nil, false
	}
	return c, true
}

// apply converges the cluster from previous to want and returns the namespaces that are
// in place (for state), even when it fails part way.
func (r *clusterIntegrationResource) apply(ctx context.Context, client *kube.Client, plan clusterIntegrationModel, previous, want map[string]namespaceModel) (map[string]namespaceModel, error) {
	done := map[string]namespaceModel{}
	for name, ns := range previous {
		if _, keep := want[name]; !keep {
			done[name] = ns // still there until removed
		}
	}
	identity := plan.identity()
	if err := client.EnsureIdentity(ctx, identity); err != nil {
		return keepPrevious(previous, done), err
	}
	if err := removeNamespaces(ctx, client, identity.Owner, previous, want); err != nil {
		return keepPrevious(previous, done), err
	}
	for name := range previous {
		if _, keep := want[name]; !keep {
			delete(done, name)
		}
	}
	for _, name := range sortedKeys(want) {
		ns := want[name]
		spec := kube.RestrictedNamespace{Name: name, ClusterRole: ns.Role.ValueString(), Labels: stringMap(ctx, ns.Labels)}
		if old, ok := previous[name]; ok {
			spec.DropLabels = sortedKeys(stringMap(ctx, old.Labels))
		}
		tflog.Info(ctx, "Preparing restricted namespace", map[string]any{"namespace": name, "role": spec.ClusterRole})
		if err := client.EnsureRestrictedNamespace(ctx, identity.Owner, identity.RBAC, spec); err != nil {
			if old, ok := previous[name]; ok {
				done[name] = old
			}
			return keepPrevious(previous, done), err
		}
		done[name] = ns
	}
	return done, nil
}

// keepPrevious keeps every namespace of the prior state that was not yet handled, so a
// failed update leaves state that still lists it.
func keepPrevious(previous, done map[string]namespaceModel) map[string]namespaceModel {
	for name, ns := range previous {
		if _, ok := done[name]; !ok {
			done[name] = ns
		}
	}
	return done
}

// removeNamespaces deletes the previous namespaces that want no longer lists and waits
// until they are gone.
func removeNamespaces(ctx context.Context, client *kube.Client, owner string, previous, want map[string]namespaceModel) error {
	var waiting []string
	for _, name := range sortedKeys(previous) {
		if _, keep := want[name]; keep {
			continue
		}
		tflog.Info(ctx, "Removing restricted namespace", map[string]any{"namespace": name})
		deleting, err := client.RemoveRestrictedNamespace(ctx, owner, name)
		if err != nil {
			return err
		}
		if deleting {
			waiting = append(waiting, name)
		}
	}
	for _, name := range waiting {
		if err := client.WaitNamespaceGone(ctx, name); err != nil {
			return err
		}
	}
	return nil
}
