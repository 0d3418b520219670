package cloud

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
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
	b := DefaultBackoff.withDefaults()
	schedule := func(limit time.Duration) []time.Duration {
		var got []time.Duration
		var d time.Duration
		for range 8 {
			d = b.next(d, limit)
			got = append(got, d)
		}
		return got
	}
	far := []time.Duration{5 * time.Second, 7500 * time.Millisecond, 11250 * time.Millisecond, 16875 * time.Millisecond, 25312500 * time.Microsecond, 37968750 * time.Microsecond, 56953125 * time.Microsecond, time.Minute}
	if got := schedule(b.Far); fmt.Sprint(got) != fmt.Sprint(far) {
		t.Errorf("far from the end: %v, want %v", got, far)
	}
	near := []time.Duration{5 * time.Second, 7500 * time.Millisecond, 11250 * time.Millisecond, 15 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second}
	if got := schedule(b.Max); fmt.Sprint(got) != fmt.Sprint(near) {
		t.Errorf("near the end: %v, want %v", got, near)
	}
	if b.Check != 5*time.Minute {
		t.Errorf("check every %s, want 5m", b.Check)
	}
	// A schedule given without Far and Check (the tests' fast one) has no sparse phase and
	// checks the stack after ten intervals of the cap without news.
	if c := (Backoff{First: 20 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 2}).withDefaults(); c.Far != c.Max || c.Check != time.Second {
		t.Errorf("defaults %+v", c)
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

// stackTimeline is every event of the stack as the emulator has it, oldest first, as
// "ID logical-ID status" lines (eventLines makes the same of what the waiter reported).
func stackTimeline(t *testing.T, s *scripted, name string) []string {
	t.Helper()
	info, _ := s.emu.Stack(name)
	var out []string
	for _, e := range info.Events {
		out = append(out, e.EventID+" "+e.LogicalResourceID+" "+e.ResourceStatus)
	}
	return out
}

func eventLines(evs []StackEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID+" "+e.LogicalID+" "+e.Status)
	}
	return out
}

