package kube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// deployments renders a manifest of one-container Deployments (name=image) and, when
// message is set, a ConfigMap web-cfg holding it.
func deployments(message string, nameImage ...string) string {
	var b strings.Builder
	if message != "" {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-cfg\ndata:\n  message: %s\n", message)
	}
	for i := 0; i < len(nameImage); i += 2 {
		fmt.Fprintf(&b, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers: [{name: app, image: %q}]\n",
			nameImage[i], nameImage[i+1])
	}
	return b.String()
}

// recordWithManifest is helm's record of revision rev of release web in namespace web.
func recordWithManifest(t *testing.T, rev int, status ReleaseStatus, manifest string) (*corev1.Secret, *Release) {
	t.Helper()
	objs, err := manifestObjects(manifest)
	if err != nil {
		t.Fatal(err)
	}
	r := Release{Name: "web", Namespace: "web", Revision: rev, Status: status, ChartName: "web", ChartVersion: "1.0.0"}
	s := EncodeReleaseSecret(r)
	// EncodeReleaseSecret writes names only: put the manifest with its fields in.
	hr := helmRelease{Name: "web", Namespace: "web", Version: rev, Manifest: manifest, Info: &helmInfo{Status: string(status)}}
	s.Data["release"] = encodeRecord(t, hr)
	r.Objects = objs
	return s, &r
}

// encodeRecord is hr as helm before 3.1 stored it (base64 of plain JSON), which helm and
// decodeReleaseSecret still read.
func encodeRecord(t *testing.T, hr helmRelease) []byte {
	t.Helper()
	js, err := json.Marshal(hr)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(base64.StdEncoding.EncodeToString(js))
}

func liveApp(name, image string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: name},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}}}
}

// A release whose upgrade and rollback failed: an object drifted only when it matches
// neither the last deployed revision nor the failed one, named against the deployed one.
func TestCheckFailedRelease(t *testing.T) {
	deployedSecret, _ := recordWithManifest(t, 1, ReleaseDeployed, deployments("one",
		"web-app", "busybox:1", "web-both", "both:1", "web-old", "old:1", "web-keep", "keep:1", "web-next", "next:1"))
	// Revision 2 is the failed upgrade, superseded by the rollback (3) that failed as well;
	// helm keeps revision 1 deployed.
	upgradeSecret, _ := recordWithManifest(t, 2, ReleaseSuperseded, deployments("two", "web-app", "busybox:2"))
	failedSecret, failed := recordWithManifest(t, 3, ReleaseFailed, deployments("two",
		"web-app", "busybox:2", "web-both", "both:1", "web-new", "new:1", "web-next", "next:2"))
	c, _, _ := fieldsStack(t, []runtime.Object{deployedSecret, upgradeSecret, failedSecret,
		// The failed upgrade applied the ConfigMap and web-next, then stopped.
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "web-cfg"}, Data: map[string]string{"message": "two"}},
		liveApp("web-next", "next:2"),
		// Edited by hand: matches neither revision.
		liveApp("web-app", "edited:1"),
		// Only the deployed revision has it, and someone changed it.
		liveApp("web-keep", "keep:2"),
		// web-both is gone though both revisions have it; web-old is gone and only the
		// deployed revision has it (the upgrade may have removed it); web-new was never made.
	})
	d, deployed, err := c.CheckFailedRelease(context.Background(), failed)
	if err != nil {
		t.Fatal(err)
	}
	if deployed != 1 {
		t.Errorf("last deployed revision %d, want 1", deployed)
	}
	var missing, changed []string
	for _, o := range d.Missing {
		missing = append(missing, o.String())
	}
	for _, f := range d.Changed {
		changed = append(changed, f.String())
	}
	if want := []string{"Deployment web/web-both"}; !slices.Equal(missing, want) {
		t.Errorf("missing %q, want %q", missing, want)
	}
	if want := []string{
		"Deployment web/web-app: image of container app is edited:1 (chart: busybox:1)",
		"Deployment web/web-keep: image of container app is keep:2 (chart: keep:1)",
	}; !slices.Equal(changed, want) {
		t.Errorf("changed %q\nwant %q", changed, want)
	}

	// A failed first install has no deployed revision: nothing to check against.
	onlySecret, only := recordWithManifest(t, 1, ReleaseFailed, deployments("", "web-app", "busybox:1"))
	c, _, _ = fieldsStack(t, []runtime.Object{onlySecret})
	if d, deployed, err := c.CheckFailedRelease(context.Background(), only); err != nil || deployed != 0 || len(d.Missing)+len(d.Changed) != 0 {
		t.Errorf("failed first install: %+v, deployed %d, %v", d, deployed, err)
	}
	// A deployed release is CheckObjects' business.
	if _, deployed, err := c.CheckFailedRelease(context.Background(), &Release{Name: "web", Namespace: "web", Status: ReleaseDeployed}); err != nil || deployed != 0 {
		t.Errorf("deployed release: deployed %d, %v", deployed, err)
	}
}
