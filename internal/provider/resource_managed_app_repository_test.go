package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// Private chart repositories: credentials from a Secret of the user's, a repository CA,
// chart provenance. Each test runs real helm in the stack's install pods through the CLI.

// noneInState: no attribute of any resource holds one of secrets.
func noneInState(secrets ...string) func(*terraform.State) error {
	return func(st *terraform.State) error {
		for _, m := range st.Modules {
			for addr, r := range m.Resources {
				for k, v := range r.Primary.Attributes {
					for _, s := range secrets {
						if strings.Contains(v, s) {
							return fmt.Errorf("%s.%s holds a secret", addr, k)
						}
					}
				}
			}
		}
		return nil
	}
}

// noneInPlan: the plan, as the CLI's JSON, holds none of secrets.
type noneInPlan []string

func (n noneInPlan) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	b, err := json.Marshal(req.Plan)
	if err != nil {
		resp.Error = err
		return
	}
	for _, s := range n {
		if strings.Contains(string(b), s) {
			resp.Error = fmt.Errorf("the plan JSON holds a secret")
			return
		}
	}
}

// noneInFile: the file (the CLI's TRACE log) holds none of secrets; it must exist and hold
// each of mustHold (so the scan covered what it should).
func noneInFile(t *testing.T, file string, secrets []string, mustHold ...string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			t.Errorf("%s holds a secret", filepath.Base(file))
		}
	}
	for _, s := range mustHold {
		if !strings.Contains(string(b), s) {
			t.Errorf("%s (%d bytes) does not hold %q: the scan did not cover it", filepath.Base(file), len(b), s)
		}
	}
}

// traceLog sends the CLI's and the provider's log, at TRACE, to a file of the test's.
func traceLog(t *testing.T) string {
	file := filepath.Join(t.TempDir(), "trace.log")
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_LOG_PATH", file)
	return file
}

// serviceAccountMay asks the API server's authorizer whether the service account may do verb
// on the named object (kubectl auth can-i --as).
func serviceAccountMay(cs kubernetes.Interface, namespace, sa, verb, resource, inNamespace, name string) (bool, error) {
	sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   "system:serviceaccount:" + namespace + ":" + sa,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: verb, Resource: resource, Namespace: inNamespace, Name: name,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return sar.Status.Allowed, nil
}

