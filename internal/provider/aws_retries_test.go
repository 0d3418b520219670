package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// TestAccAWSRetries_CreateStackServerErrors: the emulator answers every CreateStack with
// HTTP 500. The apply's debug log has one aws line per retry (attempt n of 4, status,
// wait) and a warning when the SDK gives up; the diagnostic says which call, what status
// and how many attempts, in our words, with none of the SDK's. max_retries = 4 keeps the
// waits below 50 + 100 + 200 ms.
func TestAccAWSRetries_CreateStackServerErrors(t *testing.T) {
	stackFromEnv(t)
	name := "ck-acc-retries"
	logFile := filepath.Join(t.TempDir(), "provider.log")
	t.Setenv("TF_LOG", "DEBUG")
	t.Setenv("TF_LOG_PATH", logFile)
	failedBefore := countFailed("CreateStack", "InternalFailure")
	// As many faults as attempts, so none is left for the tests that follow.
	accStack.AWS.InjectFault(awsemu.Fault{Action: "CreateStack", Kind: "5xx", Count: 4})

	var applyErr string
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		// The failed create leaves no state, so the step's error is the whole result.
		ErrorCheck: func(err error) error {
			applyErr = err.Error()
			return nil
		},
		CheckDestroy: func(*terraform.State) error {
			if info, ok := accStack.AWS.Stack(name); ok {
				return fmt.Errorf("a stack was made: %s", info.Status)
			}
			return nil
		},
		Steps: []resource.TestStep{{
			ConfigDirectory: config.TestNameDirectory(),
			ConfigVariables: eksVars(name, nil),
		}},
	}))

	if n := countFailed("CreateStack", "InternalFailure") - failedBefore; n != 4 {
		t.Errorf("the emulator answered %d CreateStack calls with InternalFailure, want 4", n)
	}
	detail := "CloudFormation CreateStack failed after 4 attempts (the retry limit): HTTP 500 InternalFailure: We encountered an internal error. Please try again."
	wantErr := regexp.MustCompile(`Error: Creating the CloudFormation stack failed\s+with clusterkit_eks_cluster\.test,\s+on main\.tf line \d+, in resource "clusterkit_eks_cluster" "test":\s+\d+: resource "clusterkit_eks_cluster" "test" \{\s+` +
		strings.Join(strings.Fields(regexp.QuoteMeta(detail)), `\s+`) + `\s*$`)
	if !wantErr.MatchString(applyErr) {
		t.Errorf("apply error does not end with the diagnostic %q:\n%s", detail, applyErr)
	}
	for _, sdk := range []string{"operation error", "StatusCode", "RequestID", "api error", "deserializ", "exceeded maximum number of attempts", "https response error"} {
		if strings.Contains(applyErr, sdk) {
			t.Errorf("the SDK's own text (%q) reached the user:\n%s", sdk, applyErr)
		}
	}

	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	retry := regexp.MustCompile(`\[INFO\]\s+clusterkit\.aws: AWS call CloudFormation CreateStack: attempt (\d+) of 4 failed \(HTTP 500 InternalFailure\); retrying in (\d+(?:\.\d+)?m?s):`)
	var attempts []string
	for _, m := range retry.FindAllStringSubmatch(log, -1) {
		attempts = append(attempts, m[1])
	}
	if strings.Join(attempts, ",") != "1,2,3" {
		t.Errorf("retry lines for attempts %v, want 1,2,3\n%s", attempts, grepLines(log, "clusterkit.aws", 40))
	}
	gaveUp := regexp.MustCompile(`\[WARN\]\s+clusterkit\.aws: AWS call CloudFormation CreateStack: attempt 4 of 4 failed \(HTTP 500 InternalFailure\); giving up:`)
	if n := len(gaveUp.FindAllString(log, -1)); n != 1 {
		t.Errorf("%d give-up lines, want 1\n%s", n, grepLines(log, "clusterkit.aws", 40))
	}
}

// countFailed counts calls of action the emulator answered with code.
func countFailed(action, code string) int {
	n := 0
	for _, c := range accStack.AWS.Calls() {
		if c.Action == action && c.ErrorCode == code {
			n++
		}
	}
	return n
}
