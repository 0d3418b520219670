package provider

import (
	"context"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// TestAccEKSCluster_InterruptedApply: Ctrl-C during the stack's creation. OpenTofu asks
// the provider to stop; the create returns at once with the stack ID and its
// in-progress status in state, so the next apply resumes waiting on the same stack
// rather than creating a second one. It drives the real OpenTofu CLI with the provider
// as a plugin binary, as a user's terminal would.
var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m|│|╷|╵`)

func TestAccEKSCluster_InterruptedApply(t *testing.T) {
	stackFromEnv(t)
	ctx := context.Background()
	const name = "ck-acc-interrupt"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 300 * time.Millisecond})
	creates := countCalls("CreateStack", name)
	config, err := os.ReadFile("testdata/eks/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	a := accStack.AWSConfig
	w := newTofuWorkdir(t, string(config), "TF_VAR_aws_endpoint="+accStack.AWSEndpoint, "TF_VAR_access_key="+a.AccessKeyID,
		"TF_VAR_secret_key="+a.SecretKey, "TF_VAR_role_arn="+a.RoleARN, "TF_VAR_external_id="+a.ExternalID, "TF_VAR_name="+name)
	t.Cleanup(func() {
		if _, err := w.run(context.Background(), "destroy", "-auto-approve"); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})

	cmd, out, err := w.start("apply", "-auto-approve")
	if err != nil {
		t.Fatal(err)
	}
	// Interrupt once the stack is being created and the provider is polling it.
	deadline := time.Now().Add(time.Minute)
	for {
		info, _ := accStack.AWS.Stack(name)
		if info.Status == "CREATE_IN_PROGRESS" && len(info.Events) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the stack never got going:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond) // test bookkeeping: the emulator's view of the stack
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	interrupted := time.Now()
	err = cmd.Wait()
	stopped := time.Since(interrupted)
	t.Logf("OpenTofu exited %v after %s:\n%s", err, stopped, out)
	if stopped > 10*time.Second {
		t.Errorf("the provider took %s to stop after the interrupt", stopped)
	}
	if msg := strings.Join(strings.Fields(ansi.ReplaceAllString(out.String(), "")), " "); !strings.Contains(msg,
		"Interrupted while waiting for the CloudFormation stack") || !strings.Contains(msg, "stack ck-acc-interrupt is CREATE_IN_PROGRESS") {
		t.Errorf("the warning must say the wait was interrupted (not timed out)")
	}
	if info, _ := accStack.AWS.Stack(name); info.Status != "CREATE_IN_PROGRESS" {
		t.Fatalf("the interrupt must come while the stack is still being created (%s); slow the script down", info.Status)
	}
	st := w.state(ctx, t)
	res, ok := st[eksAddr].(map[string]any)
	if !ok {
		t.Fatalf("no %s in state after the interrupt: %v", eksAddr, st)
	}
	if res["status"] != "CREATE_IN_PROGRESS" || !strings.HasPrefix(res["stack_id"].(string), "arn:aws:cloudformation:") {
		t.Fatalf("state after the interrupt: status %v, stack_id %v", res["status"], res["stack_id"])
	}

	if _, err := w.run(ctx, "apply", "-auto-approve"); err != nil {
		t.Fatal(err)
	}
	res = w.state(ctx, t)[eksAddr].(map[string]any)
	if res["status"] != "CREATE_COMPLETE" || res["endpoint"] != accStack.Host {
		t.Fatalf("after the second apply: status %v, endpoint %v", res["status"], res["endpoint"])
	}
	if n := countCalls("CreateStack", name) - creates; n != 1 {
		t.Fatalf("%d CreateStack calls, want exactly 1", n)
	}
}
