package apps

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"

	"sigs.k8s.io/yaml"
)

// ClusterIssuerFile is the config file the cert-manager post-install step looks for next to
// values.yaml; when present, its ClusterIssuer is installed as a small release of its own,
// "<release>-cluster-issuer", so that helm (the only tool in the install image) manages it.
const ClusterIssuerFile = "cluster-issuer.yaml"

// Let's Encrypt ACME v2 endpoints.
const (
	LetsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory"
	LetsEncryptStaging    = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// ClusterIssuerOptions describe an ACME ClusterIssuer solving HTTP-01 challenges through
// an ingress class.
type ClusterIssuerOptions struct {
	Name         string // default "letsencrypt-prod"
	Email        string // required: ACME account contact
	Server       string // default LetsEncryptProduction
	IngressClass string // default "nginx"
}

var (
	emailRe = regexp.MustCompile(`^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$`)
	dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// Chart templates are rendered by helm, so nothing that could start a template action
	// ("{{") may reach the manifest; plain URLs cannot contain braces anyway.
	httpsURLRe = regexp.MustCompile(`^https://[A-Za-z0-9.\-]+(:[0-9]+)?(/[A-Za-z0-9._~%/\-]*)?$`)
)

// CertManagerClusterIssuer renders the manifest to pass as ClusterIssuerFile.
func CertManagerClusterIssuer(o ClusterIssuerOptions) (string, error) {
	if o.Name == "" {
		o.Name = "letsencrypt-prod"
	}
	if o.Server == "" {
		o.Server = LetsEncryptProduction
	}
	if o.IngressClass == "" {
		o.IngressClass = "nginx"
	}
	switch {
	case o.Email == "":
		return "", errors.New("cluster issuer: an email address for the ACME account is required")
	case !emailRe.MatchString(o.Email):
		return "", fmt.Errorf("cluster issuer: %q is not an email address", o.Email)
	case len(o.Name) > 63 || !dns1123.MatchString(o.Name):
		return "", fmt.Errorf("cluster issuer: name %q must be a DNS-1123 label", o.Name)
	case len(o.IngressClass) > 63 || !dns1123.MatchString(o.IngressClass):
		return "", fmt.Errorf("cluster issuer: ingress class %q must be a DNS-1123 label", o.IngressClass)
	case !httpsURLRe.MatchString(o.Server):
		return "", fmt.Errorf("cluster issuer: ACME server %q must be an https URL", o.Server)
	}
	doc := map[string]any{
		"apiVersion": "cert-manager.io/v1",
		"kind":       "ClusterIssuer",
		"metadata":   map[string]any{"name": o.Name},
		"spec": map[string]any{
			"acme": map[string]any{
				"server":              o.Server,
				"email":               o.Email,
				"privateKeySecretRef": map[string]any{"name": o.Name + "-account-key"},
				"solvers": []any{map[string]any{
					"http01": map[string]any{"ingress": map[string]any{"ingressClassName": o.IngressClass}},
				}},
			},
		},
	}
	out, err := yaml.Marshal(doc)
	return string(out), err
}

// The steps are shell scripts of their own (run by the install pod's script).
var (
	//go:embed steps/cert-manager-issuer-install.sh
	clusterIssuerInstallStep string
	//go:embed steps/cert-manager-issuer-uninstall.sh
	clusterIssuerUninstallStep string
)
