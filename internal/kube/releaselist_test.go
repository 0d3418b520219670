package kube

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

func TestListReleases_LatestOfEachAcrossNamespaces(t *testing.T) {
	objs := []runtime.Object{
		EncodeReleaseSecret(Release{Name: "web", Namespace: "shop", Revision: 1, Status: ReleaseSuperseded, ChartName: "demo", ChartVersion: "0.1.0"}),
		EncodeReleaseSecret(Release{Name: "web", Namespace: "shop", Revision: 2, ChartName: "demo", ChartVersion: "0.2.0"}),
		// Same release name in another namespace: another release.
		EncodeReleaseSecret(Release{Name: "web", Namespace: "blog", Revision: 3, Status: ReleaseFailed, ChartName: "demo", ChartVersion: "0.3.0"}),
		EncodeReleaseSecret(Release{Name: "gone", Namespace: "shop", Revision: 1, Status: ReleaseUninstalled, ChartName: "demo", ChartVersion: "0.1.0"}),
	}
	broken := EncodeReleaseSecret(Release{Name: "broken", Namespace: "shop", Revision: 1})
	broken.Data["release"] = []byte("not base64!")
	notHelm := EncodeReleaseSecret(Release{Name: "other", Namespace: "shop", Revision: 1})
	notHelm.Name, notHelm.Type = "other", corev1.SecretTypeOpaque
	objs = append(objs, broken, notHelm)
	// clusterkit's values Secret of app "web", with sensitive values; one of "blog" without.
	for app, data := range map[string]map[string][]byte{"web": {SecretValuesFile: []byte("password: x")}, "blog": {RepositoryPasswordFile: []byte("x")}} {
		objs = append(objs, &corev1.Secret{ObjectMeta: ownedMeta(ValuesSecretName(app), DefaultInstallNamespace, "managed_app/x", map[string]string{LabelApp: app}), Data: data})
	}
	c := NewClientForInterface(fake.NewClientset(objs...))

	got, err := c.ListReleases(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got.Releases {
		names = append(names, r.Namespace+"/"+r.Name+" "+r.ChartVersion+" "+string(r.Status))
	}
	want := []string{"blog/web 0.3.0 failed", "shop/web 0.2.0 deployed"}
	if len(names) != len(want) || names[0] != want[0] || names[1] != want[1] {
		t.Fatalf("releases %q, want %q", names, want)
	}
	if len(got.Unreadable) != 1 || got.Unreadable[0].Secret != "sh.helm.release.v1.broken.v1" {
		t.Fatalf("unreadable %v, want the broken record", got.Unreadable)
	}

	if len(got.SensitiveValues) != 1 || !got.SensitiveValues["web"] || got.SensitiveUnknown {
		t.Fatalf("sensitive values %v (unknown %v), want web's", got.SensitiveValues, got.SensitiveUnknown)
	}

	only, err := c.ListReleases(context.Background(), []string{"blog", "blog", "absent"})
	if err != nil {
		t.Fatal(err)
	}
	if len(only.Releases) != 1 || only.Releases[0].Namespace != "blog" || only.Releases[0].Revision != 3 {
		t.Fatalf("releases in blog: %+v", only.Releases)
	}
}
