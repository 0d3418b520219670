package kube

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ManagedAppResult is what an install or upgrade did.
type ManagedAppResult struct {
	Pod PodResult
	// Release is helm's record after the install; nil only if helm wrote none where
	// expected (e.g. a chart installed with another storage driver).
	Release *Release
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
		return res, err
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
	if _, err := c.EnsureServiceAccount(ctx, spec.Namespace, spec.ServiceAccount, spec.Owner); err != nil {
		return PodResult{}, err
	}
	if err := c.ensureInstallerBinding(ctx, spec); err != nil {
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
