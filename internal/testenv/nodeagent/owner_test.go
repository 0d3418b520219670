package nodeagent

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestIsHelmImage(t *testing.T) {
	for image, want := range map[string]bool{
		"alpine/helm:4.3.2":                       true,
		"docker.io/alpine/helm:3.22.0":            true,
		"registry.example.com/mirror/helm:4.3.2":  true,
		"localhost:5000/helm":                     true,
		"helm":                                    true,
		"alpine/helm@sha256:0123456789abcdef0123": true,
		"alpine/helm:4.3.2@sha256:abcdef":         true,
		"alpine/helmfile:1":                       false,
		"alpine/not-helm:1":                       false,
		"helm/chartmuseum:1":                      false,
		"registry.k8s.io/pause:3.10":              false,
		"example.invalid/none:1":                  false,
		"alpine/helm:4.3.2/x":                     false,
	} {
		if got := IsHelmImage(image); got != want {
			t.Errorf("IsHelmImage(%q) = %v, want %v", image, got, want)
		}
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: "busybox"}, {Image: "alpine/helm:3.22.0"}}}}
	if !Owns(pod) {
		t.Error("a pod with a helm container is not owned")
	}
	pod.Spec.Containers = pod.Spec.Containers[:1]
	if Owns(pod) {
		t.Error("a busybox pod is owned")
	}
}

func TestKwokNotOwnedKey(t *testing.T) {
	want := `.spec.containers | map(.image | test("^(?:[^/@]+/)*helm(?::[\\w][\\w.-]*)?(?:@[\\w+.-]+:[[:xdigit:]]+)?$")) | any`
	if got := KwokNotOwnedKey(); got != want {
		t.Fatalf("key\n%s\nwant\n%s", got, want)
	}
}
