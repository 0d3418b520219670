package apps

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"sigs.k8s.io/yaml"
)

// Semantic Versioning 2.0.0, with the leading "v" some chart repositories use.
var semverRe = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

func TestCatalog_EveryEntryIsValid(t *testing.T) {
	want := []string{"cert-manager", "cilium", "crossplane", "eck-operator", "fluent-bit", "gitlab-runner",
		"ingress-nginx", "jupyterhub", "knative-operator", "prometheus"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range Names() {
		a, ok := Lookup(name)
		if !ok {
			t.Fatalf("Lookup(%q) failed for a listed name", name)
		}
		t.Run(name, func(t *testing.T) {
			if a.Name != name {
				t.Errorf("Name = %q, registered as %q", a.Name, name)
			}
			// Helm release names are DNS-1123 labels of at most 53 characters.
			if len(a.Name) > 53 || !dns1123.MatchString(a.Name) {
				t.Errorf("name %q is not a DNS-1123 label of at most 53 characters", a.Name)
			}
			if len(a.Namespace) > 63 || !dns1123.MatchString(a.Namespace) {
				t.Errorf("namespace %q is not a DNS-1123 label", a.Namespace)
			}
			u, err := url.Parse(a.Repository)
			if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" {
				t.Errorf("repository %q must be a plain https URL", a.Repository)
			}
			if a.Chart == "" || strings.ContainsAny(a.Chart, "/ \t\n") {
				t.Errorf("chart %q must be a bare chart name", a.Chart)
			}
			if !semverRe.MatchString(a.Version) {
				t.Errorf("version %q is not a pinned semantic version", a.Version)
			}
			if strings.TrimSpace(a.Description) == "" {
				t.Error("description is empty")
			}
			// The support evidence belongs to the pin: a bump must come with a new review.
			if !strings.Contains(a.Support, a.Version) {
				t.Errorf("Support does not name the pinned version %s: %q", a.Version, a.Support)
			}
			if !strings.Contains(a.Support, "Sources: ") {
				t.Errorf("Support lists no sources: %q", a.Support)
			}
			if strings.ContainsAny(a.Support, "\n|") {
				t.Error("Support must be one paragraph without table separators")
			}
			var values map[string]any
			if err := yaml.Unmarshal([]byte(a.DefaultValues), &values); err != nil {
				t.Errorf("default values are not YAML: %v", err)
			} else if len(values) == 0 {
				t.Error("default values must be a non-empty mapping")
			}
			for _, steps := range [][]string{a.PreInstall, a.PostInstall, a.PreUninstall} {
				for _, s := range steps {
					if strings.TrimSpace(s) == "" {
						t.Error("empty shell step")
					}
				}
			}
			for k, v := range a.Outputs {
				if k == "" || v == "" {
					t.Errorf("output %q=%q: empty key or value", k, v)
				}
			}
		})
	}
}

func TestCatalog_UninstallOrder(t *testing.T) {
	ingress, _ := Lookup("ingress-nginx")
	cilium, _ := Lookup("cilium")
	for _, name := range Names() {
		a, _ := Lookup(name)
		if name != "ingress-nginx" && name != "cilium" && a.UninstallOrder >= ingress.UninstallOrder {
			t.Errorf("%s (%d) must be uninstalled before ingress-nginx (%d)", name, a.UninstallOrder, ingress.UninstallOrder)
		}
		if name != "cilium" && a.UninstallOrder >= cilium.UninstallOrder {
			t.Errorf("%s must be uninstalled before the CNI", name)
		}
	}
}

