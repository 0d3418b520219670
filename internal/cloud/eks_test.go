package cloud

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// stepClock is emulator time and token time at once; tests move it by hand.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const (
	testRole       = "arn:aws:iam::222222222222:role/p"
	testExternalID = "x-123"
)

// emulatorSession starts the AWS emulator on clk (which starts at the real time, as the
// SDK signs with the real clock) and returns a session on the customer role.
func emulatorSession(t *testing.T, clk *stepClock, session string) (*awsemu.Emulator, *Session) {
	t.Helper()
	emu, err := awsemu.Start(awsemu.Options{Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	key, secret := emu.AddUser("111111111111", "platform")
	emu.AddRole(awsemu.Role{ARN: testRole, TrustedAccounts: []string{"111111111111"}, ExternalID: testExternalID})
	f := NewFactory(Config{Region: "us-east-1", AccessKey: key, SecretKey: secret,
		Endpoints: Endpoints{STS: emu.URL(), CloudFormation: emu.URL(), EKS: emu.URL()}})
	sess, err := f.Session(context.Background(), Target{RoleARN: testRole, ExternalID: testExternalID, SessionName: session})
	if err != nil {
		t.Fatal(err)
	}
	return emu, sess
}

// TestEKSToken_ExpiresWithItsCredentials: a token is a presigned call made with the
// assumed role's temporary credentials, so it is worth nothing once they expire. Minted
// early in the role session it lives its own 14 minutes; minted 50 minutes into a 1-hour
// session it must expire when the credential cache retires the credentials that signed
// it (5 minutes before STS's expiry), not 14 minutes later.
func TestEKSToken_ExpiresWithItsCredentials(t *testing.T) {
	ctx := context.Background()
	clk := &stepClock{now: time.Now().UTC().Truncate(time.Second)}
	emu, sess := emulatorSession(t, clk, "ck-token")
	t0 := clk.Now()
	if err := sess.VerifyAccess(ctx); err != nil { // AssumeRole now: STS says the credentials expire at t0+1h
		t.Fatal(err)
	}

	early, err := sess.EKSToken(ctx, "ck-token", clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := early.Expiration.Sub(t0), 14*time.Minute; got != want {
		t.Fatalf("a token minted at the start of the role session expires after %s, want its own lifetime %s", got, want)
	}
	// A real token: the emulator checks its signature and the credentials like STS would.
	arn, err := emu.VerifyEKSToken(early.Value, "ck-token")
	if err != nil || !strings.HasSuffix(arn, ":assumed-role/p/ck-token") {
		t.Fatalf("the emulator did not accept the token: %q, %v", arn, err)
	}

	clk.Advance(50 * time.Minute)
	late, err := sess.EKSToken(ctx, "ck-token", clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := late.Expiration.Sub(t0), 55*time.Minute; got != want {
		t.Fatalf("a token minted 50m into the role session expires at +%s, want +%s: the credentials that signed it expire at +1h0m0s "+
			"(STS) and are retired by the cache at +55m0s", got, want)
	}
	// The token source used for every Kubernetes call hands out that bounded token.
	cur, err := sess.TokenSource("ck-token", clk).Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := cur.Expiration.Sub(t0); got != 55*time.Minute {
		t.Fatalf("the token source's token expires at +%s, want +55m0s", got)
	}
}

// TestSession_KnownClusterIsDescribedOncePerRun: every connection to a cluster checks its
// endpoint and CA against EKS; within a run that is one DescribeCluster, while FindCluster
// always asks, and a cluster that does not exist is never remembered.
func TestSession_KnownClusterIsDescribedOncePerRun(t *testing.T) {
	ctx := context.Background()
	clk := &stepClock{now: time.Now().UTC().Truncate(time.Second)}
	emu, sess := emulatorSession(t, clk, "ck-cache")
	emu.SetStackScript("ck-cache", awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	ami, _ := NodeAMIParameter("1.35")
	id, err := sess.CreateStack(ctx, StackSpec{Name: "ck-cache", TemplateBody: EKSClusterTemplate(), Parameters: map[string]string{
		"ClusterName": "ck-cache", "ClusterRoleArn": "arn:aws:iam::222222222222:role/eks", "KubernetesVersion": "1.35",
		"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
		"ControlPlaneSecurityGroupId": "sg-0123456789abcdef0", "NodeImageId": ami,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.WaitStack(ctx, id, OpCreate, WaitOptions{Clock: clk, Backoff: fastBackoff}); err != nil {
		t.Fatal(err)
	}
	describes := func() int {
		n := 0
		for _, c := range emu.Calls() {
			if c.Action == "DescribeCluster" {
				n++
			}
		}
		return n
	}
	for i := 0; i < 3; i++ {
		cl, err := sess.KnownCluster(ctx, "ck-cache")
		if err != nil {
			t.Fatal(err)
		}
		if !cl.Serving() || !strings.HasPrefix(cl.Endpoint, "https://") || !strings.Contains(string(cl.CAPEM), "BEGIN CERTIFICATE") {
			t.Fatalf("cluster %+v", cl)
		}
	}
	if n := describes(); n != 1 {
		t.Fatalf("%d DescribeCluster calls for three lookups, want 1", n)
	}
	if _, err := sess.FindCluster(ctx, "ck-cache"); err != nil || describes() != 2 {
		t.Fatalf("FindCluster: %v, %d calls in all, want 2", err, describes())
	}
	for i := 0; i < 2; i++ {
		if _, err := sess.KnownCluster(ctx, "ck-missing"); !IsNotFound(err) {
			t.Fatalf("missing cluster: %v", err)
		}
	}
	if n := describes(); n != 4 {
		t.Fatalf("%d DescribeCluster calls, want 4: a missing cluster is asked for every time", n)
	}
}

// TestFindCluster_Configuration: the endpoint access, logging, encryption, network and
// tags the template was given come back from DescribeCluster.
func TestFindCluster_Configuration(t *testing.T) {
	ctx := context.Background()
	clk := &stepClock{now: time.Now().UTC().Truncate(time.Second)}
	emu, sess := emulatorSession(t, clk, "ck-config")
	emu.SetStackScript("ck-config", awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	ami, _ := NodeAMIParameter("1.35")
	const key = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	id, err := sess.CreateStack(ctx, StackSpec{Name: "ck-config", TemplateBody: EKSClusterTemplate(), Parameters: map[string]string{
		"ClusterName": "ck-config", "ClusterRoleArn": "arn:aws:iam::222222222222:role/eks", "KubernetesVersion": "1.35",
		"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
		"ControlPlaneSecurityGroupId": "sg-0123456789abcdef0", "NodeImageId": ami,
		"EndpointPrivateAccess": "true", "PublicAccessCidrs": "203.0.113.0/24", "LogAudit": "true", "LogScheduler": "true",
		"SecretsKmsKeyArn": key,
	}, Tags: map[string]string{"team": "platform"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.WaitStack(ctx, id, OpCreate, WaitOptions{Clock: clk, Backoff: fastBackoff}); err != nil {
		t.Fatal(err)
	}
	cl, err := sess.FindCluster(ctx, "ck-config")
	if err != nil {
		t.Fatal(err)
	}
	if !cl.EndpointPublicAccess || !cl.EndpointPrivateAccess || !slices.Equal(cl.PublicAccessCIDRs, []string{"203.0.113.0/24"}) ||
		!slices.Equal(cl.LogTypes, []string{"audit", "scheduler"}) || cl.SecretsKeyARN != key || cl.IPFamily != "ipv4" ||
		cl.ServiceCIDR != "172.20.0.0/16" || cl.Tags["team"] != "platform" {
		t.Fatalf("cluster %+v", cl)
	}
}
