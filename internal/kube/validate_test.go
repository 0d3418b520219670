package kube

import (
	"strings"
	"testing"
)

func TestMirroredRepository(t *testing.T) {
	mirrors := map[string]string{
		"https://charts.jetstack.io":                 "oci://harbor.example.com/jetstack",
		"https://kubernetes.github.io/ingress-nginx": "https://artifactory.example.com/api/helm/ingress-nginx",
	}
	for repo, want := range map[string]string{
		"https://charts.jetstack.io":                 "oci://harbor.example.com/jetstack",
		"https://charts.jetstack.io/":                "oci://harbor.example.com/jetstack",
		"https://kubernetes.github.io/ingress-nginx": "https://artifactory.example.com/api/helm/ingress-nginx",
		"https://charts.example.com/stable":          "https://charts.example.com/stable",
		"https://charts.jetstack.io/other":           "https://charts.jetstack.io/other",
		"oci://registry-1.docker.io/bitnamicharts/x": "oci://registry-1.docker.io/bitnamicharts/x",
	} {
		if got := MirroredRepository(mirrors, repo); got != want {
			t.Errorf("MirroredRepository(%q) = %q, want %q", repo, got, want)
		}
	}
	if got := MirroredRepository(nil, "https://a.example.com"); got != "https://a.example.com" {
		t.Errorf("no mirrors: %q", got)
	}
}

func TestCheckRepositoryMirrors(t *testing.T) {
	if err := CheckRepositoryMirrors(map[string]string{"https://charts.jetstack.io": "oci://harbor.example.com/jetstack"}); err != nil {
		t.Fatal(err)
	}
	for mirrors, want := range map[[2]string]string{
		{"charts.jetstack.io", "oci://h.example.com/x"}:         `key "charts.jetstack.io" is not an https:// chart repository URL`,
		{"https://charts.jetstack.io", "http://h.example.com"}:  `mirror of "https://charts.jetstack.io": "http://h.example.com" is not an https://`,
		{"https://charts.jetstack.io", "https://u:p@h.example"}: `mirror of "https://charts.jetstack.io": "https://u:p@h.example" is not`,
	} {
		err := CheckRepositoryMirrors(map[string]string{mirrors[0]: mirrors[1]})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%v: error %v, want prefix %q", mirrors, err, want)
		}
	}
}
