package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// dynamicCredentials is a Terraform Cloud run's AWS dynamic credentials on the local
// stack: a token minted by the stack's OIDC issuer with a TFC-shaped subject, written
// to a file, and the shared config file that names it with the run role.
type dynamicCredentials struct {
	token, tokenFile, configFile string
}

func tfcSubject(org, workspace string) string {
	return fmt.Sprintf("organization:%s:project:Default:workspace:%s:run_phase:apply", org, workspace)
}

func newDynamicCredentials(t *testing.T, subject string) dynamicCredentials {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	d := dynamicCredentials{
		token: accStack.OIDC.Mint(awsemu.Token{Subject: subject, Audience: testenv.TFCAudience, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
			Extra: map[string]any{"terraform_organization_name": testenv.TFCOrganization, "terraform_run_phase": "apply"}}),
		tokenFile:  filepath.Join(dir, "aws.token"),
		configFile: filepath.Join(dir, "aws.config"),
	}
	cfg := fmt.Sprintf("[default]\nrole_arn = %s\nweb_identity_token_file = %s\n", accStack.AWSConfig.WebIdentityRoleARN, d.tokenFile)
	for p, text := range map[string]string{d.tokenFile: d.token, d.configFile: cfg} {
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// awsRunEnv is the environment of a run that has no AWS keys: the region and the
// emulator's endpoint only (a real run reaches AWS's own endpoints).
func awsRunEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
		}
	}
	home := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", accStack.AWSConfig.Region)
	t.Setenv("AWS_ENDPOINT_URL", accStack.AWSEndpoint)
	t.Setenv("CLUSTERKIT_ALLOW_LOCAL_REQUESTS", "true") // the emulator and kube-apiserver are on 127.0.0.1
}

func tfcVars(name string, d dynamicCredentials) config.Variables {
	file := func(p string) config.Variable {
		return config.ObjectVariable(map[string]config.Variable{"shared_config_file": config.StringVariable(p)})
	}
	return config.Variables{
		"tfc_aws_dynamic_credentials": config.ObjectVariable(map[string]config.Variable{
			"default": file(d.configFile),
			"aliases": config.MapVariable(map[string]config.Variable{"unused": file(d.configFile)}),
		}),
		"role_arn":    config.StringVariable(accStack.AWSConfig.RoleARN),
		"external_id": config.StringVariable(accStack.AWSConfig.ExternalID),
		"name":        config.StringVariable(name),
	}
}

// callsSince counts the emulator's calls after from by action, error code and caller.
func callsSince(from int, match func(awsemu.Call) bool) int {
	n := 0
	for _, c := range accStack.AWS.Calls()[from:] {
		if match(c) {
			n++
		}
	}
	return n
}

