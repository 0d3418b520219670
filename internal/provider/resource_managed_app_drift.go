package provider

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// Drift of a deployed release (or a failed one, against its last deployed revision: see
// kube's CheckFailedRelease), found by Read and planned back by ModifyPlan: objects of
// the chart deleted out of band (helm's record still says deployed), fields the chart sets
// changed out of band (kubectl edit, scale, set image; the few fields kube compares), and
// a revision made outside Terraform (a `helm upgrade` or `helm rollback` from a laptop).
// Each plans the upgrade that brings the release back to the configuration, with a
// warning that says what was found. An upgrade planned for another reason (a changed
// configuration) gets the same warnings: it undoes the same drift. Changed fields are set
// back by an upgrade that forces conflicts (kube's ForceConflicts): Helm 4 applies
// server-side, and the field manager that edited a field owns it since.
const (
	// privateAppliedKey holds the revision this provider's last install or upgrade left
	// ({"revision":N}); a later revision is someone else's.
	privateAppliedKey = "applied_revision"
	// privateDriftKey holds what the last refresh found (releaseDrift).
	privateDriftKey = "release_drift"
)

type releaseDrift struct {
	Missing  []string `json:"missing,omitempty"`
	Revision int      `json:"revision,omitempty"` // the release's, when not the applied one
	Applied  int      `json:"applied,omitempty"`
	// Changed: objects whose fields differ from the chart ("Deployment web/app: image of
	// container app is busybox:2 (chart: busybox:1)").
	Changed []string `json:"changed,omitempty"`
	// Failed and Deployed: the release's latest revision failed, and was checked with its
	// last deployed revision (kube's CheckFailedRelease).
	Failed   int `json:"failed,omitempty"`
	Deployed int `json:"deployed,omitempty"`
}

func (d releaseDrift) any() bool {
	return len(d.Missing) > 0 || d.Revision != 0 || len(d.Changed) > 0
}

// recordedDrift is what the last refresh found (readDrift), nothing when it found none
// or left no record.
func recordedDrift(ctx context.Context, private privateGetter, diags *diag.Diagnostics) releaseDrift {
	var d releaseDrift
	raw, gd := private.GetKey(ctx, privateDriftKey)
	diags.Append(gd...)
	if len(raw) == 0 || json.Unmarshal(raw, &d) != nil {
		return releaseDrift{}
	}
	return d
}

type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

// recordApplied remembers the revision an install or upgrade of this provider left, and
// that nothing has drifted since.
func recordApplied(ctx context.Context, private privateSetter, revision int, diags *diag.Diagnostics) {
	diags.Append(private.SetKey(ctx, privateAppliedKey, []byte(fmt.Sprintf(`{"revision":%d}`, revision)))...)
	diags.Append(private.SetKey(ctx, privateDriftKey, []byte(`{}`))...)
}

// readDrift checks a deployed release for drift and records it for the plan. After a
// failed operation of this provider (helm rolled back, or recovered a stuck release) the
// revisions moved by its own doing: the release's revision becomes the applied one. A
// failed release (an upgrade and its rollback both stopped, say at a field conflict) is
// checked too, with its last deployed revision: the upgrade that repairs it must force
// the conflicts that stopped them.
func readDrift(ctx context.Context, client *kube.Client, rel *kube.Release, priorFailed bool,
	prior privateGetter, private privateSetter, diags *diag.Diagnostics) {
	var d releaseDrift
	raw, gd := prior.GetKey(ctx, privateAppliedKey)
	diags.Append(gd...)
	var applied struct {
		Revision int `json:"revision"`
	}
	known := len(raw) > 0 && json.Unmarshal(raw, &applied) == nil && applied.Revision > 0
	switch {
	case rel.Status != kube.ReleaseDeployed:
		// A pending or failed release is planned for by other means (stuck, failed); its
		// revisions moved by helm's own doing.
	case priorFailed || !known:
		recordApplied(ctx, private, rel.Revision, diags)
		return
	case rel.Revision != applied.Revision:
		d.Revision, d.Applied = rel.Revision, applied.Revision
	}
	if rel.Status == kube.ReleaseDeployed || rel.Status == kube.ReleaseFailed {
		var found kube.Drift
		var err error
		if rel.Status == kube.ReleaseDeployed {
			found, err = client.CheckObjects(ctx, rel)
		} else {
			found, d.Deployed, err = client.CheckFailedRelease(ctx, rel)
			if d.Deployed != 0 {
				d.Failed = rel.Revision
			}
		}
		if err != nil {
			tflog.Warn(ctx, "Could not check the chart's objects against the cluster", map[string]any{
				"release": rel.Namespace + "/" + rel.Name, "error": err.Error()})
		}
		for _, o := range found.Missing {
			d.Missing = append(d.Missing, o.String())
		}
		for _, f := range found.Changed {
			d.Changed = append(d.Changed, f.String())
		}
		if len(found.Changed) > 0 {
			tflog.Info(ctx, "Fields of the chart's objects differ from the release's manifest", map[string]any{
				"release": rel.Namespace + "/" + rel.Name, "objects": len(found.Changed)})
		}
		if len(found.Unchecked) > 0 {
			tflog.Debug(ctx, "Some of the chart's objects could not be checked (their kind cannot be listed)", map[string]any{
				"release": rel.Namespace + "/" + rel.Name, "objects": len(found.Unchecked)})
		}
	}
	js, err := json.Marshal(d)
	if err != nil {
		return // strings and ints: cannot fail
	}
	diags.Append(private.SetKey(ctx, privateDriftKey, js)...)
}

