package awsemu

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestAssumeRole(t *testing.T) {
	v := newEnv(t)
	ak, sk := v.e.AddUser("333333333333", "stranger")
	stranger := v.cfg(credentials.NewStaticCredentialsProvider(ak, sk, ""))
	v.e.AddRole(Role{ARN: "arn:aws:iam::222222222222:role/no-external-id", TrustedAccounts: []string{platformAcct}})

	tests := []struct {
		name     string
		cfg      aws.Config
		in       sts.AssumeRoleInput
		wantCode string
		wantMsg  string
	}{
		{"ok", v.user, sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String(externalID), DurationSeconds: aws.Int32(3600)}, "", ""},
		{"role without external id", v.user, sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/no-external-id"), RoleSessionName: aws.String("s1")}, "", ""},
		{"wrong external id", v.user, sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String("ext-wrong")}, "AccessDenied",
			"User: arn:aws:iam::111111111111:user/clusterkit-ci is not authorized to perform: sts:AssumeRole on resource: " + roleARN},
		{"missing external id", v.user, sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1")}, "AccessDenied", "not authorized"},
		{"untrusted account", stranger, sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String(externalID)}, "AccessDenied", "user/stranger is not authorized"},
		{"unknown role", v.user, sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/nope"), RoleSessionName: aws.String("s1")}, "AccessDenied", "not authorized"},
		{"duration too short", v.user, sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String(externalID), DurationSeconds: aws.Int32(899)}, "ValidationError", "greater than or equal to 900"},
		{"duration over role max", v.user, sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String(externalID), DurationSeconds: aws.Int32(7201)}, "ValidationError", "exceeds the MaxSessionDuration"},
		{"session name too short", v.user, sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s"), ExternalId: aws.String(externalID)}, "ValidationError", "roleSessionName"},
		{"session name bad chars", v.user, sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("a b"), ExternalId: aws.String(externalID)}, "ValidationError", "roleSessionName"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := v.sts(tc.cfg).AssumeRole(v.ctx, &tc.in)
			code, msg := apiErr(err)
			if code != tc.wantCode || !strings.Contains(msg, tc.wantMsg) {
				t.Fatalf("got code %q msg %q (err %v), want %q containing %q", code, msg, err, tc.wantCode, tc.wantMsg)
			}
			if strings.Contains(msg, externalID) {
				t.Fatalf("error reveals the expected external ID: %s", msg)
			}
			if tc.wantCode != "" {
				return
			}
			c := out.Credentials
			if !strings.HasPrefix(*c.AccessKeyId, "ASIA") || len(*c.AccessKeyId) != 20 || *c.SecretAccessKey == "" || *c.SessionToken == "" {
				t.Fatalf("bad credentials %+v", c)
			}
			want := v.clock.Now().Add(time.Hour)
			if !c.Expiration.Equal(want) {
				t.Fatalf("expiration %v, want %v", c.Expiration, want)
			}
			role := (*tc.in.RoleArn)[strings.LastIndex(*tc.in.RoleArn, "/")+1:]
			if got := *out.AssumedRoleUser.Arn; got != "arn:aws:sts::222222222222:assumed-role/"+role+"/s1" {
				t.Fatalf("assumed role ARN %s", got)
			}
		})
	}
}

