package kube

import (
	"context"
)

// Drift of a failed release. When a Helm 4 upgrade stops at a field conflict and its
// rollback stops at the same one, helm's latest revision is failed and the one before the
// upgrade is still its deployed revision: the next `helm upgrade` works from that one
// (helm's "current release"). The cluster then runs a mix of the two revisions, object by
// object: helm applies each object whole, in manifest order, and stops at the first it
// cannot apply. So an object has drifted only when it matches neither revision: missing
// although both have it, or fields that differ from both (named against the deployed
// revision, what helm reports as deployed). Without such drift found, the next upgrade
// would not force the conflicts, and fail again the same way.

// CheckFailedRelease checks failed, a release whose latest revision failed, against the
// cluster and its last deployed revision. It returns that revision's number, 0 (and no
// drift) when there is none, e.g. a first install that failed.
func (c *Client) CheckFailedRelease(ctx context.Context, failed *Release) (Drift, int, error) {
	if failed == nil || failed.Status != ReleaseFailed {
		return Drift{}, 0, nil
	}
	deployed, err := c.findRelease(ctx, failed.Namespace, failed.Name, readAttempts, ReleaseDeployed)
	if err != nil || deployed == nil {
		return Drift{}, 0, err
	}
	d, err := c.CheckObjects(ctx, deployed)
	if err != nil {
		return Drift{}, deployed.Revision, err
	}
	// The same run's lists serve both checks: no request of its own.
	f, err := c.CheckObjects(ctx, failed)
	if err != nil {
		return Drift{}, deployed.Revision, err
	}
	inFailed, missingThere, changedThere := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, o := range f.Missing {
		missingThere[o.String()] = true
	}
	for _, ch := range f.Changed {
		changedThere[ch.Object.String()] = true
	}
	for _, o := range failedRefs(failed) {
		inFailed[o] = true
	}
	out := Drift{Unchecked: d.Unchecked}
	for _, o := range d.Missing {
		// Only in the deployed revision: the failed upgrade may have removed it.
		if missingThere[o.String()] {
			out.Missing = append(out.Missing, o)
		}
	}
	for _, ch := range d.Changed {
		// An object the failed revision does not have was not touched by it.
		if k := ch.Object.String(); !inFailed[k] || changedThere[k] {
			out.Changed = append(out.Changed, ch)
		}
	}
	return out, deployed.Revision, nil
}

// failedRefs names the failed revision's objects as CheckObjects names them. A namespaced
// object without a namespace in the manifest is the release namespace's; a cluster-scoped
// one is named without, so both spellings count (the manifest does not say which it is).
func failedRefs(rel *Release) []string {
	var out []string
	for _, o := range rel.Objects {
		out = append(out, o.String())
		if o.Namespace == "" {
			o.Namespace = rel.Namespace
			out = append(out, o.String())
		}
	}
	return out
}
