package provider

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// TestAccClusterIntegration_DebugLogMasksToken runs an apply with TF_LOG=DEBUG and reads the
// provider's log: every Kubernetes call is there (subsystem, verb, path, status), the
// token the user supplied is not.
func TestAccClusterIntegration_DebugLogMasksToken(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	logFile := filepath.Join(t.TempDir(), "provider.log")
	t.Setenv("TF_LOG", "DEBUG")
	t.Setenv("TF_LOG_PATH", logFile)

	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			return expectNothingOwned(cs, "cluster_integration/kube-system/ck-debuglog", "ck-debuglog-a")
		},
		Steps: []resource.TestStep{{
			ConfigDirectory: config.TestNameDirectory(),
			ConfigVariables: integrationVars(s, nil),
		}},
	}))

	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	if strings.Contains(log, s.Token) {
		t.Fatal("the cluster token appears in the provider's debug log")
	}
	for _, want := range []string{
		`POST /api/v1/namespaces/kube-system/serviceaccounts`,
		`POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings`,
		`POST /api/v1/namespaces`,
		`DELETE /api/v1/namespaces/ck-debuglog-a`,
		`status=201`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("debug log lacks %q", want)
		}
	}
	if !regexp.MustCompile(`\[DEBUG\] clusterkit\.kubernetes: Kubernetes API call: POST /api/v1/namespaces/kube-system/serviceaccounts:`).MatchString(log) {
		t.Error("no line of the kubernetes subsystem in the debug log")
	}
	if t.Failed() {
		t.Logf("kubernetes lines of the log:\n%s", grepLines(log, "Kubernetes API", 40))
	}
}

func grepLines(s, substr string, max int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && len(out) < max {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestMaskSecrets_DiagnosticText(t *testing.T) {
	ctx := withInstallPodLogging(context.Background(), append(sensitiveLeaves("db:\n  password: hunter22\n"), "cluster-token-value")...)
	in := "Error: template: demo: hunter22 is not valid; token cluster-token-value; k8s-aws-v1.abcDEF_123"
	want := "Error: template: demo: *** is not valid; token ***; ***"
	if got := maskSecrets(ctx, in); got != want {
		t.Errorf("maskSecrets = %q, want %q", got, want)
	}
	if got := maskSecrets(context.Background(), "plain"); got != "plain" {
		t.Errorf("no secrets: %q", got)
	}
}
