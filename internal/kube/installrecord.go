package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The provider's own record of the last install, kept as annotations on the app's values
// ConfigMap. It stands in for helm's release record where helm keeps none the provider
// can read (another storage driver, or a test cluster where no real helm runs).
const (
	AnnotationInstallStatus    = "clusterkit.dev/install-status"
	AnnotationInstalledChart   = "clusterkit.dev/installed-chart"
	AnnotationInstalledVersion = "clusterkit.dev/installed-version"
	AnnotationInstalledAt      = "clusterkit.dev/installed-at"
)

// InstallRecord is what the provider recorded about an app's installs.
type InstallRecord struct {
	// Status is ReleaseDeployed after a successful install pod, ReleaseFailed after a
	// failed or timed-out one, and ReleaseUnknown when no install has finished yet.
	Status ReleaseStatus
	// Chart, Version and InstalledAt describe the last successful install; empty before one.
	Chart       string
	Version     string
	InstalledAt time.Time
}

// FindInstallRecord reads the record from the app's values ConfigMap. It returns nil when
// the ConfigMap is gone or belongs to someone else: the app's install objects no longer
// exist, so nothing stands behind the release.
func (c *Client) FindInstallRecord(ctx context.Context, spec InstallSpec) (*InstallRecord, error) {
	spec = spec.WithDefaults()
	name := ValuesConfigMapName(spec.Name)
	cm, err := c.cs.CoreV1().ConfigMaps(spec.Namespace).Get(ctx, name, metav1.GetOptions{})
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("read config map %s/%s", spec.Namespace, name), err)
	}
	if !Owned(cm, spec.Owner) {
		return nil, nil
	}
	a := cm.Annotations
	rec := &InstallRecord{
		Status:  ReleaseUnknown,
		Chart:   a[AnnotationInstalledChart],
		Version: a[AnnotationInstalledVersion],
	}
	switch ReleaseStatus(a[AnnotationInstallStatus]) {
	case ReleaseDeployed:
		rec.Status = ReleaseDeployed
	case ReleaseFailed:
		rec.Status = ReleaseFailed
	}
	if at, err := time.Parse(time.RFC3339, a[AnnotationInstalledAt]); err == nil {
		rec.InstalledAt = at
	}
	return rec, nil
}

// recordInstall writes the outcome of an install pod on the values ConfigMap. A failure
// keeps the description of the last successful install.
func (c *Client) recordInstall(ctx context.Context, spec InstallSpec, status ReleaseStatus, at time.Time) error {
	ann := map[string]string{AnnotationInstallStatus: string(status)}
	if status == ReleaseDeployed {
		ann[AnnotationInstalledChart] = spec.Chart
		ann[AnnotationInstalledVersion] = spec.Version
		ann[AnnotationInstalledAt] = at.UTC().Format(time.RFC3339)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
	if err != nil {
		return err
	}
	name := ValuesConfigMapName(spec.Name)
	_, err = c.cs.CoreV1().ConfigMaps(spec.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	return wrap(fmt.Sprintf("record the install on config map %s/%s", spec.Namespace, name), err)
}