func TestGetCallerIdentity(t *testing.T) {
	v := newEnv(t)
	tests := []struct {
		name, arn, account, userIDPrefix string
		cfg                              aws.Config
	}{
		{"user", "arn:aws:iam::111111111111:user/clusterkit-ci", platformAcct, "AIDA", v.user},
		{"assumed role", "arn:aws:sts::222222222222:assumed-role/clusterkit-provision/clusterkit-test", customerAcct, "AROA", v.assume(900)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := v.sts(tc.cfg).GetCallerIdentity(v.ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			if *out.Arn != tc.arn || *out.Account != tc.account || !strings.HasPrefix(*out.UserId, tc.userIDPrefix) {
				t.Fatalf("got %s %s %s", *out.Arn, *out.Account, *out.UserId)
			}
			// The same identity through a presigned GET URL.
			req, err := sts.NewPresignClient(v.sts(tc.cfg)).PresignGetCallerIdentity(v.ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			if req.Method != http.MethodGet {
				t.Fatalf("presign method %s", req.Method)
			}
			resp, err := http.Get(req.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "<Arn>"+tc.arn+"</Arn>") {
				t.Fatalf("presigned GET: %d %s", resp.StatusCode, body)
			}
		})
	}
	if got := v.e.Calls(); len(got) == 0 || !got[len(got)-1].Presigned || got[len(got)-1].Principal == "" {
		t.Fatalf("last call not logged as presigned: %+v", got)
	}
}

func TestUnsignedRequestRejected(t *testing.T) {
	v := newEnv(t)
	resp, err := http.Post(v.e.URL(), "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>MissingAuthenticationToken</Code>") || !strings.Contains(string(body), "<Type>Sender</Type>") {
		t.Fatalf("unsigned query: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(v.e.URL() + "/clusters/demo")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned EKS: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	calls := v.e.Calls()
	if len(calls) != 2 || calls[0].Action != "GetCallerIdentity" || calls[0].ErrorCode != "MissingAuthenticationToken" || calls[1].Service != "eks" {
		t.Fatalf("calls %+v", calls)
	}
}

// tamper rewrites a signed request just before it is sent.
type tamper struct {
	fn func(*http.Request)
}

func (tp tamper) Do(r *http.Request) (*http.Response, error) {
	tp.fn(r)
	return http.DefaultClient.Do(r)
}

func TestSignatureChecks(t *testing.T) {
	v := newEnv(t)
	ak, sk := v.e.AddUser(platformAcct, "other")
	flipSig := func(r *http.Request) {
		a := r.Header.Get("Authorization")
		last := a[len(a)-1]
		r.Header.Set("Authorization", a[:len(a)-1]+map[bool]string{true: "1", false: "0"}[last == '0'])
	}
	tests := []struct {
		name     string
		creds    aws.CredentialsProvider
		client   func(*http.Request)
		wantCode string
	}{
		{"valid", credentials.NewStaticCredentialsProvider(ak, sk, ""), nil, ""},
		{"tampered signature", credentials.NewStaticCredentialsProvider(ak, sk, ""), flipSig, "SignatureDoesNotMatch"},
		{"wrong secret", credentials.NewStaticCredentialsProvider(ak, sk+"x", ""), nil, "SignatureDoesNotMatch"},
		{"unknown key", credentials.NewStaticCredentialsProvider("AKIAUNKNOWN000000000", sk, ""), nil, "InvalidClientTokenId"},
		{"session token on long-term key", credentials.NewStaticCredentialsProvider(ak, sk, "tok"), nil, "InvalidClientTokenId"},
		{"tampered body", credentials.NewStaticCredentialsProvider(ak, sk, ""), func(r *http.Request) {
			b := []byte("Action=DescribeStacks&StackName=other&Version=2010-05-15")
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}, "SignatureDoesNotMatch"},
		{"signed header dropped", credentials.NewStaticCredentialsProvider(ak, sk, ""), func(r *http.Request) { r.Header.Del("Amz-Sdk-Invocation-Id") }, "SignatureDoesNotMatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := v.cfg(tc.creds)
			if tc.client != nil {
				cfg.HTTPClient = tamper{tc.client}
			}
			_, err := v.cfn(cfg).DescribeStacks(v.ctx, &cloudformation.DescribeStacksInput{})
			if code, _ := apiErr(err); code != tc.wantCode {
				t.Fatalf("cloudformation: code %q (%v), want %q", code, err, tc.wantCode)
			}
		})
	}
	// EKS names the same failures the way JSON services do.
	_, err := v.eks(v.cfg(credentials.NewStaticCredentialsProvider(ak, sk+"x", ""))).DescribeCluster(v.ctx, &eks.DescribeClusterInput{Name: aws.String("demo")})
	if code, _ := apiErr(err); code != "InvalidSignatureException" {
		t.Fatalf("eks bad signature: %v", err)
	}
}

func TestTemporaryCredentials(t *testing.T) {
	v := newEnv(t)
	temp := v.assume(900)
	cfn := v.cfn(temp)
	if _, err := cfn.DescribeStacks(v.ctx, &cloudformation.DescribeStacksInput{}); err != nil {
		t.Fatalf("temporary credentials rejected: %v", err)
	}
	if c := v.e.Calls(); c[len(c)-1].Principal != "arn:aws:sts::222222222222:assumed-role/clusterkit-provision/clusterkit-test" {
		t.Fatalf("principal %+v", c[len(c)-1])
	}

	// A wrong session token with the right key is refused.
	creds, _ := temp.Credentials.Retrieve(v.ctx)
	bad := v.cfg(credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken+"x"))
	_, err := v.cfn(bad).DescribeStacks(v.ctx, &cloudformation.DescribeStacksInput{})
	if code, _ := apiErr(err); code != "InvalidClientTokenId" {
		t.Fatalf("wrong session token: %v", err)
	}
	noTok := v.cfg(credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""))
	_, err = v.cfn(noTok).DescribeStacks(v.ctx, &cloudformation.DescribeStacksInput{})
	if code, _ := apiErr(err); code != "InvalidClientTokenId" {
		t.Fatalf("missing session token: %v", err)
	}

	// 14 minutes later they still work: the first attempt is refused as
	// skewed, the SDK corrects its clock from the Date header and retries.
	v.clock.Advance(14 * time.Minute)
	if _, err := cfn.DescribeStacks(v.ctx, &cloudformation.DescribeStacksInput{}); err != nil {
		t.Fatalf("after 14m: %v", err)
	}
	calls := v.e.Calls()
	if calls[len(calls)-2].ErrorCode != "SignatureDoesNotMatch" || calls[len(calls)-1].ErrorCode != "" {
		t.Fatalf("expected a skew rejection then success: %+v", calls[len(calls)-2:])
	}
	v.clock.Advance(time.Minute + time.Second)
	_, err = cfn.DescribeStacks(v.ctx, &cloudformation.DescribeStacksInput{})
	if code, msg := apiErr(err); code != "ExpiredToken" || msg != "The security token included in the request is expired" {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestCanonicalRoleARN(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sts::222222222222:assumed-role/clusterkit-provision/sess": "arn:aws:iam::222222222222:role/clusterkit-provision",
		"arn:aws:iam::111111111111:user/ci":                                "arn:aws:iam::111111111111:user/ci",
		"arn:aws:iam::222222222222:role/x":                                 "arn:aws:iam::222222222222:role/x",
		"garbage":                                                          "garbage",
	} {
		if got := CanonicalRoleARN(in); got != want {
			t.Errorf("CanonicalRoleARN(%q) = %q, want %q", in, got, want)
		}
	}
}
