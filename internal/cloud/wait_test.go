package cloud

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOutcome(t *testing.T) {
	cases := []struct {
		op     StackOperation
		status string
		want   result
	}{
		{OpCreate, "CREATE_IN_PROGRESS", pending},
		{OpCreate, "ROLLBACK_IN_PROGRESS", pending},
		{OpCreate, "CREATE_COMPLETE", done},
		{OpCreate, "ROLLBACK_COMPLETE", failed},
		{OpCreate, "CREATE_FAILED", failed},
		{OpCreate, "", failed},
		{OpUpdate, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", pending},
		{OpUpdate, "UPDATE_COMPLETE", done},
		{OpUpdate, "UPDATE_ROLLBACK_COMPLETE", failed},
		{OpDelete, "DELETE_IN_PROGRESS", pending},
		{OpDelete, "", done},
		{OpDelete, "DELETE_FAILED", failed},
	}
	for _, c := range cases {
		if got := outcome(c.op, c.status); got != c.want {
			t.Errorf("outcome(%s, %q) = %d, want %d", c.op, c.status, got, c.want)
		}
	}
}

func TestFirstFailureSkipsCancellations(t *testing.T) {
	tl := []StackEvent{
		{LogicalID: "stack", Status: "CREATE_IN_PROGRESS"},
		{LogicalID: "NodeSecurityGroup", Status: "CREATE_FAILED", Reason: "Resource creation cancelled"},
		{LogicalID: "EKSCluster", Status: "CREATE_FAILED", Reason: "Subnets are in the same AZ"},
		{LogicalID: "NodeInstanceRole", Status: "CREATE_FAILED", Reason: "Resource creation cancelled"},
	}
	f := firstFailure(tl)
	if f == nil || f.LogicalID != "EKSCluster" {
		t.Fatalf("first failure %+v, want EKSCluster", f)
	}
	err := &StackFailedError{StackName: "demo", Operation: OpCreate, Status: "ROLLBACK_COMPLETE", FirstFailure: f, Timeline: tl}
	if got, want := err.Error(), "stack demo: create ended in ROLLBACK_COMPLETE; first failure: EKSCluster () CREATE_FAILED: Subnets are in the same AZ"; got != want {
		t.Errorf("Error() = %q\nwant %q", got, want)
	}
	if n := strings.Count(err.TimelineText(), "\n"); n != 3 {
		t.Errorf("timeline has %d lines, want 4", n+1)
	}
}

func TestBackoff(t *testing.T) {
	var got []time.Duration
	var d time.Duration
	for range 6 {
		d = DefaultBackoff.next(d)
		got = append(got, d)
	}
	want := []time.Duration{5 * time.Second, 7500 * time.Millisecond, 11250 * time.Millisecond, 16875 * time.Millisecond, 25312500 * time.Microsecond, 30 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoff %v, want %v", got, want)
		}
	}
}

func TestRequestToken(t *testing.T) {
	a := RequestToken("create", "arn:aws:cloudformation:us-east-1:1:stack/x", "1")
	if a != RequestToken("create", "arn:aws:cloudformation:us-east-1:1:stack/x", "1") {
		t.Fatal("not deterministic")
	}
	if a == RequestToken("create", "arn:aws:cloudformation:us-east-1:1:stack/x", "2") {
		t.Fatal("different inputs, same token")
	}
	if len(a) != len("clusterkit-")+32 || strings.Trim(a, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		t.Fatalf("token %q is not a valid ClientRequestToken", a)
	}
}

func TestSanitizeRemovesCredentials(t *testing.T) {
	raw := errors.New(`Get "https://sts.amazonaws.com/?Action=GetCallerIdentity&X-Amz-Credential=ASIAABCDEFGHIJKLMNOP%2F2026&X-Amz-Security-Token=FQoGZXIvYXdzE123&X-Amz-Signature=abcdef": dial tcp: timeout; token k8s-aws-v1.aHR0cHM6Ly9zdHM`)
	got := Sanitize(raw).Error()
	for _, secret := range []string{"ASIAABCDEFGHIJKLMNOP", "FQoGZXIvYXdzE123", "abcdef\"", "aHR0cHM6Ly9zdHM"} {
		if strings.Contains(got, secret) {
			t.Errorf("sanitized error still contains %q: %s", secret, got)
		}
	}
	if !strings.Contains(got, "dial tcp: timeout") {
		t.Errorf("sanitized error lost its cause: %s", got)
	}
}
