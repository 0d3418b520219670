package awsemu

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	authv1 "k8s.io/api/authentication/v1"
)

func TestDescribeCluster(t *testing.T) {
	v := newEnv(t)
	ca := selfSignedCA()
	v.e.SetStackScript("demo", StackScript{StepDelay: 10 * time.Second, ClusterEndpoint: "https://127.0.0.1:6443", ClusterCAPEM: ca})
	temp := v.assume(3600)
	if _, err := v.cfn(temp).CreateStack(v.ctx, createInput("demo", "tok")); err != nil {
		t.Fatal(err)
	}
	e := v.eks(temp)
	describe := func() (*ekstypes.Cluster, error) {
		out, err := e.DescribeCluster(v.ctx, &eks.DescribeClusterInput{Name: aws.String("demo")})
		if err != nil {
			return nil, err
		}
		return out.Cluster, nil
	}
	// Cluster is the 3rd resource: its CREATE_COMPLETE event is at t0+60s.
	v.clock.Advance(50 * time.Second)
	_, err := describe()
	var nf *ekstypes.ResourceNotFoundException
	if !errorsAs(err, &nf) || *nf.Message != "No cluster found for name: demo." {
		t.Fatalf("before the resource completed: %v", err)
	}
	v.clock.Advance(10 * time.Second)
	c, err := describe()
	if err != nil || c.Status != ekstypes.ClusterStatusCreating {
		t.Fatalf("while the stack runs: %v %v", c, err)
	}
	v.clock.Advance(time.Minute)
	c, err = describe()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := base64.StdEncoding.DecodeString(*c.CertificateAuthority.Data)
	if c.Status != ekstypes.ClusterStatusActive || *c.Endpoint != "https://127.0.0.1:6443" || !bytes.Equal(data, ca) ||
		*c.Version != "1.31" || *c.Arn != "arn:aws:eks:us-east-1:222222222222:cluster/demo" || c.CreatedAt == nil ||
		!strings.HasPrefix(*c.RoleArn, "arn:aws:iam::222222222222:role/demo-ClusterRole-") {
		t.Fatalf("cluster %+v", c)
	}
	// Other accounts do not see it.
	_, err = v.eks(v.user).DescribeCluster(v.ctx, &eks.DescribeClusterInput{Name: aws.String("demo")})
	if code, _ := apiErr(err); code != "ResourceNotFoundException" {
		t.Fatalf("other account: %v", err)
	}
	// Deleting the stack deletes the cluster.
	if _, err := v.cfn(temp).DeleteStack(v.ctx, &cfn.DeleteStackInput{StackName: aws.String("demo")}); err != nil {
		t.Fatal(err)
	}
	v.clock.Advance(5 * time.Minute)
	if _, err := describe(); !errorsAs(err, &nf) {
		t.Fatalf("after delete: %v", err)
	}
}

// eksToken builds a token exactly as EKS clients (aws-iam-authenticator,
// aws eks get-token) do.
func eksToken(t *testing.T, c *sts.Client, cluster string) string {
	t.Helper()
	req, err := sts.NewPresignClient(c).PresignGetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{},
		func(po *sts.PresignOptions) {
			po.ClientOptions = append(po.ClientOptions, func(o *sts.Options) {
				o.APIOptions = append(o.APIOptions,
					smithyhttp.SetHeaderValue("x-k8s-aws-id", cluster),
					smithyhttp.SetHeaderValue("X-Amz-Expires", "60"))
			})
		})
	if err != nil {
		t.Fatal(err)
	}
	return EKSTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(req.URL))
}

