package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ManagedApp owns one managed app's lifecycle on a cluster: the install prerequisites,
// the install and upgrade pod, the uninstall order, the uninstall pod and the cleanup
// after it, and the release's status. The provider's resource maps Terraform onto it and
// holds none of these steps itself.
type ManagedApp struct {
	c    *Client
	spec InstallSpec
}

// ManagedApp is the lifecycle of the app spec describes.
func (c *Client) ManagedApp(spec InstallSpec) *ManagedApp {
	return &ManagedApp{c: c, spec: spec.WithDefaults()}
}

// ManagedAppResult is what an install or upgrade did.
type ManagedAppResult struct {
	Pod PodResult
	// Release is helm's record after the install; nil only if helm wrote none where
	// expected (e.g. a chart installed with another storage driver).
	Release *Release
	// Recovered is what the install pod did to a release it found stuck (left pending by
	// a helm stopped mid-operation) before it ran the install or upgrade: a pending first
	// install uninstalled, a pending upgrade or rollback rolled back to the last deployed
	// revision. Empty when the release was not stuck.
	Recovered []Recovery
}

// conflictAttempts bounds the retries of steps that race with other apps of the same run
// (the shared install namespace and its objects are created and deleted by any of them).
const conflictAttempts = 4

// Install installs or upgrades the app: it makes the prerequisites (retrying a create that
// raced with another app's, and waiting out a shared install namespace still being deleted
// by the last app's destroy), runs the install pod, and reads helm's release record.
func (a *ManagedApp) Install(ctx context.Context, logf func(line string)) (ManagedAppResult, error) {
	spec, c := a.spec, a.c
	var res ManagedAppResult
	if err := spec.Validate(); err != nil {
		return res, err
	}
	c.forgetRelease(spec.ReleaseNamespace, spec.Name) // helm writes its record: read it fresh from now on
	c.forgetObjectLists(spec.ReleaseNamespace)        // and the chart's objects
	defer a.revokeInstallRights(ctx, logf)
	err := c.EnsureInstallPrerequisites(ctx, spec)
	for attempt := 1; attempt < conflictAttempts && a.retryPrerequisites(err); attempt++ {
		if installNamespaceTerminating(err, spec) {
			// The last app's destroy is deleting the shared install namespace.
			if err := c.WaitNamespaceGone(ctx, spec.Namespace); err != nil {
				return res, err
			}
		}
		// The loser of a race to create a shared object gets 409 AlreadyExists; ensuring
		// again finds the winner's object.
		err = c.EnsureInstallPrerequisites(ctx, spec)
	}
	if err != nil {
		return res, err
	}
	pod, err := c.RunInstallPod(ctx, spec, ActionInstall, logf)
	res.Pod, res.Recovered = pod, pod.Recovered
	if err != nil {
		return res, err
	}
	res.Release, err = c.FindReleaseAfterWait(ctx, spec.ReleaseNamespace, spec.Name)
	return res, err
}

// UninstallOptions tune Uninstall.
type UninstallOptions struct {
	// Timeout is how long the whole delete may take: other apps wait for this one's
	// uninstall mark until then.
	Timeout time.Duration
	// FailedInstall: the app's last install failed, so a missing release is expected
	// (rollback on failure purges a failed first install) and needs no uninstall pod.
	FailedInstall bool
	// Settle is how long to give the deletes of the same run to mark themselves (default
	// DefaultUninstallSettle).
	Settle time.Duration
}

// UninstallResult is what an uninstall did.
type UninstallResult struct {
	// WaitedFor are the apps this one waited for (uninstall order), in name order.
	WaitedFor []string
	// Pod is the uninstall pod; empty when there was no release to uninstall.
	Pod PodResult
	// LeftPending is the release as the uninstall found it when helm had left it pending
	// (an install or upgrade stopped midway); helm's uninstall removes it all the same.
	LeftPending *Release
}

// Uninstall removes the app: it marks the app as uninstalling (so apps that go after it
// wait), waits for the apps that go before it, runs the uninstall pod, then removes the
// app's prerequisites and, after the last app, starts deleting the shared install
// namespace (Install waits out one still terminating). A failed uninstall clears the
// mark again.
func (a *ManagedApp) Uninstall(ctx context.Context, opts UninstallOptions, logf func(line string)) (res UninstallResult, err error) {
	spec, c := a.spec, a.c
	if opts.Settle == 0 {
		opts.Settle = DefaultUninstallSettle
	}
	if err := spec.Validate(); err != nil {
		return res, err
	}
	c.forgetRelease(spec.ReleaseNamespace, spec.Name)
	c.forgetObjectLists(spec.ReleaseNamespace)
	if err := c.MarkUninstalling(ctx, spec, opts.Timeout); err != nil {
		return res, err
	}
	defer func() {
		if err != nil {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
			defer cancel()
			if uerr := c.UnmarkUninstalling(uctx, spec); uerr != nil && logf != nil {
				logf(fmt.Sprintf("clusterkit: could not clear the uninstalling mark; other apps wait for it until its deadline: %v", uerr))
			}
		}
	}()
	rel, err := c.FindRelease(ctx, spec.ReleaseNamespace, spec.Name)
	if err != nil {
		return res, err
	}
	if rel != nil && rel.Status.Pending() {
		res.LeftPending = rel
	}
	if !opts.FailedInstall || rel != nil {
		if res.WaitedFor, err = c.WaitForEarlierUninstalls(ctx, spec, opts.Settle); err != nil {
			return res, err
		}
		if res.Pod, err = a.runUninstallPod(ctx, logf); err != nil {
			return res, err
		}
	}
	// The shared install namespace, deleted after the last app, is not waited for: its
	// finalization takes seconds, and an install that meets it terminating waits it out.
	_, err = c.DeleteInstallPrerequisites(ctx, spec)
	for attempt := 1; attempt < conflictAttempts && IsConflict(err); attempt++ {
		// Another app's destroy got to the shared namespace first (deleting it twice
		// conflicts); looking again finds it terminating.
		_, err = c.DeleteInstallPrerequisites(ctx, spec)
	}
	if err != nil {
		return res, fmt.Errorf("release %s uninstalled, but cleaning up after it failed: %w", spec.Name, err)
	}
	return res, nil
}