func TestLookup(t *testing.T) {
	if _, ok := Lookup("nope"); ok {
		t.Fatal("Lookup of an unknown name must fail")
	}
	if _, ok := Lookup("Ingress-Nginx"); ok {
		t.Fatal("names are case-sensitive")
	}
	a, ok := Lookup("cert-manager")
	if !ok || a.Chart != "cert-manager" || a.Repository != "https://charts.jetstack.io" {
		t.Fatalf("Lookup(cert-manager) = %+v, %v", a, ok)
	}
	// Lookup hands out copies: changing one must not change the catalog.
	a.PostInstall[0] = "rm -rf /"
	a.Outputs["webhook_service"] = "x"
	b, _ := Lookup("cert-manager")
	if b.PostInstall[0] == "rm -rf /" || b.Outputs["webhook_service"] != "{fullname}-webhook" {
		t.Fatal("Lookup must return a deep copy")
	}
	n := Names()
	n[0] = "zzz"
	if Names()[0] == "zzz" {
		t.Fatal("Names must return a fresh slice")
	}
}

func TestCertManagerClusterIssuer(t *testing.T) {
	out, err := CertManagerClusterIssuer(ClusterIssuerOptions{Email: "ops@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct{ Name string }
		Spec       struct {
			ACME struct {
				Server, Email       string
				PrivateKeySecretRef struct{ Name string } `json:"privateKeySecretRef"`
				Solvers             []struct {
					HTTP01 struct {
						Ingress struct {
							IngressClassName string `json:"ingressClassName"`
						}
					} `json:"http01"`
				}
			} `json:"acme"`
		}
	}
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, out)
	}
	if doc.Kind != "ClusterIssuer" || doc.APIVersion != "cert-manager.io/v1" || doc.Metadata.Name != "letsencrypt-prod" ||
		doc.Spec.ACME.Server != LetsEncryptProduction || doc.Spec.ACME.Email != "ops@example.com" ||
		doc.Spec.ACME.PrivateKeySecretRef.Name != "letsencrypt-prod-account-key" ||
		len(doc.Spec.ACME.Solvers) != 1 || doc.Spec.ACME.Solvers[0].HTTP01.Ingress.IngressClassName != "nginx" {
		t.Fatalf("unexpected issuer:\n%s", out)
	}
	if strings.Contains(out, "{{") {
		t.Fatal("the manifest is rendered by helm: no template actions allowed")
	}
	for _, bad := range []ClusterIssuerOptions{
		{},
		{Email: "not-an-email"},
		{Email: "a@b.com\nkind: Secret"},
		{Email: "{{ .Values }}@x.com"},
		{Email: "a@b.com", Name: "Upper"},
		{Email: "a@b.com", Server: "http://acme.example.com/directory"},
		{Email: "a@b.com", Server: "https://acme.example.com/{{x}}"},
		{Email: "a@b.com", IngressClass: "a b"},
	} {
		if _, err := CertManagerClusterIssuer(bad); err == nil {
			t.Errorf("%+v: expected an error", bad)
		}
	}
	staging, err := CertManagerClusterIssuer(ClusterIssuerOptions{Email: "a@b.io", Name: "le-staging", Server: LetsEncryptStaging})
	if err != nil || !strings.Contains(staging, LetsEncryptStaging) || !strings.Contains(staging, "name: le-staging") {
		t.Fatalf("staging issuer: %v\n%s", err, staging)
	}
	cm, _ := Lookup("cert-manager")
	if !strings.Contains(cm.PostInstall[0], ClusterIssuerFile) || !strings.Contains(cm.PreUninstall[0], "helm uninstall") {
		t.Fatal("cert-manager steps must install the issuer file and remove it before uninstall")
	}
}

func TestSupportReviewed(t *testing.T) {
	if _, err := time.Parse(time.DateOnly, SupportReviewed); err != nil {
		t.Fatalf("SupportReviewed %q is not a date: %v", SupportReviewed, err)
	}
}

