package cloud

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// fastClock is emulator time and waiter time at once: every wait moves it forward at once,
// so a 15-minute stack completes in milliseconds of real time.
type fastClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fastClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fastClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	t := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- t
	return ch
}

// scripted is a stack created from the EKS template in an emulator that runs on a fast
// clock, with the session that created it.
type scripted struct {
	emu   *awsemu.Emulator
	sess  *Session
	clk   *fastClock
	id    string
	start time.Time // when CreateStack returned

	mu      sync.Mutex
	retries map[string][]time.Time // SDK retries by operation: the emulator sees those calls twice
}

// newScripted creates stack name with script; the emulator closes with the test.
func newScripted(tb testing.TB, name string, script awsemu.StackScript) *scripted {
	tb.Helper()
	s := &scripted{clk: &fastClock{now: time.Now().UTC().Truncate(time.Second)}, retries: map[string][]time.Time{}}
	emu, err := awsemu.Start(awsemu.Options{Clock: s.clk.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = emu.Close() })
	s.emu = emu
	key, secret := emu.AddUser("111111111111", "platform")
	emu.AddRole(awsemu.Role{ARN: "arn:aws:iam::222222222222:role/p", TrustedAccounts: []string{"111111111111"}, ExternalID: "x-123"})
	emu.SetStackScript(name, script)
	ctx := context.Background()
	// On loopback a response can beat the end of the SDK's request write; the transport
	// then closes the connection under the response (retried as a 200 that did not decode).
	// Enough attempts that three in a row never fail a test; the counts leave retries out.
	f := NewFactory(Config{Region: "us-east-1", AccessKey: key, SecretKey: secret, MaxRetries: 10, Clock: s.clk,
		Endpoints: Endpoints{STS: emu.URL(), CloudFormation: emu.URL(), EKS: emu.URL()},
		OnRetry: func(_ context.Context, e RetryEvent) {
			if !e.GaveUp {
				s.mu.Lock()
				s.retries[e.Operation] = append(s.retries[e.Operation], s.clk.Now())
				s.mu.Unlock()
			}
		},
	})
	if s.sess, err = f.Session(ctx, Target{RoleARN: "arn:aws:iam::222222222222:role/p", ExternalID: "x-123", SessionName: "wait"}); err != nil {
		tb.Fatal(err)
	}
	ami, _ := NodeAMIParameter("1.35")
	s.id, err = s.sess.CreateStack(ctx, StackSpec{Name: name, TemplateBody: EKSClusterTemplate(), Parameters: map[string]string{
		"ClusterName": name, "ClusterRoleArn": "arn:aws:iam::222222222222:role/eks", "KubernetesVersion": "1.35",
		"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
		"ControlPlaneSecurityGroupId": "sg-0123456789abcdef0", "NodeImageId": ami,
		// The 12 resources without access entries: the timelines and call counts these tests
		// and benchmarks assert were measured on them (an access entry adds two events).
		"AuthenticationMode": AuthModeConfigMap,
	}})
	if err != nil {
		tb.Fatal(err)
	}
	s.start = s.clk.Now()
	return s
}

// calls counts the calls of action the waiter made (answered or rejected), not counting
// the SDK's retries of them, since time t.
func (s *scripted) calls(action string, since time.Time) int {
	n := 0
	for _, c := range s.emu.Calls() {
		if c.Action == action && !c.Time.Before(since) {
			n++
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range s.retries[action] {
		if !at.Before(since) {
			n--
		}
	}
	return n
}

// rejected counts the calls of action the emulator failed (injected faults).
func (s *scripted) rejected(action string) int {
	n := 0
	for _, c := range s.emu.Calls() {
		if c.Action == action && c.ErrorCode != "" {
			n++
		}
	}
	return n
}

// ended is when the stack's last event happened.
func (s *scripted) ended(tb testing.TB, name string) time.Time {
	tb.Helper()
	info, ok := s.emu.Stack(name)
	if !ok || len(info.Events) == 0 {
		tb.Fatalf("no stack %s", name)
	}
	return info.Events[len(info.Events)-1].Timestamp
}

// BenchmarkWaitStack_15MinuteCreate runs WaitStack with the default backoff against a
// scripted create that takes 15 minutes of emulator time (the EKS template's 12 resources:
// 25 timeline steps of 36s) and reports what the poll costs: the calls per create of each
// CloudFormation action the waiter makes (not counting SDK retries), how long after the
// stack completed the waiter noticed, and the figure of merit, DescribeStacks
// calls × mean detection latency.
func BenchmarkWaitStack_15MinuteCreate(b *testing.B) {
	benchWait(b, awsemu.StackScript{StepDelay: 36 * time.Second})
}

// BenchmarkWaitStack_EKSShapedCreate is the same create with durations shaped like AWS's
// (one resource at a time, as the emulator runs them): the cluster takes 10 minutes, the
// instance profile 2, the Auto Scaling group 90s, the rest seconds; 2s between events.
func BenchmarkWaitStack_EKSShapedCreate(b *testing.B) {
	benchWait(b, awsemu.StackScript{StepDelay: 2 * time.Second, ResourceDelays: map[string]time.Duration{
		"EKSCluster": 10 * time.Minute, "NodeInstanceRole": 20 * time.Second, "NodeInstanceProfile": 2 * time.Minute,
		"NodeSecurityGroup": 6 * time.Second, "NodeGroup": 90 * time.Second,
	}})
}

func benchWait(b *testing.B, script awsemu.StackScript) {
	ctx := context.Background()
	var describes, events, templates, retried, latency, duration float64
	for i := 0; i < b.N; i++ {
		s := newScripted(b, "bench", script)
		if _, err := s.sess.WaitStack(ctx, s.id, OpCreate, WaitOptions{Clock: s.clk}); err != nil {
			b.Fatal(err)
		}
		noticed, done := s.clk.Now(), s.ended(b, "bench")
		describes += float64(s.calls("DescribeStacks", s.start))
		events += float64(s.calls("DescribeStackEvents", s.start))
		templates += float64(s.calls("GetTemplate", s.start))
		s.mu.Lock()
		for _, at := range s.retries {
			retried += float64(len(at))
		}
		s.mu.Unlock()
		latency += noticed.Sub(done).Seconds()
		duration += done.Sub(s.start).Minutes()
		_ = s.emu.Close()
	}
	n := float64(b.N)
	b.ReportMetric(duration/n, "stack-minutes")
	b.ReportMetric(describes/n, "DescribeStacks/create")
	b.ReportMetric(events/n, "DescribeStackEvents/create")
	b.ReportMetric(templates/n, "GetTemplate/create")
	b.ReportMetric((describes+events+templates)/n, "CloudFormation-calls/create")
	b.ReportMetric(retried/n, "SDK-retries/create")
	b.ReportMetric(latency/n, "detect-latency-s")
	b.ReportMetric(describes/n*latency/n, "DescribeStacks×latency")
}
