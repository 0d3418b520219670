package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

var (
	_ resource.ResourceWithConfigure      = (*managedAppResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*managedAppResource)(nil)
	_ resource.ResourceWithImportState    = (*managedAppResource)(nil)
	_ resource.ResourceWithValidateConfig = (*managedAppResource)(nil)
	_ planmodifier.String                 = releaseNamespaceDefault{}
	_ validator.String                    = yamlValuesValidator{}
)

const (
	managedAppDefaultTimeout = 20 * time.Minute
	// privateReleaseKey marks, in private state, that helm's release record for this app
	// has been seen: from then on a missing record means the release was deleted.
	privateReleaseKey = "release_record"
	// privateStuckKey records what the last refresh found: helm's release left pending
	// with none of the app's pods at work ({"stuck":true}), i.e. stuck rather than in progress.
	privateStuckKey = "stuck_release"
)

func newManagedAppResource() resource.Resource { return &managedAppResource{} }

type managedAppResource struct {
	data *providerData
}

func (r *managedAppResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_managed_app"
}

func (r *managedAppResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	d, diags := providerDataFrom(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	if d != nil {
		r.data = d
	}
}

// ValidateConfig checks the whole install spec once everything is known, so nothing the
// cluster would refuse reaches an apply.
func (r *managedAppResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m managedAppModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !m.ClusterIssuer.IsNull() && !m.ClusterIssuer.IsUnknown() && known(m.App) {
		if m.App.ValueString() != "cert-manager" {
			resp.Diagnostics.AddAttributeError(path.Root("cluster_issuer"), "cluster_issuer needs cert-manager",
				fmt.Sprintf("cluster_issuer is only valid with app = \"cert-manager\"; this resource installs %q.", m.App.ValueString()))
		} else if _, err := m.clusterIssuer(ctx); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("cluster_issuer"), "Invalid cluster_issuer", err.Error())
		}
	}
	if a, ok := m.catalogApp(); ok && a.Notice != "" {
		resp.Diagnostics.AddAttributeWarning(path.Root("app"), fmt.Sprintf("Catalog app %q: please read", a.Name), a.Notice)
	}
	// Invalid values are reported once, by the attribute's own validator.
	validateHelmOptions(m, &resp.Diagnostics)
	validateCombinations(m, &resp.Diagnostics)
}

