package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
)

var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"clusterkit": providerserver.NewProtocol6WithError(New("test")()),
}

// accStack is the local stack of this test run (TF_ACC=1 only).
var accStack *testenv.Stack

// TestMain gives acceptance tests (TF_ACC=1) their CLI (OpenTofu, or Terraform with
// CLUSTERKIT_TEST_CLI=terraform: cli_test.go) and a local stack of their own.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Getenv("TF_ACC") == "" {
		return m.Run()
	}
	stop, err := setUpAcceptance()
	if err != nil {
		fmt.Fprintln(os.Stderr, "acceptance test setup failed:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

func setUpAcceptance() (func(), error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return nil, err
	}
	cli, err := selectCLI(root)
	if err != nil {
		return nil, err
	}
	useCLI(cli)
	fmt.Fprintln(os.Stderr, "acceptance tests run", cli)
	// A CLI config that does not exist makes the CLI warn on every command.
	if rc := os.Getenv("TF_CLI_CONFIG_FILE"); rc != "" {
		if _, err := os.Stat(rc); err != nil {
			os.Unsetenv("TF_CLI_CONFIG_FILE")
		}
	}

	// Always a fresh stack (about 6 seconds warm): the AWS tests script the emulator,
	// which only an in-process stack allows. Install pods run real helm (the node agent),
	// with the project's charts served on 127.0.0.1. The fault proxy (an idle listener in
	// this process) is only in the path of the fault tests, which hand its URL to the provider.
	stack, err := testenv.Start(context.Background(), testenv.Options{NodeAgent: true, FaultProxy: true,
		Log: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if err != nil {
		return nil, err
	}
	accStack = stack
	stop := func() { _ = stack.Stop() }
	for k, v := range stack.Env() {
		os.Setenv(k, v)
	}
	return stop, nil
}

// testAccPreCheck fails (never skips) when the stack's variables are missing: CI always
// has them, so a missing one is a broken setup.
func testAccPreCheck(t testing.TB) {
	t.Helper()
	for _, k := range []string{"CLUSTERKIT_TEST_HOST", "CLUSTERKIT_TEST_CA_FILE", "CLUSTERKIT_TEST_TOKEN", "TF_ACC_TERRAFORM_PATH"} {
		if os.Getenv(k) == "" {
			t.Fatalf("%s is not set: acceptance tests need the local stack (TestMain starts it when TF_ACC=1)", k)
		}
	}
}

// testStack is the local stack as the tests see it.
type testStack struct {
	Host      string
	CAPEM     string
	Token     string
	UserToken string
}

// accOnly skips an acceptance test outside TF_ACC=1, the rule resource.Test applies (the
// unit run, make race, has no stack; make testacc and CI always set it), then checks the
// stack's prerequisites, which fail rather than skip.
func accOnly(t testing.TB) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (make testacc)")
	}
	testAccPreCheck(t)
}

func stackFromEnv(t testing.TB) testStack {
	t.Helper()
	accOnly(t)
	ca, err := os.ReadFile(os.Getenv("CLUSTERKIT_TEST_CA_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	return testStack{
		Host:      os.Getenv("CLUSTERKIT_TEST_HOST"),
		CAPEM:     string(ca),
		Token:     os.Getenv("CLUSTERKIT_TEST_TOKEN"),
		UserToken: os.Getenv("CLUSTERKIT_TEST_USER_TOKEN"),
	}
}

// adminClientset is what tests use to look at, and tamper with, the cluster directly.
func (s testStack) adminClientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(&rest.Config{
		Host:            s.Host,
		BearerToken:     s.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: []byte(s.CAPEM)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// providerLocal is the provider configuration for the local stack on 127.0.0.1.
const providerLocal = `
terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

provider "clusterkit" {
  allow_local_requests = true
}
`

// providerCharts is the provider configuration for managed apps on the local stack: the
// catalog's repositories go to the stack's mirrors, and var.chart_repo (the stack's HTTP
// chart repository) holds the project's test charts.
const providerCharts = `
terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

variable "chart_mirrors" { type = map(string) }
variable "chart_repo" { type = string }

provider "clusterkit" {
  allow_local_requests     = true
  chart_repository_mirrors = var.chart_mirrors
}
`

// chartVars are the variables providerCharts declares, from the stack's env.
func chartVars(t testing.TB) config.Variables {
	t.Helper()
	var mirrors map[string]string
	if err := json.Unmarshal([]byte(os.Getenv("CLUSTERKIT_TEST_CHART_MIRRORS")), &mirrors); err != nil || len(mirrors) == 0 {
		t.Fatalf("CLUSTERKIT_TEST_CHART_MIRRORS is not a JSON map of mirrors (the stack's chart sources): %v", err)
	}
	m := map[string]config.Variable{}
	for k, v := range mirrors {
		m[k] = config.StringVariable(v)
	}
	return config.Variables{
		"chart_mirrors": config.MapVariable(m),
		"chart_repo":    config.StringVariable(os.Getenv("CLUSTERKIT_TEST_CHART_REPO_URL")),
	}
}

// withProviderPerStep serves the provider at step level: the test configurations carry their
// own provider block (allow_local_requests), which terraform-plugin-testing allows only then.
func withProviderPerStep(tc resource.TestCase) resource.TestCase {
	for i := range tc.Steps {
		tc.Steps[i].ProtoV6ProviderFactories = testAccProtoV6ProviderFactories
	}
	return tc
}