// putSecret creates or replaces a basic-auth Secret in the install namespace (which it
// creates if missing: the documented setup for repository_credentials_secret).
func putSecret(t *testing.T, cs kubernetes.Interface, name, username, password string) {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: installNS}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: installNS},
		Type:       corev1.SecretTypeBasicAuth,
		Data:       map[string][]byte{corev1.BasicAuthUsernameKey: []byte(username), corev1.BasicAuthPasswordKey: []byte(password)},
	}
	_, err := cs.CoreV1().Secrets(installNS).Update(ctx, sec, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cs.CoreV1().Secrets(installNS).Create(ctx, sec, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestAccManagedApp_RepositoryCredentialsSecret installs the demo chart from the stack's
// password-protected HTTP repository and OCI registry with the credentials of a
// kubernetes.io/basic-auth Secret the user made in the install namespace. A missing Secret
// is reported before anything is made; the kubelet mounts just its two keys into the
// install pod, the provider makes no copy of it and the installer's service account may not
// read it; a wrong password fails in helm's words; fixing the password inside the Secret
// (no attribute changes) lets the next apply succeed. The password is in no state, plan
// JSON or TRACE log (which holds the diagnostics).
func TestAccManagedApp_RepositoryCredentialsSecret(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	const httpApp, ociApp, release = "ck-ma-secret-http", "ck-ma-secret-oci", "ck-ma-secret-ns"
	const secret, rotated = "chart-robot", "chart-robot-2"
	const wrong = "not-the-robot-Password-42"
	username, password := os.Getenv("CLUSTERKIT_TEST_CHART_USERNAME"), os.Getenv("CLUSTERKIT_TEST_CHART_PASSWORD")
	if password == "" {
		t.Fatal("CLUSTERKIT_TEST_CHART_PASSWORD is not set: the stack's chart sources are missing")
	}
	pods := watchInstallPods(t, cs, httpApp)
	deleteNamespaceAtEnd(t, cs, release)
	waitGone(t, cs, installNS)
	deleteNamespaceAtEnd(t, cs, installNS)
	logFile := traceLog(t)
	vars := func(secretName string) config.Variables {
		return integrationVars(s, config.Variables{
			"private_repo":     config.StringVariable(os.Getenv("CLUSTERKIT_TEST_CHART_PRIVATE_REPO_URL")),
			"private_registry": config.StringVariable(os.Getenv("CLUSTERKIT_TEST_OCI_REGISTRY")),
			"secret":           config.StringVariable(secretName),
		})
	}
	dir := config.TestNameDirectory()
	secrets := []string{password, wrong}
	// What the install pod got: the Secret's two keys through the kubelet, nothing in its
	// environment; what the provider made: no copy of the Secret, no password in the
	// values ConfigMap; what the installer may do: not read the Secret.
	mounted := func(*terraform.State) error {
		p, err := pods.created(kube.InstallPodName(httpApp, kube.ActionInstall))
		if err != nil {
			return err
		}
		env := podEnv(&p)
		if env["REPOSITORY_CREDENTIALS_SECRET"] != secret || env["REPOSITORY_USERNAME"] != "" {
			return fmt.Errorf("install pod env: REPOSITORY_CREDENTIALS_SECRET %q, REPOSITORY_USERNAME %q", env["REPOSITORY_CREDENTIALS_SECRET"], env["REPOSITORY_USERNAME"])
		}
		for k, v := range env {
			if strings.Contains(v, password) {
				return fmt.Errorf("install pod env %s holds the password", k)
			}
		}
		var found *corev1.SecretProjection
		for _, v := range p.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for _, src := range v.Projected.Sources {
				if src.Secret != nil && src.Secret.Name == secret {
					found = src.Secret
				}
				if src.Secret != nil && src.Secret.Name == kube.ValuesSecretName(httpApp) {
					return fmt.Errorf("the install pod mounts the app's values Secret: the credentials were copied")
				}
			}
		}
		if found == nil || found.Optional == nil || !*found.Optional || len(found.Items) != 2 ||
			found.Items[0] != (corev1.KeyToPath{Key: "username", Path: kube.RepositoryUsernameFile, Mode: found.Items[0].Mode}) ||
			found.Items[1] != (corev1.KeyToPath{Key: "password", Path: kube.RepositoryPasswordFile, Mode: found.Items[1].Mode}) {
			return fmt.Errorf("the install pod's projection of Secret %s: %+v; want its keys username and password only, optional", secret, found)
		}
		if _, err := cs.CoreV1().Secrets(installNS).Get(ctx, kube.ValuesSecretName(httpApp), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("values Secret of %s: %v; want none (no sensitive values, no inline password)", httpApp, err)
		}
		cm, err := cs.CoreV1().ConfigMaps(installNS).Get(ctx, kube.ValuesConfigMapName(httpApp), metav1.GetOptions{})
		if err != nil {
			return err
		}
		for k, v := range cm.Data {
			if strings.Contains(v, password) {
				return fmt.Errorf("values ConfigMap key %s holds the password", k)
			}
		}
		user, err := cs.CoreV1().Secrets(installNS).Get(ctx, secret, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(user.Labels) != 0 || len(user.Annotations) != 0 || len(user.OwnerReferences) != 0 {
			return fmt.Errorf("the user's Secret was labelled or adopted: %v %v %v", user.Labels, user.Annotations, user.OwnerReferences)
		}
		for _, app := range []string{httpApp, ociApp} {
			for _, verb := range []string{"get", "list", "watch"} {
				may, err := serviceAccountMay(cs, installNS, kube.InstallerServiceAccountName(app), verb, "secrets", installNS, secret)
				if err != nil {
					return err
				}
				if may {
					return fmt.Errorf("the installer of %s may %s Secret %s/%s", app, verb, installNS, secret)
				}
			}
		}
		return nil
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			for _, app := range []string{httpApp, ociApp} {
				if err := expectChartGone(cs, release, app); err != nil {
					return err
				}
			}
			// The user's Secret is the user's: never deleted.
			_, err := cs.CoreV1().Secrets(installNS).Get(ctx, secret, metav1.GetOptions{})
			return err
		},
		Steps: []tfresource.TestStep{
			{
				// No such Secret yet: refused before anything is made, naming the attribute.
				ConfigDirectory: dir,
				ConfigVariables: vars(secret),
				ExpectError: cliText("repository credentials Secret "+installNS+"/"+secret+" does not exist: create it in the install namespace "+installNS+
					", with the keys username and password", "repository_credentials_secret = { name = var.secret }"),
			},
			{
				PreConfig:       func() { putSecret(t, cs, secret, username, password) },
				ConfigDirectory: dir,
				ConfigVariables: vars(secret),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					noneInPlan(secrets),
					plancheck.ExpectKnownValue("clusterkit_managed_app.http", jpath("repository_credentials_secret").AtMapKey("name"), knownvalue.StringExact(secret)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("clusterkit_managed_app.http", jpath("revision"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("clusterkit_managed_app.oci", jpath("status"), knownvalue.StringExact("deployed")),
				},
				Check: tfresource.ComposeTestCheckFunc(noneInState(secrets...), mounted, func(*terraform.State) error {
					if err := expectRelease(cs, release, httpApp, 1, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
						return err
					}
					return expectRelease(cs, release, ociApp, 1, kube.ReleaseDeployed, chartsrc.DemoUpgradeVersion)
				}),
			},
			{
				// Another Secret, with a wrong password: the name's change runs an upgrade,
				// which the repository and the registry refuse, in helm's words.
				PreConfig:       func() { putSecret(t, cs, rotated, username, wrong) },
				ConfigDirectory: dir,
				ConfigVariables: vars(rotated),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					noneInPlan(secrets),
					plancheck.ExpectResourceAction("clusterkit_managed_app.http", plancheck.ResourceActionUpdate),
				}},
				ExpectError: regexp.MustCompile(`(?s)install-ck-ma-secret-(http|oci)\s+failed:\s+exit\s+code\s+1.*helm\s+said:.*401`),
			},
			{
				// The password fixed inside the Secret, the configuration unchanged: the
				// failed releases plan an upgrade, which now succeeds.
				PreConfig:       func() { putSecret(t, cs, rotated, username, password) },
				ConfigDirectory: dir,
				ConfigVariables: vars(rotated),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					noneInPlan(secrets),
					plancheck.ExpectResourceAction("clusterkit_managed_app.http", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("clusterkit_managed_app.http", jpath("status"), knownvalue.StringExact("deployed")),
				},
				Check: tfresource.ComposeTestCheckFunc(noneInState(secrets...), func(*terraform.State) error {
					if err := expectRelease(cs, release, httpApp, 2, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
						return err
					}
					return expectRelease(cs, release, ociApp, 2, kube.ReleaseDeployed, chartsrc.DemoUpgradeVersion)
				}),
			},
		},
	}))
	noneInFile(t, logFile, secrets, "Response contains error diagnostic", "401")
}

