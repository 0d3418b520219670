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

// Drift of a deployed release, found by Read and planned back by ModifyPlan: objects of
// the chart deleted out of band (helm's record still says deployed), and a revision made
// outside Terraform (a `helm upgrade` or `helm rollback` from a laptop). Either plans the
// upgrade that brings the release back to the configuration, with a warning that says what
// was found.
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
}

func (d releaseDrift) any() bool { return len(d.Missing) > 0 || d.Revision != 0 }

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
// revisions moved by its own doing: the release's revision becomes the applied one.
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
		// A pending or failed release is planned for by other means (stuck, failed).
	case priorFailed || !known:
		recordApplied(ctx, private, rel.Revision, diags)
		return
	case rel.Revision != applied.Revision:
		d.Revision, d.Applied = rel.Revision, applied.Revision
	}
	if rel.Status == kube.ReleaseDeployed {
		found, err := client.MissingObjects(ctx, rel)
		if err != nil {
			tflog.Warn(ctx, "Could not check the chart's objects against the cluster", map[string]any{
				"release": rel.Namespace + "/" + rel.Name, "error": err.Error()})
		}
		for _, o := range found.Missing {
			d.Missing = append(d.Missing, o.String())
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
func plannedDrift(ctx context.Context, req resource.ModifyPlanRequest, state managedAppModel, diags *diag.Diagnostics) bool {
	if req.State.Raw.IsNull() || state.Status.ValueString() != statusDeployed {
		return false
	}
	raw, gd := req.Private.GetKey(ctx, privateDriftKey)
	diags.Append(gd...)
	return driftWarnings(raw, state.Namespace.ValueString()+"/"+state.Name.ValueString(), diags)
}

// driftWarnings says what the refresh found (raw: privateDriftKey's value) and what the
// upgrade does about it; false when nothing drifted.
func driftWarnings(raw []byte, release string, diags *diag.Diagnostics) bool {
	var d releaseDrift
	if len(raw) == 0 || json.Unmarshal(raw, &d) != nil || !d.any() {
		return false
	}
	if d.Revision != 0 {
		diags.AddWarning("Release changed outside Terraform",
			fmt.Sprintf("helm's release %s is at revision %d, but this provider's last install or upgrade left revision %d: "+
				"someone ran helm on it since (an upgrade with other values or chart, or a rollback). The apply upgrades it back to this configuration.",
				release, d.Revision, d.Applied))
	}
	if len(d.Missing) > 0 {
		diags.AddWarning("Objects of the chart are missing",
			fmt.Sprintf("helm's release %s is deployed, but %d of the objects its chart made no longer exist (deleted outside Terraform): %s. "+
				"The apply runs helm upgrade, which makes them again.", release, len(d.Missing), kube.SummarizeObjects(d.Missing)))
	}
	return true
}