func (r *managedAppResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		// A destroy: refuse now, before the user confirms, what Delete would refuse.
		var conn types.Object
		if !req.State.Raw.IsNull() {
			resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("cluster_connection"), &conn)...)
		}
		if !req.State.Raw.IsNull() && conn.IsNull() && !resp.Diagnostics.HasError() {
			addDeleteBeforeFirstApplyError(&resp.Diagnostics)
		}
		return
	}
	var plan, state managedAppModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	r.checkHost(ctx, plan.Connection, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	if known(plan.Name) && known(plan.Namespace) {
		plan.ID = types.StringValue(plan.Namespace.ValueString() + "/" + plan.Name.ValueString())
	}
	if plan.InstallerClusterAdmin.IsUnknown() && !plan.App.IsUnknown() && !plan.InstallerServiceAccount.IsUnknown() {
		var cfg types.Bool
		resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("installer_cluster_admin"), &cfg)...)
		if cfg.IsNull() {
			plan.InstallerClusterAdmin = types.BoolValue(plan.installerClusterAdminDefault())
		}
	}
	if !plan.App.IsUnknown() {
		plan.Outputs = plan.outputsValue()
	}

	_, _, version, versionKnown := plan.chartRef(ctx)
	updateTimeout, d := plan.Timeouts.Update(ctx, managedAppDefaultTimeout)
	resp.Diagnostics.Append(d...)
	// Drift is warned about whatever else plans the upgrade (so not in the || chain).
	drifted := plannedDrift(ctx, req, plan, state, &resp.Diagnostics)
	install := req.State.Raw.IsNull() || state.Connection.IsNull() || // created, or just imported
		installInputsChanged(plan, state) ||
		needsRecovery(state, updateTimeout, time.Now()) ||
		r.stuckRelease(ctx, req, state, &resp.Diagnostics) ||
		drifted ||
		(versionKnown && state.ChartVersion.ValueString() != version)
	if !req.State.Raw.IsNull() && state.Connection.IsNull() {
		checkImportedHost(ctx, req, plan, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
		// Just imported: a release that runs what the configuration says is kept as it is.
		if rel := r.adoptImported(ctx, plan, req.Config, &resp.Diagnostics); rel != nil {
			state.setRelease(rel)
			install = false
		}
	}
	if !install {
		// Nothing helm sees changes: the release stays as it is.
		plan.Status, plan.Revision, plan.InstalledAt, plan.ChartVersion = state.Status, state.Revision, state.InstalledAt, state.ChartVersion
		plan.AppVersion = state.AppVersion
		if plan.App.Equal(state.App) && plan.Namespace.Equal(state.Namespace) && !state.Outputs.IsNull() {
			plan.Outputs = state.Outputs // includes an endpoint read from the cluster
		}
	} else {
		if plan.endpointService() != "" {
			plan.Outputs = types.MapUnknown(types.StringType) // the endpoint is read after the install
		}
		plan.Status = types.StringValue(statusDeployed)
		plan.Revision = types.Int64Unknown()
		plan.InstalledAt = types.StringUnknown()
		plan.AppVersion = types.StringUnknown()
		plan.ChartVersion = types.StringUnknown()
		if versionKnown {
			plan.ChartVersion = types.StringValue(version)
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// checkHost refuses a cluster URL the SSRF policy forbids, before any connection.
func (r *managedAppResource) checkHost(ctx context.Context, conn types.Object, diags *diag.Diagnostics) {
	if r.data == nil || !known(conn) {
		return
	}
	var c connectionModel
	if conn.As(ctx, &c, basetypes.ObjectAsOptions{}).HasError() || !known(c.Host) {
		return
	}
	if _, err := r.data.policy.ValidateURL(c.Host.ValueString()); err != nil {
		diags.AddAttributeError(path.Root("cluster_connection").AtName("host"), "Cluster URL refused", err.Error())
	}
}

func (r *managedAppResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan managedAppModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	sensitive := readWriteOnly(ctx, req.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, managedAppDefaultTimeout)
	resp.Diagnostics.Append(d...)
	outcome := r.install(ctx, &plan, nil, sensitive, timeout, false, "Installing managed app", &resp.Diagnostics, resp.Private)
	if outcome == installNotStarted {
		// Refused before anything reached the cluster (no connection, invalid spec):
		// there is nothing to record.
		return
	}
	// Past that point a failure is handled by tainting, not by "no state": whatever the
	// install made (the install namespace and service account, this app's binding, its
	// values ConfigMap and sensitive values Secret, and a failed pod kept for
	// inspection) is recorded here, with status "failed", next to the error. Terraform
	// marks the resource tainted, so `terraform destroy` removes exactly those objects,
	// and the next apply replaces the resource: destroy (without an uninstall pod when
	// helm holds no release for it) and a fresh install whose pod replaces the one left
	// over. Returning no state instead would leave objects, among them the Secret with
	// the sensitive values, that no Terraform run owns.
	if outcome == installFailed {
		plan.Status = types.StringValue(statusFailed)
	}
	plan.clearUnknown()
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	setIdentity(ctx, resp.Identity, plan.identityData(ctx), false, &resp.Diagnostics)
}

func (r *managedAppResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state managedAppModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	setIdentity(ctx, resp.Identity, state.identityData(ctx), true, &resp.Diagnostics) // for states from before identities
	if state.Connection.IsNull() {
		// Just imported: how to reach the cluster is not known until the configuration
		// gives it, so the first apply reads and converges the release (an upgrade).
		return
	}
	ctx = withInstallPodLogging(ctx, connectionSecrets(ctx, state.Connection)...)
	client, ok := r.client(ctx, state.Connection, &resp.Diagnostics)
	if !ok {
		return
	}
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	rel, err := client.FindReleaseCached(ctx, ns, name) // one list per namespace per run
	if err != nil {
		addKubeError(ctx, &resp.Diagnostics, "Reading managed app failed", path.Root("cluster_connection").AtName("host"), err)
		return
	}
	if err := state.refreshOutputs(ctx, client); err != nil {
		addKubeError(ctx, &resp.Diagnostics, "Reading managed app failed", path.Root("cluster_connection").AtName("host"), err)
		return
	}
	if rel != nil && rel.Status != kube.ReleaseUninstalled {
		readDrift(ctx, client, rel, state.Status.ValueString() == statusFailed, req.Private, resp.Private, &resp.Diagnostics)
		state.setRelease(rel)
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateReleaseKey, []byte(`{"seen":true}`))...)
		stuck := rel.Status.Pending() && releaseStuck(ctx, client, rel, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateStuckKey, []byte(fmt.Sprintf(`{"stuck":%t}`, stuck)))...)
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
		return
	}
	seen, d := req.Private.GetKey(ctx, privateReleaseKey)
	resp.Diagnostics.Append(d...)
	if len(seen) > 0 {
		tflog.Warn(ctx, "The helm release is gone (uninstalled or its record deleted outside Terraform); planning to install it again",
			map[string]any{"release": ns + "/" + name})
		resp.State.RemoveResource(ctx)
		return
	}
	if state.Status.ValueString() == statusFailed {
		// A first install that failed: rollback on failure purged it, so helm never had a
		// release. The state says failed (the resource is tainted and will be replaced).
		return
	}
	tflog.Warn(ctx, "helm holds no release record for this app; planning to install it again",
		map[string]any{"release": ns + "/" + name})
	resp.State.RemoveResource(ctx)
}

