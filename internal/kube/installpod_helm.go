package kube

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Helm's switches for an install or upgrade, and values given as several documents. They
// reach the install script as environment variables (see installpod.sh), never as shell.

// DefaultHistoryMax is helm's own default for --history-max: the release records kept.
const DefaultHistoryMax = 10

// HelmOptions are helm upgrade --install's switches. A nil pointer is the default (after
// WithDefaults none is nil), so a spec that sets none runs helm as clusterkit always did:
// --wait, rollback on failure, --cleanup-on-fail, helm's default history.
type HelmOptions struct {
	// Wait (default true): --wait, helm waits until the release's resources are ready.
	Wait *bool
	// WaitForJobs: --wait-for-jobs, and Jobs must have completed too (needs Wait).
	WaitForJobs bool
	// RollbackOnFailure (default true): Helm 4's --rollback-on-failure, Helm 3's --atomic.
	// A failed upgrade is rolled back, a failed first install uninstalled. Needs Wait:
	// helm cannot tell a failure otherwise.
	RollbackOnFailure *bool
	// CleanupOnFail (default true): --cleanup-on-fail, objects a failed upgrade created
	// are deleted.
	CleanupOnFail *bool
	// SkipCRDs: --skip-crds, the chart's crds/ directory is not installed.
	SkipCRDs bool
	// HistoryMax (default DefaultHistoryMax): --history-max, 0 for no limit.
	HistoryMax *int
	// TakeOwnership: --take-ownership (Helm 3.17 and later), objects that exist without
	// belonging to the release are adopted instead of failing the install.
	TakeOwnership bool
	// DependencyUpdate: --dependency-update, helm fetches dependencies the chart lacks.
	DependencyUpdate bool
	// ForceConflicts: the upgrade sets back fields of the chart that another field
	// manager changed (kubectl edit, scale, set image), which Helm 4's server-side apply
	// refuses as conflicts unless it forces (--force-conflicts; TakeOwnership forces too).
	// Helm 3's three-way merge, and Helm 4's on a release applied client-side, set them
	// back anyway. Not a user's switch: the provider sets it for the upgrade that undoes
	// field drift.
	ForceConflicts bool
}

// WithDefaults returns the options with every unset one at its default.
func (o HelmOptions) WithDefaults() HelmOptions {
	yes := func() *bool { b := true; return &b }
	if o.Wait == nil {
		o.Wait = yes()
	}
	if o.RollbackOnFailure == nil {
		o.RollbackOnFailure = yes()
	}
	if o.CleanupOnFail == nil {
		o.CleanupOnFail = yes()
	}
	if o.HistoryMax == nil {
		n := DefaultHistoryMax
		o.HistoryMax = &n
	}
	return o
}

// HelmOptionError is a switch that contradicts another; Option is the provider's name of
// the switch at fault (wait, wait_for_jobs, max_history).
type HelmOptionError struct {
	Option string
	Msg    string
}

func (e *HelmOptionError) Error() string { return e.Msg }

// Check reports combinations helm would silently change or ignore, in the provider's
// attribute names (the resource maps them one to one).
func (o HelmOptions) Check() error {
	o = o.WithDefaults()
	var errs []error
	if !*o.Wait && *o.RollbackOnFailure {
		// Helm turns --wait back on for a rollback on failure: say so rather than ignore it.
		errs = append(errs, &HelmOptionError{"wait", "wait = false needs atomic = false: rolling back on failure makes helm wait for the resources anyway, to know whether they failed"})
	}
	if !*o.Wait && o.WaitForJobs {
		errs = append(errs, &HelmOptionError{"wait_for_jobs", "wait_for_jobs = true needs wait = true: helm waits for Jobs only while it waits for the other resources"})
	}
	if *o.HistoryMax < 0 {
		errs = append(errs, &HelmOptionError{"max_history", fmt.Sprintf("max_history %d must be 0 (no limit) or more", *o.HistoryMax)})
	}
	return errors.Join(errs...)
}

// helmInputs are the options as the script's environment variables (see installpod.sh).
func (o HelmOptions) helmInputs() []corev1.EnvVar {
	o = o.WithDefaults()
	b := strconv.FormatBool
	return []corev1.EnvVar{
		{Name: "WAIT", Value: b(*o.Wait)},
		{Name: "WAIT_FOR_JOBS", Value: b(o.WaitForJobs)},
		{Name: "ROLLBACK_ON_FAILURE", Value: b(*o.RollbackOnFailure)},
		{Name: "CLEANUP_ON_FAIL", Value: b(*o.CleanupOnFail)},
		{Name: "SKIP_CRDS", Value: b(o.SkipCRDs)},
		{Name: "HISTORY_MAX", Value: strconv.Itoa(*o.HistoryMax)},
		{Name: "TAKE_OWNERSHIP", Value: b(o.TakeOwnership)},
		{Name: "DEPENDENCY_UPDATE", Value: b(o.DependencyUpdate)},
		{Name: "FORCE_CONFLICTS", Value: b(o.ForceConflicts)},
	}
}

// MoreValuesFile is the values ConfigMap's key (and the pod's file) of MoreValues[i]:
// values-1.yaml, values-2.yaml, ... after values.yaml, which holds the first document.
func MoreValuesFile(i int) string { return "values-" + strconv.Itoa(i+1) + ".yaml" }

// moreValuesFileRe matches the names MoreValuesFile gives, which extra files may not take.
var moreValuesFileRe = regexp.MustCompile(`^values-[0-9]+\.yaml$`)

// checkMoreValues: each further values document must be a YAML mapping; the error names
// the document as the provider's values list counts it (values.yaml is values[0]).
func checkMoreValues(docs []string) error {
	var errs []error
	for i, d := range docs {
		if err := validateValuesYAML(d); err != nil {
			errs = append(errs, fmt.Errorf("values[%d]: %w", i+1, err))
		}
	}
	return errors.Join(errs...)
}

// FieldConflict: helm's server-side apply (Helm 4) stopped at fields another field manager
// owns (kubectl edit, a controller), as the API server words it ("Apply failed with 1
// conflict: conflict with \"kubectl-edit\" ..."): a forced upgrade (TakeOwnership,
// ForceConflicts) takes them back.
func (e *InstallFailedError) FieldConflict() bool {
	line := strings.ToLower(e.HelmError)
	return strings.Contains(line, "apply failed with") && strings.Contains(line, " conflict")
}
