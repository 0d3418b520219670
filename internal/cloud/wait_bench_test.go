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

// BenchmarkWaitStack_15MinuteCreate runs WaitStack with the default backoff against a
// scripted create that takes about 15 minutes of emulator time and reports what the poll
// costs: DescribeStacks and DescribeStackEvents calls per create, and how long after the
// stack completed the waiter noticed.
func BenchmarkWaitStack_15MinuteCreate(b *testing.B) {
	ctx := context.Background()
	ami, _ := NodeAMIParameter("1.33")
	var describes, events, rejected, latency, duration float64
	for i := 0; i < b.N; i++ {
		clk := &fastClock{now: time.Now()}
		emu, err := awsemu.Start(awsemu.Options{Clock: clk.Now})
		if err != nil {
			b.Fatal(err)
		}
		key, secret := emu.AddUser("111111111111", "platform")
		emu.AddRole(awsemu.Role{ARN: "arn:aws:iam::222222222222:role/p", TrustedAccounts: []string{"111111111111"}, ExternalID: "x-123"})
		// 12 resources: 25 timeline steps of 36s is a 15-minute create.
		emu.SetStackScript("bench", awsemu.StackScript{StepDelay: 36 * time.Second})
		f := NewFactory(Config{Region: "us-east-1", AccessKey: key, SecretKey: secret, Endpoints: Endpoints{STS: emu.URL(), CloudFormation: emu.URL(), EKS: emu.URL()}})
		sess, err := f.Session(ctx, Target{RoleARN: "arn:aws:iam::222222222222:role/p", ExternalID: "x-123", SessionName: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		id, err := sess.CreateStack(ctx, StackSpec{Name: "bench", TemplateBody: EKSClusterTemplate(), Parameters: map[string]string{
			"ClusterName": "bench", "ClusterRoleArn": "arn:aws:iam::222222222222:role/eks", "KubernetesVersion": "1.33",
			"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
			"ControlPlaneSecurityGroupId": "sg-0123456789abcdef0", "NodeImageId": ami,
		}})
		if err != nil {
			b.Fatal(err)
		}
		start := clk.Now()
		if _, err := sess.WaitStack(ctx, id, OpCreate, WaitOptions{Clock: clk}); err != nil {
			b.Fatal(err)
		}
		noticed := clk.Now()
		info, _ := emu.Stack("bench")
		done := info.Events[len(info.Events)-1].Timestamp
		for _, e := range info.Events {
			if e.Timestamp.After(done) {
				done = e.Timestamp
			}
		}
		for _, c := range emu.Calls() {
			switch {
			case c.ErrorCode != "":
				rejected++
			case c.Action == "DescribeStacks":
				describes++
			case c.Action == "DescribeStackEvents":
				events++
			}
		}
		latency += noticed.Sub(done).Seconds()
		duration += done.Sub(start).Minutes()
		emu.Close()
	}
	n := float64(b.N)
	b.ReportMetric(duration/n, "stack-minutes")
	b.ReportMetric(describes/n, "DescribeStacks/create")
	b.ReportMetric(events/n, "DescribeStackEvents/create")
	b.ReportMetric(rejected/n, "rejected-calls/create")
	b.ReportMetric(latency/n, "detect-latency-s")
}