func (r *managedAppResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state managedAppModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	sensitive := readWriteOnly(ctx, req.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	setIdentity(ctx, resp.Identity, plan.identityData(ctx), true, &resp.Diagnostics)
	if !plan.Revision.IsUnknown() {
		// ModifyPlan found nothing for helm to do (e.g. only keep_failed_pod, timeouts or
		// the connection's token changed).
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	timeout, d := plan.Timeouts.Update(ctx, managedAppDefaultTimeout)
	resp.Diagnostics.Append(d...)
	// The plan warned that this upgrade sets back fields changed out of band.
	forceConflicts := driftSetsBackFields(ctx, req.Private, &resp.Diagnostics)
	if r.install(ctx, &plan, &state, sensitive, timeout, forceConflicts, "Upgrading managed app", &resp.Diagnostics, resp.Private) != installOK {
		// The release still runs what state describes (helm rolls a failed
		// upgrade back; an upgrade refused before its pod ran changed nothing). Keep those
		// inputs, so the next plan shows the same change and retries it even after a
		// refresh finds the release deployed; take from the plan only what helm does not see.
		failed := state
		failed.Connection, failed.Timeouts, failed.KeepFailedPod = plan.Connection, plan.Timeouts, plan.KeepFailedPod
		failed.withHelmOptions(plan)
		failed.Status = types.StringValue(statusFailed)
		resp.Diagnostics.Append(resp.State.Set(ctx, &failed)...)
		return
	}
	plan.clearUnknown()
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *managedAppResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state managedAppModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := state.Timeouts.Delete(ctx, managedAppDefaultTimeout)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx = withInstallPodLogging(ctx, connectionSecrets(ctx, state.Connection)...)
	if state.Connection.IsNull() {
		addDeleteBeforeFirstApplyError(&resp.Diagnostics)
		return
	}
	client, ok := r.client(ctx, state.Connection, &resp.Diagnostics)
	if !ok {
		return
	}
	spec, err := state.spec(ctx, writeOnly{}, timeout)
	if err != nil {
		resp.Diagnostics.AddError("Deleting managed app failed", err.Error())
		return
	}
	tflog.Info(ctx, "Uninstalling the managed app", map[string]any{
		"pod": spec.Namespace + "/" + kube.InstallPodName(spec.Name, kube.ActionUninstall), "release": spec.ReleaseNamespace + "/" + spec.Name,
	})
	res, err := client.ManagedApp(spec).Uninstall(ctx, kube.UninstallOptions{
		Timeout:       timeout,
		FailedInstall: state.Status.ValueString() == statusFailed,
	}, installPodLogger(ctx))
	if p := res.LeftPending; p != nil {
		resp.Diagnostics.AddWarning("Uninstalled a stuck helm release",
			fmt.Sprintf("helm's release %s/%s was left %s at revision %d (an operation stopped midway, e.g. its install pod killed or its node lost); the uninstall removed it all the same.",
				p.Namespace, p.Name, p.Status, p.Revision))
	}
	if len(res.WaitedFor) > 0 {
		tflog.Info(ctx, "Waited for the apps that uninstall before this one", map[string]any{"apps": res.WaitedFor, "uninstall_order": spec.UninstallOrder})
	}
	if res.Pod.Pod == "" && err == nil {
		tflog.Info(ctx, "No helm release to uninstall; removed the install objects", map[string]any{"release": spec.ReleaseNamespace + "/" + spec.Name})
	}
	if err != nil {
		addInstallError(ctx, &resp.Diagnostics, "Uninstalling managed app failed", err)
	}
}

// install runs the install (or upgrade) pod for plan and records the outcome in plan.
// Unless it reports installOK it has added an error diagnostic. forceConflicts: the
// upgrade sets back fields changed out of band (see driftSetsBackFields).
func (r *managedAppResource) install(ctx context.Context, plan, prior *managedAppModel, sensitive writeOnly, timeout time.Duration,
	forceConflicts bool, summary string, diags *diag.Diagnostics, private privateSetter) installOutcome {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx = withInstallPodLogging(ctx, append(connectionSecrets(ctx, plan.Connection), sensitive.secrets()...)...)
	client, ok := r.client(ctx, plan.Connection, diags)
	if !ok {
		return installNotStarted
	}
	spec, err := plan.spec(ctx, sensitive, timeout)
	if err == nil {
		spec.Repository = kube.MirroredRepository(r.data.mirrors, spec.Repository)
		spec.Helm.ForceConflicts = forceConflicts
		err = spec.Validate()
	}
	if err != nil {
		diags.AddError(summary+" failed", err.Error())
		return installNotStarted
	}
	tflog.Info(ctx, "Running the install pod", map[string]any{
		"pod": spec.Namespace + "/" + kube.InstallPodName(spec.Name, kube.ActionInstall), "chart": spec.Chart, "version": spec.Version,
		"repository": spec.Repository, "release": spec.ReleaseNamespace + "/" + spec.Name, "upgrade": prior != nil,
		"sets_back_changed_fields": forceConflicts,
	})
	res, err := client.ManagedApp(spec).Install(ctx, installPodLogger(ctx))
	if err != nil {
		// Whatever the install made before it failed is recorded (see Create).
		if failed := (*kube.InstallFailedError)(nil); errors.As(err, &failed) {
			addRecoveryWarnings(diags, spec.ReleaseNamespace, spec.Name, failed.Recovered)
		}
		addInstallError(ctx, diags, summary+" failed", err)
		return installFailed
	}
	tflog.Info(ctx, "Install pod succeeded", map[string]any{"pod": res.Pod.Namespace + "/" + res.Pod.Pod, "duration": res.Pod.Duration.String()})
	addRecoveryWarnings(diags, spec.ReleaseNamespace, spec.Name, res.Recovered)
	plan.Status = types.StringValue(statusDeployed)
	plan.ChartVersion = types.StringValue(spec.Version)
	if err := plan.refreshOutputs(ctx, client); err != nil {
		tflog.Warn(ctx, "Could not read the app's load balancer address", map[string]any{"error": err.Error()})
		plan.Outputs = plan.outputsValue()
	}
	if res.Release == nil {
		// helm succeeded, so it wrote a record; not finding it is someone else's doing.
		diags.AddError(summary+" failed", fmt.Sprintf("The install pod succeeded, but helm's release record for %s/%s is missing "+
			"(deleted right after the install, or kept by a helm storage driver other than Secrets). The next plan installs the release again.",
			spec.ReleaseNamespace, spec.Name))
		return installFailed
	}
	plan.setRelease(res.Release)
	diags.Append(private.SetKey(ctx, privateReleaseKey, []byte(`{"seen":true}`))...)
	recordApplied(ctx, private, res.Release.Revision, diags)
	return installOK
}

// readWriteOnly reads the write-only values from the configuration (they are in neither
// plan nor state).
func readWriteOnly(ctx context.Context, config tfsdk.Config, diags *diag.Diagnostics) writeOnly {
	var values, password types.String
	diags.Append(config.GetAttribute(ctx, path.Root("sensitive_values"), &values)...)
	diags.Append(config.GetAttribute(ctx, path.Root("repository_password"), &password)...)
	return writeOnly{values: values.ValueString(), repositoryPassword: password.ValueString()}
}

type installOutcome int

const (
	installOK         installOutcome = iota
	installFailed                    // the install ran (objects may exist) and failed
	installNotStarted                // refused before anything was sent to the cluster
)

type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// addInstallError reports a failed or timed-out install pod with what a user needs to
// look into it; other errors go through addKubeError.
func addInstallError(ctx context.Context, diags *diag.Diagnostics, summary string, err error) {
	var failed *kube.InstallFailedError
	var timedOut *kube.InstallTimeoutError
	var missingSA *kube.InstallerServiceAccountMissingError
	var pull *kube.ImagePullError
	var repoSecret *kube.RepositoryCredentialsSecretError
	switch {
	case errors.As(err, &repoSecret):
		diags.AddAttributeError(path.Root("repository_credentials_secret"), summary, repoSecret.Error()+".")
	case errors.As(err, &pull):
		diags.AddAttributeError(path.Root("installer_image"), summary, pull.Error()+
			".\n\nCheck the image name and tag, and that the cluster's nodes may pull from its registry: a private mirror needs an image pull secret, "+
			"named in installer_image_pull_secrets (a kubernetes.io/dockerconfigjson Secret in the install namespace) or held by the node or the installer's service account.")
	case errors.As(err, &missingSA):
		diags.AddAttributeError(path.Root("installer_service_account"), summary, missingSA.Error()+
			". Create it (and the namespace) first, or unset installer_service_account to let the provider create the app's own installer.")
	case errors.As(err, &failed):
		tflog.SubsystemDebug(ctx, managedAppLogSubsystem, "Install pod termination message", map[string]any{"pod": failed.Namespace + "/" + failed.Pod, "message": failed.Message})
		detail := fmt.Sprintf("%s pod %s/%s failed: exit code %d, reason %s.\n\n", failed.Action, failed.Namespace, failed.Pod, failed.ExitCode, failed.Reason)
		if failed.HelmError != "" {
			detail += "helm said:\n\n  " + maskSecrets(ctx, failed.HelmError) + "\n\n"
		}
		if failed.Unrecoverable != "" {
			detail += "helm's release was left pending by an earlier operation that stopped midway, and the install pod could not clear it:\n\n  " +
				maskSecrets(ctx, failed.Unrecoverable) + "\n\n"
		}
		if failed.PodKept {
			detail += "The pod is kept for inspection until the next apply replaces it. Read its logs with:\n\n  " + failed.LogsCommand + "\n\n"
		} else {
			detail += "The pod was deleted (keep_failed_pod = false); its last log lines are in the provider's debug log (TF_LOG_PROVIDER_CLUSTERKIT_INSTALL_POD=DEBUG or TF_LOG=DEBUG).\n\n"
		}
		detail += "The last log lines are also in the provider's debug log (subsystem install_pod). The next apply runs the pod again."
		if advice, ok := repositoryAdvice(failed.RepositoryFailure()); ok {
			detail = advice + "\n\n" + detail
		} else if failed.FieldConflict() {
			detail = fieldConflictAdvice + "\n\n" + detail
		}
		diags.AddError(summary, detail)
	case errors.As(err, &timedOut) && errors.Is(timedOut.Cause, context.Canceled):
		diags.AddError(summary, timedOut.Error()+".\n\nThe run was interrupted (e.g. Ctrl-C), so the provider stopped helm rather than leave it "+
			"running unwatched. The next apply runs the pod again.")
	case errors.As(err, &timedOut) && timedOut.Unscheduled:
		diags.AddAttributeError(path.Root("installer_tolerations"), summary, timedOut.Error()+".\n\nNo node took the install pod before the operation's timeout. "+
			"Check the nodes' taints (installer_tolerations), labels (installer_node_selector, installer_affinity) and free capacity (installer_resources), "+
			"and that installer_priority_class_name names an existing PriorityClass. The next apply runs the pod again.")
	case errors.As(err, &timedOut):
		diags.AddError(summary, timedOut.Error()+".\n\nThe operation's timeout (timeouts.create, timeouts.update or timeouts.delete) ran out; "+
			"raise it if the chart needs longer. The next apply runs the pod again.")
	default:
		addKubeError(ctx, diags, summary, path.Root("cluster_connection").AtName("host"), err)
	}
}

// addRecoveryWarnings tells the user what the install pod did to a stuck release before the
// planned operation ran.
func addRecoveryWarnings(diags *diag.Diagnostics, ns, name string, recs []kube.Recovery) {
	for _, rec := range recs {
		diags.AddWarning("Recovered a stuck helm release", fmt.Sprintf("Release %s/%s: %s.", ns, name, rec))
	}
}

// releaseStuck reports whether rel, which helm left pending, is stuck: none of the app's
// install or uninstall pods is at work on it, and one of them ended (its helm killed), so no
// helm will ever finish the operation. Then it warns that the next apply recovers the release. When
// the pods cannot be read it says not stuck: the plan falls back on the release's age
// (needsRecovery).
func releaseStuck(ctx context.Context, client *kube.Client, rel *kube.Release, diags *diag.Diagnostics) bool {
	running, ended, err := client.ManagedApp(kube.InstallSpec{Name: rel.Name, ReleaseNamespace: rel.Namespace}).OperationRunning(ctx)
	if err != nil {
		tflog.Warn(ctx, "Could not tell whether the pending helm release is still being worked on", map[string]any{
			"release": rel.Namespace + "/" + rel.Name, "error": err.Error(),
		})
		return false
	}
	if running {
		tflog.Info(ctx, "The helm release is pending: an install or uninstall pod of this app is at work on it", map[string]any{"release": rel.Namespace + "/" + rel.Name})
		return false
	}
	if !ended {
		// No pod of this app left a trace: the operation may be another helm client's at
		// work right now. It is recovered once older than timeouts.update (needsRecovery).
		tflog.Info(ctx, "The helm release is pending and no pod of this app ran it: left to its client", map[string]any{"release": rel.Namespace + "/" + rel.Name})
		return false
	}
	diags.AddWarning("Stuck helm release",
		fmt.Sprintf("helm's release %s/%s is %s at revision %d, and no install or uninstall pod of this app is at work on it: an earlier operation stopped midway "+
			"(its pod killed, its node lost), and helm refuses every further operation on the release until it is cleared. The next apply clears it "+
			"(a pending first install is uninstalled, a pending upgrade or rollback is rolled back to the last deployed revision), then runs the planned operation; "+
			"with no other change the plan shows an update.", rel.Namespace, rel.Name, rel.Status, rel.Revision))
	return true
}

// stuckRelease: the last refresh found the release stuck (releaseStuck) and state still
// says pending, so the apply must run the install pod, which recovers it.
func (r *managedAppResource) stuckRelease(ctx context.Context, req resource.ModifyPlanRequest, state managedAppModel, diags *diag.Diagnostics) bool {
	if req.State.Raw.IsNull() || !kube.ReleaseStatus(state.Status.ValueString()).Pending() {
		return false
	}
	raw, d := req.Private.GetKey(ctx, privateStuckKey)
	diags.Append(d...)
	var v struct {
		Stuck bool `json:"stuck"`
	}
	return len(raw) > 0 && json.Unmarshal(raw, &v) == nil && v.Stuck
}

// client builds (or reuses) the Kubernetes client for a cluster_connection.
func (r *managedAppResource) client(ctx context.Context, conn types.Object, diags *diag.Diagnostics) (*kube.Client, bool) {
	hostPath := path.Root("cluster_connection").AtName("host")
	c, ok := resolveConnection(ctx, r.data, conn, path.Root("cluster_connection"), diags)
	if !ok {
		return nil, false
	}
	client, err := r.data.kube.Client(c)
	if err != nil {
		addKubeError(ctx, diags, "Cannot connect to the cluster", hostPath, err)
		return nil, false
	}
	return client, true
}

// Logging: the install pods' log lines go to their own subsystem, install_pod
// (TF_LOG_PROVIDER_CLUSTERKIT_INSTALL_POD), masked like the others.
const managedAppLogSubsystem = "install_pod"

func withInstallPodLogging(ctx context.Context, secrets ...string) context.Context {
	ctx = withLogging(ctx, secrets...)
	ctx = tflog.NewSubsystem(ctx, managedAppLogSubsystem, tflog.WithLevelFromEnv("TF_LOG_PROVIDER_CLUSTERKIT_INSTALL_POD"))
	ctx = tflog.SubsystemMaskFieldValuesWithFieldKeys(ctx, managedAppLogSubsystem, "token", "external_id", "secret_key", "access_key", "session_token")
	ctx = tflog.SubsystemMaskAllFieldValuesRegexes(ctx, managedAppLogSubsystem, tokenPatterns...)
	ctx = tflog.SubsystemMaskMessageRegexes(ctx, managedAppLogSubsystem, tokenPatterns...)
	var nonEmpty []string
	for _, s := range secrets {
		if s != "" {
			nonEmpty = append(nonEmpty, s)
		}
	}
	if len(nonEmpty) > 0 {
		ctx = tflog.SubsystemMaskAllFieldValuesStrings(ctx, managedAppLogSubsystem, nonEmpty...)
		ctx = tflog.SubsystemMaskMessageStrings(ctx, managedAppLogSubsystem, nonEmpty...)
	}
	return ctx
}

func installPodLogger(ctx context.Context) func(string) {
	return func(line string) {
		tflog.SubsystemDebug(ctx, managedAppLogSubsystem, "install pod: "+line)
	}
}

// releaseNamespaceDefault plans the release namespace when none is configured: the
// catalog app's own namespace, else one named after the release. It runs before
// RequiresReplace so that an unconfigured namespace never looks like a change.
type releaseNamespaceDefault struct{}

func (releaseNamespaceDefault) Description(context.Context) string {
	return "defaults to the catalog app's namespace, else the release name"
}
func (d releaseNamespaceDefault) MarkdownDescription(ctx context.Context) string {
	return d.Description(ctx)
}

func (releaseNamespaceDefault) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if !req.ConfigValue.IsNull() {
		return
	}
	var app, name types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("app"), &app)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("name"), &name)...)
	if app.IsUnknown() || name.IsUnknown() {
		return
	}
	resp.PlanValue = types.StringValue(defaultReleaseNamespace(app.ValueString(), name.ValueString()))
}