// TestAccManagedApp_RepositoryCA installs the demo chart from the stack's repository whose
// TLS certificate a private CA signed (one the install pods' image does not trust): without
// repository_ca_cert helm refuses the certificate and the diagnostic says what to set; with
// the CA's PEM the install succeeds, the CA reaching helm as a file of the values
// ConfigMap. Text that is not a PEM certificate (a key, say) is refused at plan time.
func TestAccManagedApp_RepositoryCA(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	const name, release = "ck-ma-repo-ca", "ck-ma-repo-ca-ns"
	repo := os.Getenv("CLUSTERKIT_TEST_PRIVATE_CA_REPO_URL")
	caPEM, err := os.ReadFile(os.Getenv("CLUSTERKIT_TEST_PRIVATE_CA_FILE"))
	if repo == "" || err != nil {
		t.Fatalf("the stack's private-CA chart repository is missing (CLUSTERKIT_TEST_PRIVATE_CA_REPO_URL %q): %v", repo, err)
	}
	deleteNamespaceAtEnd(t, cs, release)
	dir := config.TestNameDirectory()
	vars := func(ca string) config.Variables {
		v := config.Variables{"repository": config.StringVariable(repo)}
		if ca != "" {
			v["repository_ca"] = config.StringVariable(ca)
		}
		return integrationVars(s, v)
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck:     func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error { return expectChartGone(cs, release, name) },
		Steps: []tfresource.TestStep{
			{
				// A PEM key instead of a certificate: refused before anything runs.
				ConfigDirectory: dir,
				ConfigVariables: vars("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n"),
				PlanOnly:        true,
				ExpectError: cliText("Invalid repository_ca_cert", `must be PEM CA certificates: PEM block 1 is a "EC PRIVATE KEY", not a CERTIFICATE`,
					"never a key"),
			},
			{
				// No CA: the image's bundle does not know the repository's CA.
				ConfigDirectory: dir,
				ConfigVariables: vars(""),
				ExpectError: cliText("helm does not trust the TLS certificate of the chart repository or registry. If a private CA signed it, give that CA's certificate (PEM) in repository_ca_cert.",
					"install-ck-ma-repo-ca failed: exit code 1", "helm said:", "x509: certificate signed by unknown authority"),
			},
			{
				ConfigDirectory: dir,
				ConfigVariables: vars(string(caPEM)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("repository_ca_cert"), knownvalue.StringExact(string(caPEM))),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("status"), knownvalue.StringExact("deployed")),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("chart_version"), knownvalue.StringExact(chartsrc.DemoVersion)),
				},
				Check: func(*terraform.State) error {
					cm, err := cs.CoreV1().ConfigMaps(installNS).Get(ctx, kube.ValuesConfigMapName(name), metav1.GetOptions{})
					if err != nil {
						return err
					}
					if cm.Data[kube.RepositoryCAFile] != string(caPEM) {
						return fmt.Errorf("values ConfigMap %s: %q, want the CA", kube.RepositoryCAFile, cm.Data[kube.RepositoryCAFile])
					}
					// The first install failed, so this is the release's first revision.
					if err := expectRelease(cs, release, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
						return err
					}
					return expectDeployment(cs, release, name+"-demo", 1, nil)
				},
			},
		},
	}))
}

