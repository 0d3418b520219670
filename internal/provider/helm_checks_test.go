package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// Checks of what real helm, run by the install pods on the local stack, left in the
// cluster: its release records and the chart's live objects.

// expectRelease checks helm's latest release record.
func expectRelease(cs kubernetes.Interface, ns, name string, revision int, status kube.ReleaseStatus, chartVersion string) error {
	r, err := kube.NewClientForInterface(cs).FindRelease(context.Background(), ns, name)
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("helm holds no release %s/%s", ns, name)
	}
	if r.Revision != revision || r.Status != status || r.ChartVersion != chartVersion {
		return fmt.Errorf("release %s/%s: revision %d, %s, chart %s; want revision %d, %s, chart %s",
			ns, name, r.Revision, r.Status, r.ChartVersion, revision, status, chartVersion)
	}
	return nil
}

// releaseSecrets lists helm's release Secrets of a release (one per revision).
func releaseSecrets(cs kubernetes.Interface, ns, name string) ([]string, error) {
	list, err := cs.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=" + name})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range list.Items {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return out, nil
}

// expectDeployment checks a Deployment the chart made: its replicas and, for each of
// annotations, the pod template's annotation.
func expectDeployment(cs kubernetes.Interface, ns, name string, replicas int32, annotations map[string]string) error {
	d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("deployment %s/%s: %w", ns, name, err)
	}
	if d.Spec.Replicas == nil {
		return fmt.Errorf("deployment %s/%s has no replica count, want %d", ns, name, replicas)
	}
	if *d.Spec.Replicas != replicas {
		return fmt.Errorf("deployment %s/%s has %d replicas, want %d", ns, name, *d.Spec.Replicas, replicas)
	}
	for _, k := range slices.Sorted(maps.Keys(annotations)) {
		if got := d.Spec.Template.Annotations[k]; got != annotations[k] {
			return fmt.Errorf("deployment %s/%s: pod annotation %s = %q, want %q", ns, name, k, got, annotations[k])
		}
	}
	if d.Labels["app.kubernetes.io/managed-by"] != "Helm" {
		return fmt.Errorf("deployment %s/%s was not made by helm: labels %v", ns, name, d.Labels)
	}
	return nil
}

// expectChartGone checks that nothing of the release is left: no object labelled with its
// instance among the kinds the test charts make, and no release Secret.
func expectChartGone(cs kubernetes.Interface, ns, release string) error {
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + release}
	var left []string
	if l, err := cs.AppsV1().Deployments(ns).List(ctx, sel); err != nil {
		return err
	} else {
		for _, o := range l.Items {
			left = append(left, "deployment/"+o.Name)
		}
	}
	if l, err := cs.CoreV1().Services(ns).List(ctx, sel); err != nil {
		return err
	} else {
		for _, o := range l.Items {
			left = append(left, "service/"+o.Name)
		}
	}
	if l, err := cs.CoreV1().ConfigMaps(ns).List(ctx, sel); err != nil {
		return err
	} else {
		for _, o := range l.Items {
			left = append(left, "configmap/"+o.Name)
		}
	}
	secrets, err := releaseSecrets(cs, ns, release)
	if err != nil {
		return err
	}
	for _, s := range secrets {
		left = append(left, "secret/"+s)
	}
	if len(left) > 0 {
		return fmt.Errorf("release %s/%s left %v", ns, release, left)
	}
	return nil
}

// certManagerCRD is the CRD cert-manager's chart keeps after an uninstall (crds.keep, the
// catalog's default): a later install under another release name would meet it owned by
// the old release, as on a real cluster.
const certManagerCRD = "clusterissuers.cert-manager.io"

// deleteKeptCRDAtEnd removes such a kept CRD when the test is over, as an operator
// retiring cert-manager for good would.
func deleteKeptCRDAtEnd(t *testing.T, cs kubernetes.Interface, name string) {
	t.Cleanup(func() {
		err := cs.CoreV1().RESTClient().Delete().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + name).Do(context.Background()).Error()
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting CRD %s: %v", name, err)
		}
	})
}