// plannedDrift: the last refresh found drift (readDrift), so the apply runs the upgrade.
// It reads what Read recorded, so it costs no request. It warns also when the plan
// upgrades for another reason (a changed configuration), whose upgrade undoes the drift
// as well, but not for a replacement (another name or namespace): the drifted release
// is uninstalled.
func plannedDrift(ctx context.Context, req resource.ModifyPlanRequest, plan, state managedAppModel, diags *diag.Diagnostics) bool {
	st := state.Status.ValueString()
	if req.State.Raw.IsNull() || (st != statusDeployed && st != statusFailed) ||
		!plan.Name.Equal(state.Name) || !plan.Namespace.Equal(state.Namespace) {
		return false
	}
	return driftWarnings(recordedDrift(ctx, req.Private, diags), state.Namespace.ValueString()+"/"+state.Name.ValueString(), diags)
}

// driftSetsBackFields: the refresh before this apply found fields of the chart's objects
// changed out of band, which the apply's upgrade then forces back (see kube's
// ForceConflicts). private is the planned private state (an Update's).
func driftSetsBackFields(ctx context.Context, private privateGetter, diags *diag.Diagnostics) bool {
	return len(recordedDrift(ctx, private, diags).Changed) > 0
}

// driftWarnings says what the refresh found and what the upgrade does about it; false
// when nothing drifted.
func driftWarnings(d releaseDrift, release string, diags *diag.Diagnostics) bool {
	if !d.any() {
		return false
	}
	is := "is deployed"
	if d.Failed != 0 {
		is = fmt.Sprintf("failed at revision %d (its last deployed revision is %d)", d.Failed, d.Deployed)
	}
	if d.Revision != 0 {
		diags.AddWarning("Release changed outside Terraform",
			fmt.Sprintf("helm's release %s is at revision %d, but this provider's last install or upgrade left revision %d: "+
				"someone ran helm on it since (an upgrade with other values or chart, or a rollback). The apply upgrades it back to this configuration.",
				release, d.Revision, d.Applied))
	}
	if len(d.Missing) > 0 {
		diags.AddWarning("Objects of the chart are missing",
			fmt.Sprintf("helm's release %s %s, but %d of the objects its chart made no longer exist (deleted outside Terraform): %s. "+
				"The apply runs helm upgrade, which makes them again.", release, is, len(d.Missing), kube.SummarizeObjects(d.Missing)))
	}
	if len(d.Changed) > 0 {
		diags.AddWarning("Fields of the chart's objects changed outside Terraform",
			fmt.Sprintf("helm's release %s %s, but fields its chart sets differ on %d of its objects (changed outside Terraform, "+
				"e.g. with kubectl edit, scale or set image): %s. The apply runs helm upgrade, which sets them back.",
				release, is, len(d.Changed), kube.SummarizeChanges(d.Changed)))
	}
	return true
}