// TestAccManagedApp_Verify: chart provenance, as helm_release's verify and keyring. The
// stack's signed repository serves the demo chart with provenance files signed by a key made
// at its start: 0.1.0 installs with verify = true and that key as keyring; 0.2.0's
// provenance was signed for other content (the chart tampered with after signing) and the
// public repository's charts have none: helm refuses both before applying anything, the
// release stays at its first revision, and the diagnostic says why. keyring without verify
// (and verify without keyring, and a private key as keyring) are refused at plan time.
// The same from the stack's OCI registry, where helm push stored each provenance file as a
// layer of the chart: the signed chart upgrades the release (revision 2), the tampered one
// and the public registry's (pushed without provenance) are refused.
func TestAccManagedApp_Verify(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	const name, release = "ck-ma-verify", "ck-ma-verify-ns"
	signed, signedOCI := os.Getenv("CLUSTERKIT_TEST_SIGNED_REPO_URL"), os.Getenv("CLUSTERKIT_TEST_SIGNED_OCI_REGISTRY")
	keyring, err := os.ReadFile(os.Getenv("CLUSTERKIT_TEST_CHART_KEYRING_FILE"))
	if signed == "" || signedOCI == "" || err != nil {
		t.Fatalf("the stack's signed chart repositories are missing (CLUSTERKIT_TEST_SIGNED_REPO_URL %q, CLUSTERKIT_TEST_SIGNED_OCI_REGISTRY %q): %v", signed, signedOCI, err)
	}
	pods := watchInstallPods(t, cs, name)
	deleteNamespaceAtEnd(t, cs, release)
	dir := config.TestNameDirectory()
	vars := func(repo, version string, extra config.Variables) config.Variables {
		v := config.Variables{"repository": config.StringVariable(repo), "chart_version": config.StringVariable(version),
			"keyring": config.StringVariable(string(keyring))}
		for k, x := range extra {
			v[k] = x
		}
		return integrationVars(s, v)
	}
	refused := func(why string) *regexp.Regexp {
		return cliText("helm refused the chart's provenance (verify = true)", "install-ck-ma-verify failed: exit code 1", "helm said:", why)
	}
	stillFirst := func(*terraform.State) error {
		return expectRelease(cs, release, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion)
	}
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck:     func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error { return expectChartGone(cs, release, name) },
		Steps: []tfresource.TestStep{
			{
				ConfigDirectory: dir,
				ConfigVariables: vars(signed, chartsrc.DemoVersion, config.Variables{"verify": config.BoolVariable(false)}),
				PlanOnly:        true,
				ExpectError:     cliText("Invalid Attribute Combination", "keyring is used only with verify = true"),
			},
			{
				ConfigDirectory: dir,
				ConfigVariables: vars(signed, chartsrc.DemoVersion, config.Variables{"keyring": config.StringVariable("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAA==\n-----END PGP PRIVATE KEY BLOCK-----\n")}),
				PlanOnly:        true,
				ExpectError:     cliText("Invalid keyring", "must be ASCII-armored OpenPGP public keys", "never a private key"),
			},
			{
				ConfigDirectory: dir,
				ConfigVariables: vars(signed, chartsrc.DemoVersion, nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("verify"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(1)),
				},
				Check: func(st *terraform.State) error {
					if err := stillFirst(st); err != nil {
						return err
					}
					p, err := pods.created(kube.InstallPodName(name, kube.ActionInstall))
					if err != nil {
						return err
					}
					if podEnv(&p)["VERIFY"] != "true" {
						return fmt.Errorf("install pod env VERIFY = %q", podEnv(&p)["VERIFY"])
					}
					cm, err := cs.CoreV1().ConfigMaps(installNS).Get(ctx, kube.ValuesConfigMapName(name), metav1.GetOptions{})
					if err != nil {
						return err
					}
					// The binary keyring (Helm 3 reads no other), not the armored text.
					if ring := cm.BinaryData[kube.RepositoryKeyringFile]; len(ring) == 0 || strings.Contains(string(ring), "BEGIN PGP") {
						return fmt.Errorf("values ConfigMap keyring: %d bytes", len(ring))
					}
					return nil
				},
			},
			{
				// 0.2.0's provenance does not match its chart.
				ConfigDirectory: dir,
				ConfigVariables: vars(signed, chartsrc.DemoUpgradeVersion, nil),
				ExpectError:     refused("sha256 sum does not match for demo-" + chartsrc.DemoUpgradeVersion + ".tgz"),
			},
			{
				// The public repository serves no provenance files. (The refused upgrade
				// before it left the release as it was.)
				PreConfig: func() {
					if err := stillFirst(nil); err != nil {
						t.Error(err)
					}
				},
				ConfigDirectory: dir,
				ConfigVariables: vars(os.Getenv("CLUSTERKIT_TEST_CHART_REPO_URL"), chartsrc.DemoUpgradeVersion, nil),
				ExpectError:     refused("failed to fetch provenance"),
			},
			{
				// From an OCI registry: helm pulls the provenance pushed with the chart
				// (a layer of its manifest) and checks it the same way.
				ConfigDirectory: dir,
				ConfigVariables: vars(signedOCI, chartsrc.DemoVersion, nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(managedAppAddr, jpath("revision"), knownvalue.Int64Exact(2)),
				},
				Check: func(*terraform.State) error {
					p, err := pods.created(kube.InstallPodName(name, kube.ActionInstall))
					if err != nil {
						return err
					}
					if env := podEnv(&p); env["VERIFY"] != "true" || env["CHART_REPOSITORY"] != signedOCI {
						return fmt.Errorf("install pod env VERIFY = %q, CHART_REPOSITORY = %q", env["VERIFY"], env["CHART_REPOSITORY"])
					}
					return expectRelease(cs, release, name, 2, kube.ReleaseDeployed, chartsrc.DemoVersion)
				},
			},
			{
				ConfigDirectory: dir,
				ConfigVariables: vars(signedOCI, chartsrc.DemoUpgradeVersion, nil),
				ExpectError:     refused("sha256 sum does not match for demo-" + chartsrc.DemoUpgradeVersion + ".tgz"),
			},
			{
				// The public registry's charts were pushed without provenance.
				PreConfig: func() {
					if err := expectRelease(cs, release, name, 2, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
						t.Error(err)
					}
				},
				ConfigDirectory: dir,
				ConfigVariables: vars(os.Getenv("CLUSTERKIT_TEST_OCI_PUBLIC_REGISTRY"), chartsrc.DemoUpgradeVersion, nil),
				ExpectError:     refused("failed to fetch provenance"),
			},
		},
	}))
}