// yamlValuesValidator checks that a string is a YAML mapping of chart values.
type yamlValuesValidator struct{ sensitive bool }

func (yamlValuesValidator) Description(context.Context) string {
	return "must be a YAML mapping of chart values"
}
func (v yamlValuesValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v yamlValuesValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if !known(req.ConfigValue) {
		return
	}
	if err := yamlMapping(req.ConfigValue.ValueString(), !v.sensitive); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(),
			fmt.Sprintf("%s must be a YAML mapping of chart values (as in a values.yaml file): %s.", req.Path, err))
	}
}

func dnsLabelErr(s string) error {
	return dns1123Label().(funcValidator).check(s)
}

// addDeleteBeforeFirstApplyError: an app imported and never applied has no
// cluster_connection in state, and neither a destroy's plan nor its apply gets the
// configuration, so nothing says how to reach the release to uninstall it. Dropping it from
// state would leave the release running while Terraform reports it destroyed.
func addDeleteBeforeFirstApplyError(diags *diag.Diagnostics) {
	diags.AddError("Cannot delete an imported managed app before its first apply",
		"The resource was imported and has no cluster_connection in state yet, so the release cannot be reached to uninstall it. "+
			"Apply once (which records the connection from the configuration and runs no pod when the release matches it), "+
			"or remove it from state with `terraform state rm` to leave the release in the cluster.")
}
