package provider

import (
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// helm's switches, named as helm_release names them. None is an install input: each one
// says how the next install, upgrade or uninstall pod runs helm, so changing one alone is
// an update of state that runs no pod (see installInputsChanged).

// helmOptionNote ends the description of each switch.
const helmOptionNote = " Changing it alone runs no pod and never touches the release (an in-place update of state " +
	"only): it applies from the next install or upgrade, which a change of the chart, its version or the values runs."

func boolOption(def bool, description string) schema.BoolAttribute {
	return schema.BoolAttribute{
		Optional:            true,
		Computed:            true,
		Default:             booldefault.StaticBool(def),
		MarkdownDescription: description + helmOptionNote,
	}
}

// helmOptionAttributes are the switches' schema attributes.
func helmOptionAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"wait": boolOption(true, "Wait until the release's resources are ready (helm's `--wait`) before the install or upgrade "+
			"counts as done and Terraform moves on to what depends on it. Default `true`: without it an apply succeeds while the "+
			"app may still be failing, and a failure is not rolled back. `false` needs `atomic = false` (rolling back on failure "+
			"makes helm wait anyway). Uninstalls always wait for the release's objects to be gone (apps destroyed together "+
			"are uninstalled in order)."),
		"wait_for_jobs": boolOption(false, "Also wait for the release's Jobs to complete (helm's `--wait-for-jobs`), within the "+
			"same timeout. Default `false`, as in helm. Needs `wait = true`."),
		"atomic": boolOption(true, "Roll back on failure: a failed upgrade is rolled back to the previous revision and a failed "+
			"first install is uninstalled (Helm 4's `--rollback-on-failure`, Helm 3's `--atomic`; the install pod passes the "+
			"flag of the helm in `installer_image`). Default `true`, unlike helm: the app keeps running what it ran, and a "+
			"failed first install leaves no release behind for the next apply to trip over. With `false` a failed release "+
			"stays `failed` for inspection and the next apply upgrades it again."),
		"cleanup_on_fail": boolOption(true, "Delete the objects a failed upgrade created (helm's `--cleanup-on-fail`). Default `true`."),
		"skip_crds": boolOption(false, "Do not install the chart's CRDs (its `crds/` directory; helm's `--skip-crds`), e.g. when "+
			"they are managed apart from the chart. Default `false`. helm installs CRDs only on a first install and never "+
			"upgrades or deletes them, with or without this."),
		"max_history": schema.Int64Attribute{
			Optional: true,
			Computed: true,
			Default:  int64default.StaticInt64(kube.DefaultHistoryMax),
			MarkdownDescription: fmt.Sprintf("How many revisions of the release helm keeps (its release Secrets in the release "+
				"namespace; helm's `--history-max`); `0` keeps all. Default `%d`, helm's own default (not `helm_release`'s "+
				"unlimited one): every revision is a Secret of up to 1 MiB in etcd. helm prunes older revisions when it "+
				"writes a new one.", kube.DefaultHistoryMax) + helmOptionNote,
			Validators: []validator.Int64{int64validator.AtLeast(0)},
		},
		"take_ownership": boolOption(false, "Adopt objects of the chart that already exist in the cluster without belonging to "+
			"the release (made with kubectl, or by another release), instead of failing with helm's ownership error "+
			"(helm's `--take-ownership`; Helm 4, or Helm 3.17 and later). The chart's values then win over what is in those "+
			"objects: with Helm 4, whose server-side apply would refuse fields another field manager set, the install pod "+
			"also passes `--force-conflicts` (not for a release applied client-side, i.e. installed by Helm 3), as Helm 3's "+
			"client-side apply overwrites them. Default `false`: adopting an object another owner manages takes it away from them."),
		"dependency_update": boolOption(false, "Fetch the chart's dependencies before installing when the chart lacks them "+
			"(helm's `--dependency-update`). Default `false`: charts from a repository carry their dependencies."),
	}
}

// helmOptions are the switches of m for the install spec; unknown or null ones are left
// at kube's defaults, which are the schema's.
func (m managedAppModel) helmOptions() kube.HelmOptions {
	var o kube.HelmOptions
	ptr := func(b types.Bool) *bool {
		if !known(b) {
			return nil
		}
		v := b.ValueBool()
		return &v
	}
	o.Wait, o.RollbackOnFailure, o.CleanupOnFail = ptr(m.Wait), ptr(m.Atomic), ptr(m.CleanupOnFail)
	o.WaitForJobs, o.SkipCRDs = m.WaitForJobs.ValueBool(), m.SkipCRDs.ValueBool()
	o.TakeOwnership, o.DependencyUpdate = m.TakeOwnership.ValueBool(), m.DependencyUpdate.ValueBool()
	if known(m.MaxHistory) {
		n := int(m.MaxHistory.ValueInt64())
		o.HistoryMax = &n
	}
	return o
}

// validateHelmOptions reports switches that contradict each other, on the attribute at
// fault, once all of them are known. max_history has its own validator.
func validateHelmOptions(m managedAppModel, diags *diag.Diagnostics) {
	for _, v := range []types.Bool{m.Wait, m.WaitForJobs, m.Atomic} {
		if v.IsUnknown() {
			return
		}
	}
	o := m.helmOptions()
	o.HistoryMax = nil
	err := o.Check()
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		at := "wait"
		var oe *kube.HelmOptionError
		if errors.As(e, &oe) {
			at = oe.Option
		}
		diags.AddAttributeError(path.Root(at), "Invalid "+at, e.Error()+".")
	}
}

// withHelmOptions copies the switches of from into m.
func (m *managedAppModel) withHelmOptions(from managedAppModel) {
	m.Wait, m.WaitForJobs, m.Atomic, m.CleanupOnFail = from.Wait, from.WaitForJobs, from.Atomic, from.CleanupOnFail
	m.SkipCRDs, m.MaxHistory, m.TakeOwnership, m.DependencyUpdate = from.SkipCRDs, from.MaxHistory, from.TakeOwnership, from.DependencyUpdate
}

// fieldConflictAdvice leads the diagnostic of an upgrade that Helm 4's server-side apply
// stopped at fields another field manager changed (a change the refresh did not see as
// drift: one made since, or of a field the drift check does not compare).
const fieldConflictAdvice = "helm applies server-side (Helm 4) and refused to take back fields of the chart's objects that another " +
	"field manager changed (kubectl edit, another tool or a controller): the upgrade stopped at the conflict. Set take_ownership = true, " +
	"whose upgrades force the chart's values over them, or set those fields back by hand (helm's error below names them), then apply again."
