package kube

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ManagedAppResult is what an install or upgrade did.
type ManagedAppResult struct {
	Pod PodResult
	// Release is helm's record after the install; nil only if helm wrote none where
	// expected (e.g. a chart installed with another storage driver).
	Release *Release
	// Record is the provider's own record of the install, written on the values ConfigMap.
	Record InstallRecord
}

// InstallManagedApp installs or upgrades the app: prerequisites, the install pod, then
// the release record (revision, chart version, status).
func (c *Client) InstallManagedApp(ctx context.Context, spec InstallSpec, logf func(line string)) (ManagedAppResult, error) {
	spec = spec.WithDefaults()
	var res ManagedAppResult
	if err := c.EnsureInstallPrerequisites(ctx, spec); err != nil {
		return res, err
	}
	pod, err := c.RunInstallPod(ctx, spec, ActionInstall, logf)
	res.Pod = pod
	if err != nil {
		if pod.Pod != "" {
			// The pod ran (or was created) and failed: say so on the record, so a Read
			// without helm's record sees it. The install error is what the caller needs;
			// failing to record is only logged. ctx may be over: use a context of our own.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
			defer cancel()
			if rerr := c.recordInstall(rctx, spec, ReleaseFailed, installClock.Now()); rerr != nil && logf != nil {
				logf(fmt.Sprintf("clusterkit: %v", rerr))
			}
		}
		return res, err
	}
	res.Record = InstallRecord{Status: ReleaseDeployed, Chart: spec.Chart, Version: spec.Version, InstalledAt: installClock.Now().UTC().Truncate(time.Second)}
	if err := c.recordInstall(ctx, spec, ReleaseDeployed, res.Record.InstalledAt); err != nil {
		return res, fmt.Errorf("the install pod succeeded, but %w", err)
	}
	res.Release, err = c.FindRelease(ctx, spec.ReleaseNamespace, spec.Name)
	return res, err
}

// UninstallManagedApp runs the uninstall pod (a release that is already gone is fine)
// and then removes the app's prerequisites, and the shared ones after the last app.
func (c *Client) UninstallManagedApp(ctx context.Context, spec InstallSpec, logf func(line string)) (PodResult, error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return PodResult{}, err
	}
	// The uninstall pod needs the service account and its rights, not the values.
	if _, err := c.EnsureNamespace(ctx, spec.Namespace, nil, nil, SharedInstallOwner); err != nil {
		return PodResult{}, err
	}
	if err := c.ensureInstaller(ctx, spec); err != nil {
		return PodResult{}, err
	}
	res, err := c.RunInstallPod(ctx, spec, ActionUninstall, logf)
	if err != nil {
		return res, err
	}
	if _, err := c.DeleteInstallPrerequisites(ctx, spec); err != nil {
		return res, fmt.Errorf("release %s uninstalled, but cleaning up after it failed: %w", spec.Name, err)
	}
	return res, nil
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