func TestVerifyEKSToken(t *testing.T) {
	v := newEnv(t)
	temp := v.assume(3600)
	token := eksToken(t, v.sts(temp), "demo")
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(token, EKSTokenPrefix))
	if !strings.Contains(string(raw), "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id") || !strings.Contains(string(raw), "X-Amz-Expires=60") {
		t.Fatalf("token URL %s", raw)
	}
	reencode := func(u string) string { return EKSTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(u)) }
	sigAt := strings.Index(string(raw), "X-Amz-Signature=") + len("X-Amz-Signature=")
	flipped := string(raw[:sigAt]) + map[bool]string{true: "1", false: "0"}[raw[sigAt] == '0'] + string(raw[sigAt+1:])
	tests := []struct {
		name, token, cluster string
		advance              time.Duration
		wantErr              string
	}{
		{"valid", token, "demo", 0, ""},
		// X-Amz-Date has whole seconds and the SDK signs with its own clock: keep 2s off the edge.
		// X-Amz-Expires=60 is ignored: a token is good for 15 minutes (kubectl caches 14).
		{"valid after 14m58s", token, "demo", 15*time.Minute - 2*time.Second, ""},
		{"other cluster", token, "other", 0, "SignatureDoesNotMatch"},
		{"expired", token, "demo", 15*time.Minute + 2*time.Second, "token expired"},
		{"tampered signature", reencode(flipped), "demo", 0, "SignatureDoesNotMatch"},
		{"tampered action", reencode(strings.Replace(string(raw), "Action=GetCallerIdentity", "Action=AssumeRole", 1)), "demo", 0, "not an STS GetCallerIdentity"},
		{"other host", reencode(strings.Replace(string(raw), "127.0.0.1", "localhost", 1)), "demo", 0, "must be the emulator's STS endpoint"},
		{"extra parameter", reencode(string(raw) + "&X-Amz-Extra=1"), "demo", 0, "unexpected query parameter"},
		{"long expiry", reencode(strings.Replace(string(raw), "X-Amz-Expires=60", "X-Amz-Expires=3600", 1)), "demo", 0, "must be 1..900"},
		{"no prefix", strings.TrimPrefix(token, EKSTokenPrefix), "demo", 0, "prefix"},
		{"padded base64", token + "==", "demo", 0, "base64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v.clock.Advance(tc.advance)
			defer v.clock.Advance(-tc.advance)
			arn, err := v.e.VerifyEKSToken(tc.token, tc.cluster)
			if tc.wantErr == "" {
				if err != nil || arn != "arn:aws:sts::222222222222:assumed-role/clusterkit-provision/clusterkit-test" {
					t.Fatalf("got %q %v", arn, err)
				}
				if CanonicalRoleARN(arn) != roleARN {
					t.Fatalf("canonical %s", CanonicalRoleARN(arn))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %q %v, want error containing %q", arn, err, tc.wantErr)
			}
		})
	}
	// A token made with the platform user's long-term key verifies to the user.
	arn, err := v.e.VerifyEKSToken(eksToken(t, v.sts(v.user), "demo"), "demo")
	if err != nil || arn != "arn:aws:iam::111111111111:user/clusterkit-ci" {
		t.Fatalf("user token: %q %v", arn, err)
	}
	// Once the temporary credentials expire, their tokens are refused.
	v.clock.Advance(time.Hour)
	if _, err := v.e.VerifyEKSToken(token, "demo"); err == nil {
		t.Fatal("token of expired credentials accepted")
	}
}

func TestTokenReviewHandler(t *testing.T) {
	v := newEnv(t)
	v.e.AddTokenCluster("demo")
	srv := httptest.NewServer(v.e.TokenReviewHandler(func(arn string) (string, []string, bool) {
		if arn == roleARN {
			return "clusterkit-admin", []string{"system:masters"}, true
		}
		return "", nil, false
	}))
	defer srv.Close()
	review := func(token string) authv1.TokenReviewStatus {
		body, _ := json.Marshal(authv1.TokenReview{Spec: authv1.TokenReviewSpec{Token: token}})
		body = bytes.Replace(body, []byte(`{`), []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview",`), 1)
		resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out authv1.TokenReview
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || out.APIVersion != "authentication.k8s.io/v1" || out.Kind != "TokenReview" {
			t.Fatalf("response %d %+v %v", resp.StatusCode, out, err)
		}
		return out.Status
	}
	st := review(eksToken(t, v.sts(v.assume(3600)), "demo"))
	if !st.Authenticated || st.User.Username != "clusterkit-admin" || len(st.User.Groups) != 1 || st.User.Groups[0] != "system:masters" ||
		st.User.Extra["arn"][0] != "arn:aws:sts::222222222222:assumed-role/clusterkit-provision/clusterkit-test" {
		t.Fatalf("role token: %+v", st)
	}
	for name, token := range map[string]string{
		"unmapped user":    eksToken(t, v.sts(v.user), "demo"),
		"unknown cluster":  eksToken(t, v.sts(v.assume(3600)), "other"),
		"not an EKS token": "eyJhbGciOiJSUzI1NiJ9.e30.sig",
		"garbage":          EKSTokenPrefix + "!!!",
	} {
		if st := review(token); st.Authenticated || st.Error == "" {
			t.Errorf("%s: %+v", name, st)
		}
	}
}
