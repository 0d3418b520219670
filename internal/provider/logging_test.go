package provider

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"
	"github.com/hashicorp/terraform-plugin-log/tflogtest"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
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

// logEntries runs log with a JSON root logger and the provider's masks, and returns what
// was written.
func logEntries(t *testing.T, secrets []string, log func(ctx context.Context)) []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	ctx := withLogging(tflogtest.RootLogger(context.Background(), &buf), secrets...)
	log(ctx)
	entries, err := tflogtest.MultilineJSONDecode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// awsSecretForms are the ways an AWS credential or signature can reach a log line, with
// the part that must not.
var awsSecretForms = []struct{ name, text, secret string }{
	{"query string", `GET https://sts.amazonaws.com/?X-Amz-Security-Token=FQoGZXIvYXdzE123abc&X-Amz-Signature=0a1b2c3d4e5f`, "FQoGZXIvYXdzE123abc"},
	{"query signature", `GET https://sts.amazonaws.com/?X-Amz-Date=20260101T000000Z&X-Amz-Signature=0a1b2c3d4e5f`, "0a1b2c3d4e5f"},
	{"security token header", "X-Amz-Security-Token: opaque/token+value=", "opaque/token+value="},
	{"header dump", "map[X-Amz-Security-Token:[opaque/token+value=]]", "opaque/token+value="},
	{"signature header", "X-Amz-Signature: 9f86d081884c7d659a2feaa0c55ad015", "9f86d081884c7d659a2feaa0c55ad015"},
	{"authorization header", "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=fe5f80f77d5fa3bec", "fe5f80f77d5fa3bec"},
	{"raw session token", "session IQoJb3JpZ2luX2VjEPr//////////wEaCXVzLWVhc3QtMSJHMEU= expired", "IQoJb3JpZ2luX2VjEPr"},
	{"credentials XML", "<SessionToken>opaque-token</SessionToken><SecretAccessKey>wJalrXUtnFEMI</SecretAccessKey>", "opaque-token"},
	{"credentials JSON", `{"SecretAccessKey":"wJalrXUtnFEMI/K7MDENG"}`, "wJalrXUtnFEMI"},
	{"temporary access key", "signed by ASIAABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOP"},
	{"EKS token", "Bearer k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8", "aHR0cHM6Ly9zdHM"},
}

// Each form is masked in messages and field values, in the root logger and the aws and
// kubernetes subsystems.
func TestLogMasks_AWSCredentialForms(t *testing.T) {
	for _, f := range awsSecretForms {
		t.Run(f.name, func(t *testing.T) {
			entries := logEntries(t, nil, func(ctx context.Context) {
				tflog.Debug(ctx, "root: "+f.text, map[string]any{"detail": f.text})
				tflog.SubsystemDebug(ctx, subsystemAWS, "aws: "+f.text, map[string]any{"detail": f.text})
				tflog.SubsystemDebug(ctx, subsystemKubernetes, "kubernetes: "+f.text, map[string]any{"detail": f.text})
			})
			if len(entries) != 3 {
				t.Fatalf("%d log entries, want 3: %v", len(entries), entries)
			}
			for _, e := range entries {
				msg, _ := e["@message"].(string)
				detail, _ := e["detail"].(string)
				if strings.Contains(msg, f.secret) || strings.Contains(detail, f.secret) {
					t.Errorf("%s: not masked: message %q, detail %q", e["@module"], msg, detail)
				}
				if !strings.Contains(msg, "***") || !strings.Contains(detail, "***") {
					t.Errorf("%s: no mask: message %q, detail %q", e["@module"], msg, detail)
				}
			}
			if got := maskSecrets(context.Background(), f.text); strings.Contains(got, f.secret) {
				t.Errorf("maskSecrets left it: %q", got)
			}
		})
	}
}

// A retry is one line of the aws subsystem saying which call, which attempt of how many,
// what came back and how long the wait is; giving up is a warning.
func TestLogAWSRetry_Lines(t *testing.T) {
	entries := logEntries(t, nil, func(ctx context.Context) {
		logAWSRetry(ctx, cloud.RetryEvent{Service: "CloudFormation", Operation: "CreateStack", Attempt: 1, MaxAttempts: 4, Status: 500, Code: "InternalFailure", Wait: 37*time.Millisecond + 400*time.Microsecond})
		logAWSRetry(ctx, cloud.RetryEvent{Service: "STS", Operation: "AssumeRole", Attempt: 2, MaxAttempts: 3, Cause: "dial tcp 127.0.0.1:1: connect: connection refused", Wait: 1500 * time.Millisecond})
		logAWSRetry(ctx, cloud.RetryEvent{Service: "CloudFormation", Operation: "CreateStack", Attempt: 4, MaxAttempts: 4, Status: 502, GaveUp: true})
	})
	want := []struct{ level, msg string }{
		{"info", "AWS call CloudFormation CreateStack: attempt 1 of 4 failed (HTTP 500 InternalFailure); retrying in 37ms"},
		{"info", "AWS call STS AssumeRole: attempt 2 of 3 failed (no answer: dial tcp 127.0.0.1:1: connect: connection refused); retrying in 1.5s"},
		{"warn", "AWS call CloudFormation CreateStack: attempt 4 of 4 failed (HTTP 502); giving up"},
	}
	if len(entries) != len(want) {
		t.Fatalf("%d entries: %v", len(entries), entries)
	}
	for i, w := range want {
		e := entries[i]
		if e["@level"] != w.level || e["@message"] != w.msg || e["@module"] != "provider.aws" {
			t.Errorf("entry %d: %v %v %q, want %s provider.aws %q", i, e["@level"], e["@module"], e["@message"], w.level, w.msg)
		}
	}
	if e := entries[0]; e["operation"] != "CloudFormation CreateStack" || e["attempt"] != float64(1) || e["max_attempts"] != float64(4) ||
		e["status"] != float64(500) || e["error_code"] != "InternalFailure" || e["wait"] != "37ms" {
		t.Errorf("fields of the first line: %v", e)
	}
}