// TestWaitStack_ScriptedCreate: the 15-minute scripted create of the benchmark, call by
// call. The stack is described twice (at the start and once its own CREATE_COMPLETE event
// shows), its template read once, and its events polled 31 times: sparsely (up to a
// minute apart) while more than one resource is to come, every 5s once all are complete.
// The waiter notices the end within Backoff.First, and every event reaches Progress once,
// in order.
func TestWaitStack_ScriptedCreate(t *testing.T) {
	ctx := context.Background()
	s := newScripted(t, "ck-wait", awsemu.StackScript{StepDelay: 36 * time.Second})
	var seen []StackEvent
	var polls []time.Time
	st, err := s.sess.WaitStack(ctx, s.id, OpCreate, WaitOptions{Clock: s.clk, Progress: func(e StackEvent) { seen = append(seen, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "CREATE_COMPLETE" || !strings.HasPrefix(st.Outputs[OutputNodeInstanceRoleArn], "arn:aws:iam::222222222222:role/") {
		t.Fatalf("stack %+v", st)
	}
	if got, want := eventLines(seen), stackTimeline(t, s, "ck-wait"); fmt.Sprint(got) != fmt.Sprint(want) || len(want) != 26 {
		t.Fatalf("progress\n got %v\nwant %v", got, want)
	}
	if got := [3]int{s.calls("DescribeStacks", s.start), s.calls("GetTemplate", s.start), s.calls("DescribeStackEvents", s.start)}; got != [3]int{2, 1, 31} {
		t.Errorf("DescribeStacks, GetTemplate, DescribeStackEvents calls = %v, want [2 1 31]", got)
	}
	if latency := s.clk.Now().Sub(s.ended(t, "ck-wait")); latency < 0 || latency > DefaultBackoff.First {
		t.Errorf("noticed the end %s after it, want at most %s", latency, DefaultBackoff.First)
	}
	for _, c := range s.emu.Calls() {
		if c.Action == "DescribeStackEvents" && (len(polls) == 0 || !c.Time.Equal(polls[len(polls)-1])) {
			polls = append(polls, c.Time)
		}
	}
	for i := 1; i < len(polls); i++ {
		if gap := polls[i].Sub(polls[i-1]); gap > DefaultBackoff.Far {
			t.Errorf("polls %s apart at %s, want at most %s (progress would lag)", gap, polls[i-1].Sub(s.start), DefaultBackoff.Far)
		}
	}
}

// TestWaitStack_FailureReported: a resource fails and the stack rolls back; the error
// names the first failure and carries the whole timeline, as before, with two
// DescribeStacks calls only.
func TestWaitStack_FailureReported(t *testing.T) {
	ctx := context.Background()
	s := newScripted(t, "ck-wait-fail", awsemu.StackScript{StepDelay: 36 * time.Second, FailResource: "NodeLaunchTemplate", FailReason: "The image id '[ami-1]' does not exist"})
	var seen []StackEvent
	_, err := s.sess.WaitStack(ctx, s.id, OpCreate, WaitOptions{Clock: s.clk, Progress: func(e StackEvent) { seen = append(seen, e) }})
	var failed *StackFailedError
	if !errors.As(err, &failed) {
		t.Fatalf("err = %v, want StackFailedError", err)
	}
	if want := "stack " + s.id + ": create ended in ROLLBACK_COMPLETE; first failure: NodeLaunchTemplate (AWS::EC2::LaunchTemplate) CREATE_FAILED: The image id '[ami-1]' does not exist"; err.Error() != want {
		t.Errorf("Error() = %q\nwant %q", err.Error(), want)
	}
	want := stackTimeline(t, s, "ck-wait-fail")
	if got := eventLines(failed.Timeline); fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(eventLines(seen)) != fmt.Sprint(want) {
		t.Fatalf("timeline\n got %v\nwant %v", got, want)
	}
	if !strings.Contains(failed.TimelineText(), "ROLLBACK_IN_PROGRESS") || strings.Count(failed.TimelineText(), "\n") != len(want)-1 {
		t.Errorf("timeline text:\n%s", failed.TimelineText())
	}
	if n := s.calls("DescribeStacks", s.start); n != 2 {
		t.Errorf("%d DescribeStacks calls, want 2", n)
	}
	// During the rollback the waiter polls as for a delete: it notices the end within Max.
	if latency := s.clk.Now().Sub(s.ended(t, "ck-wait-fail")); latency < 0 || latency > DefaultBackoff.Max {
		t.Errorf("noticed the rollback's end %s after it, want at most %s", latency, DefaultBackoff.Max)
	}
}

// TestWaitStack_ThrottlingRetried: throttled calls of every kind the waiter makes are
// retried by the SDK and the wait goes on; none is reported twice.
func TestWaitStack_ThrottlingRetried(t *testing.T) {
	ctx := context.Background()
	s := newScripted(t, "ck-wait-throttle", awsemu.StackScript{StepDelay: 36 * time.Second})
	for _, action := range []string{"DescribeStacks", "GetTemplate", "DescribeStackEvents"} {
		s.emu.InjectFault(awsemu.Fault{Action: action, Kind: "throttle", Count: 2})
	}
	var seen []StackEvent
	st, err := s.sess.WaitStack(ctx, s.id, OpCreate, WaitOptions{Clock: s.clk, Progress: func(e StackEvent) { seen = append(seen, e) }})
	if err != nil || st.Status != "CREATE_COMPLETE" {
		t.Fatalf("wait: %v, %+v", err, st)
	}
	for _, action := range []string{"DescribeStacks", "GetTemplate", "DescribeStackEvents"} {
		if n := s.rejected(action); n != 2 {
			t.Errorf("%d %s calls throttled, want 2", n, action)
		}
	}
	// The same schedule as without throttling: the retries are the SDK's, not new polls.
	if got := [3]int{s.calls("DescribeStacks", s.start), s.calls("GetTemplate", s.start), s.calls("DescribeStackEvents", s.start)}; got != [3]int{2, 1, 31} {
		t.Errorf("DescribeStacks, GetTemplate, DescribeStackEvents calls = %v, want [2 1 31]", got)
	}
	if got, want := eventLines(seen), stackTimeline(t, s, "ck-wait-throttle"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("progress\n got %v\nwant %v", got, want)
	}
}

// TestWaitStack_SafetyNet: when no event comes for Backoff.Check the stack is described
// anyway, so a wait never relies on the events alone for long. A create whose steps are 10
// minutes apart is described once in each quiet step (25), besides the start and the end.
func TestWaitStack_SafetyNet(t *testing.T) {
	ctx := context.Background()
	s := newScripted(t, "ck-wait-quiet", awsemu.StackScript{StepDelay: 10 * time.Minute})
	if _, err := s.sess.WaitStack(ctx, s.id, OpCreate, WaitOptions{Clock: s.clk}); err != nil {
		t.Fatal(err)
	}
	if n := s.calls("DescribeStacks", s.start); n != 2+25 {
		t.Errorf("%d DescribeStacks calls, want 27", n)
	}
	// The safety net is that only: the stack is not described more often than Check.
	var describes []time.Time
	for _, c := range s.emu.Calls() {
		if c.Action == "DescribeStacks" {
			describes = append(describes, c.Time)
		}
	}
	for i := 1; i < len(describes)-1; i++ {
		if gap := describes[i].Sub(describes[i-1]); gap < DefaultBackoff.Check {
			t.Errorf("DescribeStacks %s after the one before, at %s", gap, describes[i].Sub(s.start))
		}
	}
}

// TestWaitStack_UpdateAndDelete: waits without a template plan (an update, a delete) poll
// the events up to Max apart and describe the stack twice; a delete waited on by name ends
// when the stack is gone, one by ID at its DELETE_COMPLETE event.
func TestWaitStack_UpdateAndDelete(t *testing.T) {
	ctx := context.Background()
	for _, byName := range []bool{true, false} {
		t.Run(fmt.Sprintf("by name %v", byName), func(t *testing.T) {
			s := newScripted(t, "ck-wait-upd", awsemu.StackScript{StepDelay: 36 * time.Second})
			if _, err := s.sess.WaitStack(ctx, s.id, OpCreate, WaitOptions{Clock: s.clk}); err != nil {
				t.Fatal(err)
			}
			ref := s.id
			if byName {
				ref = "ck-wait-upd"
			}
			info, _ := s.emu.Stack("ck-wait-upd")
			params := maps.Clone(info.Parameters)
			params["NodeCount"] = "5"
			<-s.clk.After(time.Second) // the calls from here on are the update's
			since := s.clk.Now()
			if _, err := s.sess.UpdateStack(ctx, ref, StackSpec{TemplateBody: EKSClusterTemplate(), Parameters: params}); err != nil {
				t.Fatal(err)
			}
			var seen []StackEvent
			st, err := s.sess.WaitStack(ctx, ref, OpUpdate, WaitOptions{Clock: s.clk, Progress: func(e StackEvent) { seen = append(seen, e) }})
			if err != nil || st.Status != "UPDATE_COMPLETE" || st.Parameters["NodeCount"] != "5" {
				t.Fatalf("update: %v, %+v", err, st)
			}
			// The whole history is reported, as before: the wait was given no LastEventID.
			if got, want := eventLines(seen), stackTimeline(t, s, "ck-wait-upd"); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("progress\n got %v\nwant %v", got, want)
			}
			if n, g := s.calls("DescribeStacks", since), s.calls("GetTemplate", since); n != 2 || g != 0 {
				t.Errorf("update: %d DescribeStacks and %d GetTemplate calls, want 2 and 0", n, g)
			}
			if latency := s.clk.Now().Sub(s.ended(t, "ck-wait-upd")); latency < 0 || latency > DefaultBackoff.Max {
				t.Errorf("noticed the update's end %s after it, want at most %s", latency, DefaultBackoff.Max)
			}

			<-s.clk.After(time.Second)
			since = s.clk.Now()
			if err := s.sess.DeleteStack(ctx, ref, ""); err != nil {
				t.Fatal(err)
			}
			seen = nil
			if st, err := s.sess.WaitStack(ctx, ref, OpDelete, WaitOptions{Clock: s.clk, Progress: func(e StackEvent) { seen = append(seen, e) }}); err != nil || st != nil {
				t.Fatalf("delete: %v, %+v", err, st)
			}
			if n := s.calls("DescribeStacks", since); n != 2 {
				t.Errorf("delete: %d DescribeStacks calls, want 2", n)
			}
			info, _ = s.emu.Stack(s.id)
			last := info.Events[len(info.Events)-1]
			if latency := s.clk.Now().Sub(last.Timestamp); last.ResourceStatus != "DELETE_COMPLETE" || latency < 0 || latency > DefaultBackoff.Max {
				t.Errorf("noticed the delete's end (%s) %s after it, want at most %s", last.ResourceStatus, latency, DefaultBackoff.Max)
			}
			if !byName {
				// By ID the events stay readable: the last one reported is the stack's DELETE_COMPLETE.
				if got := seen[len(seen)-1]; got.LogicalID != "ck-wait-upd" || got.Status != "DELETE_COMPLETE" {
					t.Errorf("last event reported %+v", got)
				}
			}
		})
	}
}

// TestWaitStack_ResumedSkipsTemplate: a wait given LastEventID reports only what follows
// it and reads no template (it has not seen which resources are done); it still finishes.
func TestWaitStack_ResumedSkipsTemplate(t *testing.T) {
	ctx := context.Background()
	s := newScripted(t, "ck-wait-resume", awsemu.StackScript{StepDelay: 36 * time.Second})
	<-s.clk.After(5 * time.Minute)
	info, _ := s.emu.Stack("ck-wait-resume")
	resumeAt := len(info.Events)
	var seen []StackEvent
	st, err := s.sess.WaitStack(ctx, s.id, OpCreate, WaitOptions{Clock: s.clk, LastEventID: info.Events[resumeAt-1].EventID, Progress: func(e StackEvent) { seen = append(seen, e) }})
	if err != nil || st.Status != "CREATE_COMPLETE" {
		t.Fatalf("wait: %v, %+v", err, st)
	}
	if got, want := eventLines(seen), stackTimeline(t, s, "ck-wait-resume")[resumeAt:]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("progress\n got %v\nwant %v", got, want)
	}
	if n, g := s.calls("DescribeStacks", s.start), s.calls("GetTemplate", s.start); n != 2 || g != 0 {
		t.Errorf("%d DescribeStacks and %d GetTemplate calls, want 2 and 0", n, g)
	}
}

func TestPlanOf(t *testing.T) {
	p := planOf(EKSClusterTemplate())
	if p == nil || len(p.required) != 9 || fmt.Sprint(p.conditional) != "[NodeAccessEntry AdminAccessEntry NodeInstanceProfile NodeLaunchTemplate NodeGroup]" || p.required[0] != EKSClusterLogicalID {
		t.Fatalf("EKS template plan %+v", p)
	}
	js := planOf(`{"Conditions": {"Big": {"Fn::Equals": ["a", "a"]}}, "Resources": {"A": {"Type": "AWS::SNS::Topic"}, "B": {"Type": "AWS::SNS::Topic", "Condition": "Big"}}}`)
	if js == nil || fmt.Sprint(js.required, js.conditional) != "[A] [B]" {
		t.Fatalf("JSON template plan %+v", js)
	}
	// A conditional resource counts once it started, not before.
	if n := js.remaining(map[string]string{"A": "CREATE_COMPLETE"}); n != 0 {
		t.Errorf("remaining %d, want 0", n)
	}
	if n := js.remaining(map[string]string{"A": "CREATE_COMPLETE", "B": "CREATE_IN_PROGRESS"}); n != 1 {
		t.Errorf("remaining %d, want 1", n)
	}
	for _, bad := range []string{"", "not: [a template", "Resources: 3", "Outputs: {}"} {
		if p := planOf(bad); p != nil {
			t.Errorf("planOf(%q) = %+v, want nil", bad, p)
		}
	}
}

// TestWaitStack_EKSShapedCreate: with durations shaped like AWS's (the cluster 10 minutes,
// the Auto Scaling group 90s, then its security group rules) the wait polls sparsely through the cluster, is
// described once more in its 10 quiet minutes (the safety net), and notices the end within
// Backoff.First of it.
func TestWaitStack_EKSShapedCreate(t *testing.T) {
	ctx := context.Background()
	s := newScripted(t, "ck-wait-shaped", awsemu.StackScript{StepDelay: 2 * time.Second, ResourceDelays: map[string]time.Duration{
		"EKSCluster": 10 * time.Minute, "NodeInstanceRole": 20 * time.Second, "NodeInstanceProfile": 2 * time.Minute,
		"NodeSecurityGroup": 6 * time.Second, "NodeGroup": 90 * time.Second,
	}})
	var seen []StackEvent
	if _, err := s.sess.WaitStack(ctx, s.id, OpCreate, WaitOptions{Clock: s.clk, Progress: func(e StackEvent) { seen = append(seen, e) }}); err != nil {
		t.Fatal(err)
	}
	if got, want := eventLines(seen), stackTimeline(t, s, "ck-wait-shaped"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("progress\n got %v\nwant %v", got, want)
	}
	if got := [3]int{s.calls("DescribeStacks", s.start), s.calls("GetTemplate", s.start), s.calls("DescribeStackEvents", s.start)}; got != [3]int{3, 1, 20} {
		t.Errorf("DescribeStacks, GetTemplate, DescribeStackEvents calls = %v, want [3 1 20]", got)
	}
	if latency := s.clk.Now().Sub(s.ended(t, "ck-wait-shaped")); latency < 0 || latency > DefaultBackoff.First {
		t.Errorf("noticed the end %s after it, want at most %s", latency, DefaultBackoff.First)
	}
}