// tfplugindocs renders the template with text/template: the published guide must be the
// text itself, template actions of the default values included.
func TestGuideMarkdown_RendersToTheText(t *testing.T) {
	tmpl, err := template.New("catalog").Parse(GuideMarkdown())
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := tmpl.Execute(&out, nil); err != nil {
		t.Fatal(err)
	}
	if out.String() != guideText() {
		t.Fatal("the rendered template differs from the guide's text")
	}
	runner, _ := Lookup("gitlab-runner")
	if !strings.Contains(runner.DefaultValues, "{{.Release.Namespace}}") || !strings.Contains(out.String(), runner.DefaultValues) {
		t.Fatal("the gitlab-runner defaults must reach the guide verbatim")
	}
	text := guideText()
	for _, n := range Names() {
		a, _ := Lookup(n)
		if !strings.Contains(text, "**Support** (reviewed "+SupportReviewed+"): "+a.Support+"\n") {
			t.Errorf("the guide does not show the support evidence of %s", n)
		}
	}
	for _, rule := range []string{"plans an upgrade of every installed", "`version = \"<old pin>\"`", "never plans an upgrade"} {
		if !strings.Contains(text, rule) {
			t.Errorf("the guide does not say %q", rule)
		}
	}
}

// The catalog guide is generated (make docs); a catalog change must come with it.
func TestGuideMarkdown_IsCurrent(t *testing.T) {
	got, err := os.ReadFile("../../templates/guides/catalog.md.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != GuideMarkdown() {
		t.Fatal("templates/guides/catalog.md.tmpl is out of date: run make docs")
	}
	for _, n := range Names() {
		a, _ := Lookup(n)
		row := fmt.Sprintf("| `%s` | `%s` | %s | `%s` |", a.Name, a.Chart, a.Repository, a.Version)
		if !strings.Contains(string(got), row) {
			t.Errorf("the guide has no row for %s (%s)", n, row)
		}
	}
}

func TestResolveOutputs_FollowTheReleaseName(t *testing.T) {
	get := func(app string) App { a, _ := Lookup(app); return a }
	cases := []struct {
		app, release string
		values       map[string]any
		key, want    string
	}{
		// The catalog's own release names give the names the charts are known by.
		{"ingress-nginx", "ingress-nginx", nil, "service", "ingress-nginx-controller"},
		{"cert-manager", "cert-manager", nil, "webhook_service", "cert-manager-webhook"},
		{"prometheus", "prometheus", nil, "prometheus_service", "prometheus-kube-prometheus-prometheus"},
		{"prometheus", "prometheus", nil, "alertmanager_service", "prometheus-kube-prometheus-alertmanager"},
		{"prometheus", "prometheus", nil, "grafana_service", "prometheus-grafana"},
		{"jupyterhub", "hub", nil, "proxy_service", "proxy-public"},
		// Other release names.
		{"ingress-nginx", "web", nil, "service", "web-ingress-nginx-controller"},
		{"ingress-nginx", "my-ingress-nginx", nil, "service", "my-ingress-nginx-controller"},
		{"cert-manager", "certs", nil, "webhook_service", "certs-cert-manager-webhook"},
		// kube-prometheus-stack cuts its fullname at 26 characters, without a trailing "-".
		{"prometheus", "monitoring", nil, "prometheus_service", "monitoring-kube-prometheus-prometheus"},
		{"prometheus", "observability", nil, "prometheus_service", "observability-kube-prometh-prometheus"},
		{"prometheus", "monitoring-platform1", nil, "prometheus_service", "monitoring-platform1-kube-prometheus"},
		{"prometheus", "monitoring", nil, "grafana_service", "monitoring-grafana"},
		// Overrides in the values.
		{"ingress-nginx", "web", map[string]any{"fullnameOverride": "edge"}, "service", "edge-controller"},
		{"ingress-nginx", "web", map[string]any{"nameOverride": "nginx"}, "service", "web-nginx-controller"},
		{"prometheus", "monitoring", map[string]any{"grafana": map[string]any{"fullnameOverride": "dashboards"}}, "grafana_service", "dashboards"},
	}
	for _, tc := range cases {
		if got := get(tc.app).ResolveOutputs(tc.release, tc.values)[tc.key]; got != tc.want {
			t.Errorf("%s release %q %v: %s = %q, want %q", tc.app, tc.release, tc.values, tc.key, got, tc.want)
		}
	}
}
