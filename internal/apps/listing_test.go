package apps

import (
	"strings"
	"testing"
)

// TestHelmFullname pins the rule the managed_app outputs and the release_fullname
// function share, with helm's scaffolded "<chart>.fullname" as the reference.
func TestHelmFullname(t *testing.T) {
	long53 := strings.Repeat("a", 53)
	cases := []struct {
		name, release, chart string
		values               map[string]any
		max                  int
		want                 string
	}{
		{"short names", "web", "podinfo", nil, 0, "web-podinfo"},
		{"release contains the chart", "my-podinfo", "podinfo", nil, 0, "my-podinfo"},
		{"release is the chart", "podinfo", "podinfo", nil, 0, "podinfo"},
		{"chart contains the release is not enough", "pod", "podinfo", nil, 0, "pod-podinfo"},
		{"cut at 63", long53, "kube-prometheus-stack", nil, 0, long53 + "-kube-prom"},
		{"63 exactly stays", strings.Repeat("b", 55), "podinfo", nil, 0, strings.Repeat("b", 55) + "-podinfo"},
		{"cut at 26", "observability", "kube-prometheus-stack", nil, 26, "observability-kube-prometh"},
		{"trailing dash trimmed after the cut", "monitoring-platform1", "kube-prometheus-stack", nil, 26, "monitoring-platform1-kube"},
		{"trailing dash trimmed at 63", strings.Repeat("c", 62), "podinfo", nil, 0, strings.Repeat("c", 62)},
		{"fullnameOverride wins", "web", "podinfo", map[string]any{"fullnameOverride": "edge"}, 0, "edge"},
		{"fullnameOverride wins over contains", "my-podinfo", "podinfo", map[string]any{"fullnameOverride": "edge", "nameOverride": "x"}, 0, "edge"},
		{"fullnameOverride is cut too", "web", "podinfo", map[string]any{"fullnameOverride": strings.Repeat("d", 25) + "-x"}, 26, strings.Repeat("d", 25)},
		{"nameOverride replaces the chart", "web", "podinfo", map[string]any{"nameOverride": "api"}, 0, "web-api"},
		{"release contains nameOverride", "my-api", "podinfo", map[string]any{"nameOverride": "api"}, 0, "my-api"},
		{"empty overrides are unset", "web", "podinfo", map[string]any{"fullnameOverride": "", "nameOverride": ""}, 0, "web-podinfo"},
	}
	for _, tc := range cases {
		if got := HelmFullname(tc.release, tc.chart, tc.values, tc.max); got != tc.want {
			t.Errorf("%s: HelmFullname(%q, %q, %v, %d) = %q, want %q", tc.name, tc.release, tc.chart, tc.values, tc.max, got, tc.want)
		}
	}
}

func TestFullnameLimit(t *testing.T) {
	for name, want := range map[string]int{"prometheus": 26, "ingress-nginx": 63, "cert-manager": 63} {
		a, ok := Lookup(name)
		if !ok {
			t.Fatalf("%s is not in the catalog", name)
		}
		if got := a.FullnameLimit(); got != want {
			t.Errorf("%s: FullnameLimit() = %d, want %d", name, got, want)
		}
	}
}