// longCreateWithRenewals is the eks_cluster create of both dynamic-credential tests: one
// apply that reaches the customer role through the web identity run role, while the
// emulator's sessions last 1/120 of what is asked (an hour: 30 s) and the stack takes
// about a minute, so both the run role's and the customer role's credentials expire and
// are renewed during the create. A second step makes the stack fast again for the destroy.
func longCreateWithRenewals(t *testing.T, name, dir string, vars config.Variables) {
	t.Helper()
	from := len(accStack.AWS.Calls())
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 2 * time.Second})
	accStack.AWS.SetSessionSpeed(120)
	t.Cleanup(func() { accStack.AWS.SetSessionSpeed(1) })
	runRole := ":assumed-role/" + testenv.WebIdentityRole + "/"
	start := time.Now()
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if info, ok := accStack.AWS.Stack(name); ok && info.Status != "DELETE_COMPLETE" {
				return fmt.Errorf("stack %s is %s", name, info.Status)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				ConfigDirectory: config.StaticDirectory(dir),
				ConfigVariables: vars,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(eksAddr, "status", "CREATE_COMPLETE"),
					resource.TestCheckResourceAttr(eksAddr, "region", accStack.AWSConfig.Region),
					noTemporaryCredentials,
					func(st *terraform.State) error {
						t.Logf("create took %s", time.Since(start).Round(time.Second))
						web := callsSince(from, func(c awsemu.Call) bool { return c.Action == "AssumeRoleWithWebIdentity" && c.ErrorCode == "" })
						customer := callsSince(from, func(c awsemu.Call) bool {
							return c.Action == "AssumeRole" && c.ErrorCode == "" && strings.Contains(c.Principal, runRole)
						})
						expired := callsSince(from, func(c awsemu.Call) bool { return strings.HasPrefix(c.ErrorCode, "ExpiredToken") })
						t.Logf("AssumeRoleWithWebIdentity %d, AssumeRole of the customer role by the run role %d, calls with expired credentials %d", web, customer, expired)
						if web < 2 || customer < 2 {
							return fmt.Errorf("AssumeRoleWithWebIdentity %d times and the customer role %d times, want both renewed (>= 2) during the create", web, customer)
						}
						if expired != 0 {
							return fmt.Errorf("%d calls were signed with expired credentials: they must be renewed before", expired)
						}
						if n := callsSince(from, func(c awsemu.Call) bool {
							return c.Service != "" && c.Principal != "" && strings.Contains(c.Principal, ":user/")
						}); n != 0 {
							return fmt.Errorf("%d calls were made with the platform user's keys; only the web identity was configured", n)
						}
						return leakedSecrets(st)
					},
				),
			},
			{
				// Fast again, for the destroy.
				PreConfig: func() {
					accStack.AWS.SetSessionSpeed(1)
					accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
				},
				ConfigDirectory: config.StaticDirectory(dir),
				ConfigVariables: vars,
				PlanOnly:        true,
			},
		},
	}))
}

// leakedSecrets fails when a temporary credential or a web identity token reached state.
func leakedSecrets(st *terraform.State) error {
	secrets := append(accStack.AWS.IssuedSecrets(), "eyJ")
	for _, m := range st.Modules {
		for addr, r := range m.Resources {
			for k, v := range r.Primary.Attributes {
				for _, s := range secrets {
					if s != "" && strings.Contains(v, s) {
						return fmt.Errorf("%s.%s holds a credential or token", addr, k)
					}
				}
			}
		}
	}
	return nil
}

// TestAccAuth_TFCDynamicCredentials: the provider configured only with
// shared_config_files = [var.tfc_aws_dynamic_credentials.default.shared_config_file], as
// an HCP Terraform workspace with AWS dynamic credentials runs it; no keys anywhere.
func TestAccAuth_TFCDynamicCredentials(t *testing.T) {
	stackFromEnv(t)
	awsRunEnv(t)
	d := newDynamicCredentials(t, tfcSubject(testenv.TFCOrganization, "eks-prod"))
	logFile := filepath.Join(t.TempDir(), "provider.log")
	t.Setenv("TF_LOG", "DEBUG")
	t.Setenv("TF_LOG_PATH", logFile)
	longCreateWithRenewals(t, "ck-acc-tfc", "testdata/auth_tfc", tfcVars("ck-acc-tfc", d))

	// The debug log says where the credentials came from and when they were renewed, and
	// holds neither the token nor anything STS issued.
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	if n := strings.Count(log, "(source "+"WebIdentityCredentials), renewed after"); n < 2 {
		t.Errorf("the debug log names the web identity source %d times, want one per renewal (>= 2)", n)
	}
	for _, s := range append(accStack.AWS.IssuedSecrets(), d.token) {
		if strings.Contains(log, s) {
			t.Fatalf("the debug log holds a credential or the token (%d characters)", len(s))
		}
	}
}

