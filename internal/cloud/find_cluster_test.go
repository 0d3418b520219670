package cloud

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// TestFindClusterDetails: a cluster made by a stack (here: this session's, as if by another
// workspace) comes back with its Cluster part and the details DescribeCluster adds; a name
// EKS does not know is a *NotFoundError naming it, and is not remembered.
func TestFindClusterDetails(t *testing.T) {
	ctx := context.Background()
	clk := &stepClock{now: time.Now().UTC().Truncate(time.Second)}
	emu, sess := emulatorSession(t, clk, "ck-details")
	emu.SetStackScript("ck-details", awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	ami, _ := NodeAMIParameter("1.35")
	id, err := sess.CreateStack(ctx, StackSpec{Name: "ck-details", TemplateBody: EKSClusterTemplate(), Parameters: map[string]string{
		"ClusterName": "ck-details", "ClusterRoleArn": "arn:aws:iam::222222222222:role/eks", "KubernetesVersion": "1.35",
		"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
		"ControlPlaneSecurityGroupId": "sg-0123456789abcdef0", "NodeImageId": ami, "LogApi": "true",
	}, Tags: map[string]string{"team": "platform"}})
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
	before := describes()
	d, err := sess.FindClusterDetails(ctx, "ck-details")
	if err != nil {
		t.Fatal(err)
	}
	if n := describes() - before; n != 1 {
		t.Errorf("FindClusterDetails made %d DescribeCluster calls, want 1", n)
	}
	if d.Name != "ck-details" || d.ARN != "arn:aws:eks:us-east-1:222222222222:cluster/ck-details" || d.Version != "1.35" || d.Status != "ACTIVE" ||
		!d.Serving() || !slices.Equal(d.LogTypes, []string{"api"}) || d.Tags["team"] != "platform" {
		t.Fatalf("cluster %+v", d.Cluster)
	}
	if d.PlatformVersion != "eks.1" || d.RoleARN != "arn:aws:iam::222222222222:role/eks" ||
		!regexp.MustCompile(`^https://oidc\.eks\.us-east-1\.amazonaws\.com/id/[0-9A-F]{32}$`).MatchString(d.OIDCIssuer) ||
		!slices.Equal(d.SubnetIDs, []string{"subnet-0123456789abcdef0", "subnet-0123456789abcdef1"}) ||
		!slices.Equal(d.SecurityGroupIDs, []string{"sg-0123456789abcdef0"}) {
		t.Fatalf("details %+v", d)
	}
	if d.CreatedAt.IsZero() || d.CreatedAt.After(clk.Now()) || d.CreatedAt.Location() != time.UTC {
		t.Fatalf("created at %v (now %v)", d.CreatedAt, clk.Now())
	}
	// The Cluster part is what the session's cache now holds for the connections of the run.
	known, err := sess.KnownCluster(ctx, "ck-details")
	if err != nil || known != d.Cluster {
		t.Fatalf("KnownCluster after FindClusterDetails: %p %v, want %p", known, err, d.Cluster)
	}

	_, err = sess.FindClusterDetails(ctx, "ck-missing")
	if !IsNotFound(err) || err.Error() != "EKS cluster ck-missing not found" {
		t.Fatalf("missing cluster: %v", err)
	}
}

// clusterDetails reads the details of an EKS answer (the OIDC issuer is the Cluster's,
// read by describeCluster and checked against the emulator above).
func TestClusterDetails_FromAnswer(t *testing.T) {
	created := time.Date(2026, 11, 30, 9, 15, 0, 0, time.FixedZone("CET", 3600))
	d := clusterDetails(&Cluster{Name: "shop"}, &ekstypes.Cluster{
		PlatformVersion: aws.String("eks.12"), CreatedAt: &created,
	})
	if d.PlatformVersion != "eks.12" ||
		!d.CreatedAt.Equal(created) || d.CreatedAt.Location() != time.UTC || d.Name != "shop" || d.SubnetIDs != nil {
		t.Fatalf("details %+v", d)
	}
	if d := clusterDetails(&Cluster{Name: "bare"}, &ekstypes.Cluster{}); !d.CreatedAt.IsZero() || d.PlatformVersion != "" {
		t.Fatalf("details of a bare answer %+v", d)
	}
}
