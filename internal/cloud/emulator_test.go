package cloud

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// fastBackoff keeps the real-HTTP tests quick; the schedule itself is unit-tested.
var fastBackoff = Backoff{First: 20 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 2}

// TestEmulator_StackLifecycleAndEKSToken runs the whole AWS path against the strict
// emulator and the real kube-apiserver: assume the customer role with its external ID,
// create the stack from the embedded template, stream its events, describe the cluster,
// and authenticate to the API server with an EKS token through the webhook.
func TestEmulator_StackLifecycleAndEKSToken(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("needs the local stack (kube-apiserver, etcd, kwok binaries from tools/build.sh): set TF_ACC=1, as make test and CI do")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := testenv.Start(ctx, testenv.Options{Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Stop() }()
	s.AWS.SetStackScript("ck-emu", awsemu.StackScript{StepDelay: 10 * time.Millisecond})

	f := NewFactory(Config{
		Region: s.AWSConfig.Region, AccessKey: s.AWSConfig.AccessKeyID, SecretKey: s.AWSConfig.SecretKey,
		Endpoints: Endpoints{STS: s.AWSEndpoint, CloudFormation: s.AWSEndpoint, EKS: s.AWSEndpoint},
	})

	t.Run("wrong external ID", func(t *testing.T) {
		bad, err := f.Session(ctx, Target{RoleARN: s.AWSConfig.RoleARN, ExternalID: "not-the-one", SessionName: "ck-test"})
		if err != nil {
			t.Fatal(err)
		}
		err = bad.VerifyAccess(ctx)
		var access *AccessError
		if !errors.As(err, &access) || access.Code != "AccessDenied" {
			t.Fatalf("err = %v, want AccessError AccessDenied", err)
		}
		if strings.Contains(err.Error(), s.AWSConfig.ExternalID) || strings.Contains(err.Error(), "not-the-one") {
			t.Fatalf("error reveals an external ID: %v", err)
		}
	})

	sess, err := f.Session(ctx, Target{RoleARN: s.AWSConfig.RoleARN, ExternalID: s.AWSConfig.ExternalID, SessionName: "ck-test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.VerifyAccess(ctx); err != nil {
		t.Fatal(err)
	}
	ami, _ := NodeAMIParameter("1.35")
	spec := StackSpec{
		Name:         "ck-emu",
		TemplateBody: EKSClusterTemplate(),
		Parameters: map[string]string{
			"ClusterName": "ck-emu", "ClusterRoleArn": "arn:aws:iam::222222222222:role/eks-service",
			"KubernetesVersion": "1.35", "VpcId": "vpc-0123456789abcdef0",
			"SubnetIds":                   "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
			"ControlPlaneSecurityGroupId": "sg-0123456789abcdef0", "NodeImageId": ami,
			"AuthenticationMode": AuthModeAPI, "ClusterAdminRoleArn": s.AWSConfig.RoleARN,
		},
		Tags:  map[string]string{"clusterkit.dev/resource": "ck-emu"},
		Token: RequestToken("create", "ck-emu"),
	}
	id, err := sess.CreateStack(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	// A retried create with the same token is the same stack.
	if again, err := sess.CreateStack(ctx, spec); err != nil || again != id {
		t.Fatalf("retried CreateStack: %q, %v; want %q", again, err, id)
	}
	var seen []StackEvent
	st, err := sess.WaitStack(ctx, id, OpCreate, WaitOptions{Backoff: fastBackoff, Progress: func(e StackEvent) { seen = append(seen, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "CREATE_COMPLETE" || !strings.HasPrefix(st.Outputs["NodeInstanceRoleArn"], "arn:aws:iam::222222222222:role/") {
		t.Fatalf("stack %+v", st)
	}
	ids := map[string]bool{}
	for _, e := range seen {
		if ids[e.ID] {
			t.Fatalf("event %s reported twice", e.ID)
		}
		ids[e.ID] = true
	}
	if first, last := seen[0], seen[len(seen)-1]; first.LogicalID != "ck-emu" || first.Status != "CREATE_IN_PROGRESS" || last.LogicalID != "ck-emu" || last.Status != "CREATE_COMPLETE" {
		t.Fatalf("events run from %+v to %+v", first, last)
	}

	cl, err := sess.FindCluster(ctx, "ck-emu")
	if err != nil {
		t.Fatal(err)
	}
	if cl.Endpoint != s.Host || string(cl.CAPEM) != s.CAPEM || cl.Status != "ACTIVE" || cl.Version != "1.35" {
		t.Fatalf("cluster %+v", cl)
	}

	tokens := sess.TokenSource("ck-emu", nil)
	tok, err := tokens.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := tokens.Token(ctx); again != tok {
		t.Error("a fresh token was not reused")
	}
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: cl.Endpoint, BearerToken: tok, TLSClientConfig: rest.TLSClientConfig{CAData: cl.CAPEM}})
	if err != nil {
		t.Fatal(err)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("EKS token refused by the API server: %v", err)
	}
	// Through the role's access entry (EKS's username for a role, with the session name).
	if got, want := review.Status.UserInfo.Username, "arn:aws:sts::222222222222:assumed-role/clusterkit-provisioner/ck-test"; got != want {
		t.Fatalf("authenticated as %q, want %s", got, want)
	}
	if cl.AuthenticationMode != AuthModeAPI {
		t.Errorf("authentication mode %q", cl.AuthenticationMode)
	}

	if err := sess.DeleteStack(ctx, id, RequestToken("delete", id)); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.WaitStack(ctx, id, OpDelete, WaitOptions{Backoff: fastBackoff}); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.FindStack(ctx, "ck-emu"); !IsNotFound(err) {
		t.Fatalf("stack after delete: %v", err)
	}
}

// TestEmulator_FailedStackNamesTheCause scripts a resource failure and checks the error.
func TestEmulator_FailedStackNamesTheCause(t *testing.T) {
	emu, err := awsemu.Start(awsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	key, secret := emu.AddUser("111111111111", "platform")
	emu.AddRole(awsemu.Role{ARN: "arn:aws:iam::222222222222:role/p", TrustedAccounts: []string{"111111111111"}, ExternalID: "x-123"})
	emu.SetStackScript("ck-fail", awsemu.StackScript{StepDelay: 5 * time.Millisecond, FailResource: "EKSCluster", FailReason: "Subnets specified must be in at least two different AZs"})
	ctx := context.Background()
	f := NewFactory(Config{Region: "us-east-1", AccessKey: key, SecretKey: secret, Endpoints: Endpoints{STS: emu.URL(), CloudFormation: emu.URL(), EKS: emu.URL()}})
	sess, err := f.Session(ctx, Target{RoleARN: "arn:aws:iam::222222222222:role/p", ExternalID: "x-123", SessionName: "ck-test"})
	if err != nil {
		t.Fatal(err)
	}
	ami, _ := NodeAMIParameter("1.35")
	id, err := sess.CreateStack(ctx, StackSpec{Name: "ck-fail", TemplateBody: EKSClusterTemplate(), Parameters: map[string]string{
		"ClusterName": "ck-fail", "ClusterRoleArn": "arn:aws:iam::222222222222:role/eks", "KubernetesVersion": "1.35",
		"VpcId": "vpc-1", "SubnetIds": "subnet-1,subnet-2", "ControlPlaneSecurityGroupId": "sg-1", "NodeImageId": ami,
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sess.WaitStack(ctx, id, OpCreate, WaitOptions{Backoff: fastBackoff})
	var failed *StackFailedError
	if !errors.As(err, &failed) {
		t.Fatalf("err = %v, want StackFailedError", err)
	}
	if failed.Status != "ROLLBACK_COMPLETE" || failed.FirstFailure == nil || failed.FirstFailure.LogicalID != "EKSCluster" ||
		failed.FirstFailure.Reason != "Subnets specified must be in at least two different AZs" {
		t.Fatalf("failure %+v first %+v", failed, failed.FirstFailure)
	}
	if !strings.Contains(failed.TimelineText(), "ROLLBACK_IN_PROGRESS") {
		t.Errorf("timeline lacks the rollback:\n%s", failed.TimelineText())
	}
}

// TestEmulator_PlatformAssumeRoleChain: the provider's own assume_role (the platform side)
// runs first; the customer role is then assumed by that platform role, not by the base
// credentials.
func TestEmulator_PlatformAssumeRoleChain(t *testing.T) {
	emu, err := awsemu.Start(awsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	key, secret := emu.AddUser("111111111111", "ci")
	emu.AddRole(awsemu.Role{ARN: "arn:aws:iam::111111111111:role/platform", TrustedAccounts: []string{"111111111111"}})
	// The customer trusts the platform account; the chain must reach it as the platform role.
	emu.AddRole(awsemu.Role{ARN: "arn:aws:iam::222222222222:role/customer", TrustedAccounts: []string{"111111111111"}, ExternalID: "x-123"})
	ctx := context.Background()
	f := NewFactory(Config{
		Region: "us-east-1", AccessKey: key, SecretKey: secret,
		AssumeRoles: []AssumeRole{{RoleARN: "arn:aws:iam::111111111111:role/platform", SessionName: "terraform-run"}},
		Endpoints:   Endpoints{STS: emu.URL(), CloudFormation: emu.URL(), EKS: emu.URL()},
	})
	sess, err := f.Session(ctx, Target{RoleARN: "arn:aws:iam::222222222222:role/customer", ExternalID: "x-123", SessionName: "ck-test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.VerifyAccess(ctx); err != nil {
		t.Fatal(err)
	}
	var assumes []string
	for _, c := range emu.Calls() {
		if c.Action == "AssumeRole" && c.ErrorCode == "" {
			assumes = append(assumes, c.Principal)
		}
	}
	want := []string{"arn:aws:iam::111111111111:user/ci", "arn:aws:sts::111111111111:assumed-role/platform/terraform-run"}
	if len(assumes) != 2 || assumes[0] != want[0] || assumes[1] != want[1] {
		t.Fatalf("AssumeRole callers %v, want %v", assumes, want)
	}
}

// TestEmulator_SessionsAreSharedPerTarget: resources reaching the same role share one
// session, so the role is assumed once per run, not once per operation.
func TestEmulator_SessionsAreSharedPerTarget(t *testing.T) {
	emu, err := awsemu.Start(awsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	key, secret := emu.AddUser("111111111111", "platform")
	emu.AddRole(awsemu.Role{ARN: "arn:aws:iam::222222222222:role/p", TrustedAccounts: []string{"111111111111"}, ExternalID: "x-123"})
	ctx := context.Background()
	f := NewFactory(Config{Region: "us-east-1", AccessKey: key, SecretKey: secret, Endpoints: Endpoints{STS: emu.URL(), CloudFormation: emu.URL(), EKS: emu.URL()}})
	target := Target{RoleARN: "arn:aws:iam::222222222222:role/p", ExternalID: "x-123", SessionName: "ck-test"}
	for range 3 {
		sess, err := f.Session(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.VerifyAccess(ctx); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := f.Session(ctx, Target{RoleARN: target.RoleARN, ExternalID: "x-123", SessionName: "another"})
	if same, _ := f.Session(ctx, target); same == other {
		t.Fatal("different session names share a session")
	}
	n := 0
	for _, c := range emu.Calls() {
		if c.Action == "AssumeRole" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d AssumeRole calls for three uses of one target, want 1", n)
	}
}