// TestAccAuth_WebIdentityEnvironment: the same with AWS_ROLE_ARN and
// AWS_WEB_IDENTITY_TOKEN_FILE, and an empty provider block.
func TestAccAuth_WebIdentityEnvironment(t *testing.T) {
	stackFromEnv(t)
	awsRunEnv(t)
	d := newDynamicCredentials(t, tfcSubject(testenv.TFCOrganization, "eks-env"))
	t.Setenv("AWS_ROLE_ARN", accStack.AWSConfig.WebIdentityRoleARN)
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", d.tokenFile)
	t.Setenv("AWS_ROLE_SESSION_NAME", "ck-acc-env")
	longCreateWithRenewals(t, "ck-acc-webenv", "testdata/auth_env", config.Variables{
		"role_arn":    config.StringVariable(accStack.AWSConfig.RoleARN),
		"external_id": config.StringVariable(accStack.AWSConfig.ExternalID),
		"name":        config.StringVariable("ck-acc-webenv"),
	})
}

// TestAccAuth_TFCWrongSubject: a token of another organization's workspace is refused by
// the run role's trust policy. The apply fails before any stack is made, with one
// diagnostic that names the run role, the token file, AWS's code and the token's subject
// (and never the token); the customer role is never asked.
func TestAccAuth_TFCWrongSubject(t *testing.T) {
	stackFromEnv(t)
	awsRunEnv(t)
	sub := tfcSubject("someone-else", "eks-prod")
	d := newDynamicCredentials(t, sub)
	name := "ck-acc-tfc-denied"
	from := len(accStack.AWS.Calls())
	var applyErr string
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		ErrorCheck: func(err error) error {
			applyErr = err.Error()
			return nil
		},
		Steps: []resource.TestStep{{
			ConfigDirectory: config.StaticDirectory("testdata/auth_tfc"),
			ConfigVariables: tfcVars(name, d),
		}},
	}))
	flat := strings.Join(strings.Fields(applyErr), " ")
	want := regexp.MustCompile(`Error: AWS configuration failed .*the provider's AWS credentials could not be obtained: assuming role ` +
		regexp.QuoteMeta(accStack.AWSConfig.WebIdentityRoleARN) + ` with the web identity token of ` + regexp.QuoteMeta(d.tokenFile) +
		` failed \(AccessDenied\): Not authorized to perform sts:AssumeRoleWithWebIdentity\. The token presented has issuer "` +
		regexp.QuoteMeta(accStack.OIDC.URL()) + `", audience "aws\.workload\.identity" and subject "` + regexp.QuoteMeta(sub) + `"`)
	if !want.MatchString(flat) {
		t.Errorf("apply error does not say why the run role was refused:\n%s", applyErr)
	}
	if n := strings.Count(flat, "Error: "); n != 1 {
		t.Errorf("%d diagnostics, want 1:\n%s", n, applyErr)
	}
	if strings.Contains(flat, d.token) || strings.Contains(flat, "eyJ") {
		t.Error("the diagnostic holds the token")
	}
	if _, ok := accStack.AWS.Stack(name); ok {
		t.Error("a stack was made")
	}
	if n := callsSince(from, func(c awsemu.Call) bool { return c.Action == "AssumeRole" }); n != 0 {
		t.Errorf("%d AssumeRole calls: the customer role must not be asked after the run role was refused", n)
	}
}

// TestAccAuth_EmptyAssumeRoleIsAnError: `assume_role {}` without role_arn is refused at
// plan time (before: the block was silently ignored).
func TestAccAuth_EmptyAssumeRoleIsAnError(t *testing.T) {
	stackFromEnv(t)
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []resource.TestStep{{
			Config: providerLocal + `
provider "clusterkit" {
  alias = "empty"
  assume_role {}
}
resource "clusterkit_eks_cluster" "test" {
  provider                        = clusterkit.empty
  region                          = "us-east-1"
  name                            = "ck-acc-empty-role"
  provision_role_arn              = "arn:aws:iam::222222222222:role/p"
  cluster_role_arn                = "arn:aws:iam::222222222222:role/eks-service"
  kubernetes_version              = "1.35"
  vpc_id                          = "vpc-0123456789abcdef0"
  subnet_ids                      = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  control_plane_security_group_id = "sg-0123456789abcdef0"
}
`,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)Missing required argument.*"role_arn" is required`),
		}},
	}))
}