// runUninstallPod runs the uninstall pod with what it needs: the service account and its
// rights, and the values ConfigMap when the catalog has pre-uninstall steps (they are
// files in it).
func (a *ManagedApp) runUninstallPod(ctx context.Context, logf func(line string)) (PodResult, error) {
	spec, c := a.spec, a.c
	prepare := func() error {
		if err := c.ensureNamespaceOnce(ctx, spec.Namespace, SharedInstallOwner); err != nil {
			return err
		}
		return c.ensureInstaller(ctx, spec)
	}
	err := prepare()
	if a.forgetGoneNamespaces(err) {
		err = prepare()
	}
	if err != nil {
		return PodResult{}, err
	}
	defer a.revokeInstallRights(ctx, logf)
	if len(spec.PreUninstall) > 0 {
		if err := c.ensureValuesConfigMap(ctx, spec); err != nil {
			return PodResult{}, err
		}
	}
	return c.RunInstallPod(ctx, spec, ActionUninstall, logf)
}

// retryPrerequisites: making the install prerequisites failed in a way that ensuring
// them again resolves (a race lost to another app of the run, a namespace remembered
// from earlier in the run but deleted since, the install namespace being deleted).
func (a *ManagedApp) retryPrerequisites(err error) bool {
	return a.forgetGoneNamespaces(err) || IsConflict(err) || installNamespaceTerminating(err, a.spec)
}

// forgetGoneNamespaces: err says a namespace of the app is gone or being deleted, so
// this run's memory of the app's namespaces is dropped and the next ensure reads them.
func (a *ManagedApp) forgetGoneNamespaces(err error) bool {
	if !namespaceGone(err) {
		return false
	}
	a.c.namespaces.forget(a.spec.Namespace, a.spec.ReleaseNamespace)
	return true
}

// installNamespaceTerminating: err says the app's install namespace is being deleted.
func installNamespaceTerminating(err error, spec InstallSpec) bool {
	var term *NamespaceTerminatingError
	return errors.As(err, &term) && term.Name == spec.Namespace
}

// revokeInstallRights takes the installer's rights away once its pod is done (RunInstallPod
// returns only when the pod finished or was deleted), also when ctx has ended, so the
// installer holds cluster-admin, or admin in the release namespace, only while a pod runs.
// A failure is reported, not returned: the release itself is what the caller asked about.
func (a *ManagedApp) revokeInstallRights(ctx context.Context, logf func(line string)) {
	if a.spec.ExternalServiceAccount {
		return // the user's service account holds rights of the user's choosing
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.c.timeout)
	defer cancel()
	if err := a.c.revokeInstallRights(rctx, a.spec); err != nil && logf != nil {
		logf(fmt.Sprintf("clusterkit: WARNING: the installer's rights could not be removed, %s still grants them: %v",
			InstallerBindingName(a.spec), err))
	}
}

// Release is helm's record of the app's release; nil when helm holds none. It comes from
// this run's list of the namespace's records (FindReleaseCached) unless this run changed
// the release.
func (a *ManagedApp) Release(ctx context.Context) (*Release, error) {
	return a.c.FindReleaseCached(ctx, a.spec.ReleaseNamespace, a.spec.Name)
}

// OperationRunning reports whether one of the app's install or uninstall pods is still at
// work (not finished, not being deleted): then a pending release is that pod's operation in
// progress, not a stuck one. ended: one of them ran to its end (Succeeded or Failed) and is
// still there, evidence that the pending release is this app's own operation that stopped
// midway; with no pod at all, the operation may as well be another helm client's.
func (a *ManagedApp) OperationRunning(ctx context.Context) (running, ended bool, err error) {
	for _, action := range []Action{ActionInstall, ActionUninstall} {
		name := InstallPodName(a.spec.Name, action)
		var p *corev1.Pod
		err := a.c.retryCall(ctx, "read pod "+a.spec.Namespace+"/"+name, readAttempts, nil, func() error {
			var err error
			p, err = a.c.cs.CoreV1().Pods(a.spec.Namespace).Get(ctx, name, metav1.GetOptions{})
			return err
		})
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return false, false, wrap("read pod "+a.spec.Namespace+"/"+name, err)
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
			ended = true
		case p.DeletionTimestamp == nil:
			return true, false, nil
		}
	}
	return false, ended, nil
}

// FindLoadBalancerAddress is the first address a LoadBalancer Service was given (host name
// or IP), "" while it has none or when the Service does not exist.
func (c *Client) FindLoadBalancerAddress(ctx context.Context, namespace, service string) (string, error) {
	svc, err := c.cs.CoreV1().Services(namespace).Get(ctx, service, metav1.GetOptions{})
	if IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", wrap("read service "+namespace+"/"+service, err)
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.Hostname != "" {
			return in.Hostname, nil
		}
		if in.IP != "" {
			return in.IP, nil
		}
	}
	return "", nil
}
