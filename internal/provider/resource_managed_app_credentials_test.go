package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

const credentialsConfig = `
variable "private_repo" { type = string }
variable "private_registry" { type = string }
variable "username" { type = string }
variable "password" {
  type      = string
  sensitive = true
}
variable "password_version" { type = string }

resource "clusterkit_managed_app" "http" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name      = "ck-ma-private"
  namespace = "ck-ma-private-ns"
  chart = {
    repository = var.private_repo
    name       = "demo"
    version    = "0.1.0"
  }
  repository_username         = var.username
  repository_password         = var.password
  repository_password_version = var.password_version
}

resource "clusterkit_managed_app" "oci" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name      = "ck-ma-registry"
  namespace = "ck-ma-private-ns"
  chart = {
    repository = var.private_registry
    name       = "demo"
    version    = "0.2.0"
  }
  repository_username = var.username
  repository_password = var.password
}
`

// TestAccManagedApp_RepositoryCredentials installs the demo chart from the stack's HTTP
// repository and OCI registry that need basic auth: the password reaches helm (through the
// app's Secret) and nothing else, a wrong one is refused in helm's words, and a rotated one
// is applied by bumping repository_password_version.
func TestAccManagedApp_RepositoryCredentials(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	const ns = "ck-ma-private-ns"
	deleteNamespaceAtEnd(t, cs, ns)
	password := os.Getenv("CLUSTERKIT_TEST_CHART_PASSWORD")
	if password == "" {
		t.Fatal("CLUSTERKIT_TEST_CHART_PASSWORD is not set: the stack's chart sources are missing")
	}
	vars := func(pw, version string) config.Variables {
		return managedAppVars(t, s, config.Variables{
			"private_repo":     config.StringVariable(os.Getenv("CLUSTERKIT_TEST_CHART_PRIVATE_REPO_URL")),
			"private_registry": config.StringVariable(os.Getenv("CLUSTERKIT_TEST_OCI_REGISTRY")),
			"username":         config.StringVariable(os.Getenv("CLUSTERKIT_TEST_CHART_USERNAME")),
			"password":         config.StringVariable(pw),
			"password_version": config.StringVariable(version),
		})
	}
	const wrong = "not-the-Password-42"
	// The password is in the app's Secret and nowhere in Terraform's state.
	onlyInSecret := func(pw string) func(*terraform.State) error {
		return func(st *terraform.State) error {
			for _, m := range st.Modules {
				for addr, r := range m.Resources {
					for k, v := range r.Primary.Attributes {
						if strings.Contains(v, pw) {
							return fmt.Errorf("%s.%s holds the repository password", addr, k)
						}
					}
				}
			}
			sec, err := cs.CoreV1().Secrets(installNS).Get(ctx, kube.ValuesSecretName("ck-ma-private"), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if string(sec.Data[kube.RepositoryPasswordFile]) != pw {
				return fmt.Errorf("the app's Secret does not hold the current password")
			}
			cm, err := cs.CoreV1().ConfigMaps(installNS).Get(ctx, kube.ValuesConfigMapName("ck-ma-private"), metav1.GetOptions{})
			if err != nil {
				return err
			}
			for k, v := range cm.Data {
				if strings.Contains(v, pw) {
					return fmt.Errorf("the values ConfigMap's %s holds the password", k)
				}
			}
			return nil
		}
	}
	cfg := providerCharts + integrationVarsHCL + credentialsConfig
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if err := expectChartGone(cs, ns, "ck-ma-private"); err != nil {
				return err
			}
			return expectChartGone(cs, ns, "ck-ma-registry")
		},
		Steps: []tfresource.TestStep{
			{
				Config:          cfg,
				ConfigVariables: vars(password, "1"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("clusterkit_managed_app.http", jpath("repository_password"), knownvalue.Null()),
					statecheck.ExpectKnownValue("clusterkit_managed_app.http", jpath("revision"), knownvalue.Int64Exact(1)),
				},
				Check: tfresource.ComposeTestCheckFunc(onlyInSecret(password), func(*terraform.State) error {
					if err := expectRelease(cs, ns, "ck-ma-private", 1, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
						return err
					}
					return expectRelease(cs, ns, "ck-ma-registry", 1, kube.ReleaseDeployed, chartsrc.DemoUpgradeVersion)
				}),
			},
			{
				// A wrong password (a new version makes Terraform apply it): refused by the
				// repository, reported in helm's words, with the password masked.
				Config:          cfg,
				ConfigVariables: vars(wrong, "2"),
				ExpectError:     regexp.MustCompile(`(?s)install-ck-ma-private\s+failed:\s+exit\s+code\s+1.*helm\s+said:.*401`),
			},
			{
				// The right one again: the upgrade runs.
				Config:          cfg,
				ConfigVariables: vars(password, "3"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("clusterkit_managed_app.http", jpath("revision"), knownvalue.Int64Exact(2)),
				},
				Check: onlyInSecret(password),
			},
		},
	}))
}
