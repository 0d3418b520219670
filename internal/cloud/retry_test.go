package cloud

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// retryWorld is the in-process AWS emulator (no binaries) with the platform user and a
// customer role, and a factory whose retries are recorded.
type retryWorld struct {
	emu    *awsemu.Emulator
	mu     sync.Mutex
	events []RetryEvent
}

const (
	retryRole   = "arn:aws:iam::222222222222:role/clusterkit-provision"
	retryKeyID  = "AKIARETRYTEST0000001"
	retrySecret = "retry-test-secret-key-0000000000000000000"
)

func newRetryWorld(t *testing.T) *retryWorld {
	t.Helper()
	emu, err := awsemu.Start(awsemu.Options{Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	emu.AddUserKey("111111111111", "platform", retryKeyID, retrySecret)
	emu.AddRole(awsemu.Role{ARN: retryRole, TrustedAccounts: []string{"111111111111"}})
	return &retryWorld{emu: emu}
}

func (w *retryWorld) session(t *testing.T, maxAttempts int, ep Endpoints) *Session {
	t.Helper()
	t.Setenv("AWS_MAX_ATTEMPTS", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	f := NewFactory(Config{
		Region: "us-east-1", AccessKey: retryKeyID, SecretKey: retrySecret, MaxRetries: maxAttempts,
		Endpoints: ep,
		OnRetry: func(_ context.Context, e RetryEvent) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.events = append(w.events, e)
		},
	})
	s, err := f.Session(context.Background(), Target{RoleARN: retryRole, SessionName: "retry-test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (w *retryWorld) recorded() []RetryEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]RetryEvent(nil), w.events...)
}

var retrySpec = StackSpec{Name: "ck-retry", TemplateBody: `{"Resources":{"Handle":{"Type":"AWS::CloudFormation::WaitConditionHandle"}}}`, Token: "clusterkit-retry"}

// The emulator answers every CreateStack with HTTP 500 InternalFailure: each of the 3
// retries is reported with its attempt number, status, code and wait, then the give-up,
// and the error counts the attempts in plain words.
func TestRetries_EmulatorServerErrors(t *testing.T) {
	w := newRetryWorld(t)
	sess := w.session(t, 4, Endpoints{STS: w.emu.URL(), CloudFormation: w.emu.URL(), EKS: w.emu.URL()})
	w.emu.InjectFault(awsemu.Fault{Action: "CreateStack", Kind: "5xx", Count: 100})

	_, err := sess.CreateStack(context.Background(), retrySpec)
	const want = "CloudFormation CreateStack failed after 4 attempts (the retry limit): HTTP 500 InternalFailure: We encountered an internal error. Please try again."
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
	events := w.recorded()
	if len(events) != 4 {
		t.Fatalf("%d events, want 3 retries and the give-up: %+v", len(events), events)
	}
	// The SDK's standard backoff for a 5xx: a random wait below 50ms, 100ms, 200ms.
	caps := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}
	for i, e := range events {
		if e.Service != "CloudFormation" || e.Operation != "CreateStack" || e.Attempt != i+1 || e.MaxAttempts != 4 ||
			e.Status != 500 || e.Code != "InternalFailure" || e.Cause != "" {
			t.Errorf("event %d: %+v", i, e)
		}
		if i < 3 && (e.GaveUp || e.Wait < 0 || e.Wait > caps[i]) {
			t.Errorf("retry %d: gave up %v, wait %s (cap %s)", i+1, e.GaveUp, e.Wait, caps[i])
		}
	}
	if last := events[3]; !last.GaveUp || last.Wait != 0 {
		t.Errorf("last event: %+v, want the give-up after attempt 4", last)
	}
	n := 0
	for _, c := range w.emu.Calls() {
		if c.Action == "CreateStack" {
			n++
			if c.ErrorCode != "InternalFailure" {
				t.Errorf("CreateStack call answered %q", c.ErrorCode)
			}
		}
	}
	if n != 4 {
		t.Errorf("the emulator saw %d CreateStack calls, want 4", n)
	}
}

// A proxy in front of CloudFormation answers 502 with its HTML page: the SDK's own error
// ("error while deserializing xml error response: XML syntax error ...") stays out of the
// message, which says what happened instead.
func TestRetries_NonAWSAnswer(t *testing.T) {
	w := newRetryWorld(t)
	var mu sync.Mutex
	calls := 0
	proxy := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		calls++
		mu.Unlock()
		rw.Header().Set("Content-Type", "text/html")
		rw.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(rw, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center><br>\r\n")
	}))
	defer proxy.Close()
	sess := w.session(t, 3, Endpoints{STS: w.emu.URL(), CloudFormation: proxy.URL})

	// What the SDK itself says, to show what must not get through.
	_, raw := sess.CloudFormation.CreateStack(context.Background(), &cloudformation.CreateStackInput{StackName: aws.String("ck-retry")})
	if raw == nil || !strings.Contains(raw.Error(), "XML syntax error") {
		t.Fatalf("the fake proxy no longer makes the SDK fail on its XML: %v", raw)
	}
	const want = "CloudFormation CreateStack failed after 3 attempts (the retry limit): HTTP 502, and the answer was not an AWS API response (check that the endpoint is the AWS service's)"
	if got := Sanitize(raw).Error(); got != want {
		t.Fatalf("error:\n got %s\nwant %s", got, want)
	}
	events := w.recorded()
	if len(events) != 3 || events[0].Attempt != 1 || events[1].Attempt != 2 || !events[2].GaveUp || events[2].Attempt != 3 {
		t.Fatalf("events %+v", events)
	}
	for _, e := range events {
		if e.Status != 502 || e.Code != "" || e.Cause != "" || e.MaxAttempts != 3 {
			t.Errorf("event %+v", e)
		}
	}
	if calls != 3 {
		t.Errorf("%d calls reached the proxy, want 3", calls)
	}
}

// Nothing listens at the endpoint: the cause is the network's, without the SDK's wrapping
// or the URL.
func TestRetries_NoAnswer(t *testing.T) {
	w := newRetryWorld(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	sess := w.session(t, 2, Endpoints{STS: w.emu.URL(), CloudFormation: "http://" + addr})

	_, err = sess.CreateStack(context.Background(), retrySpec)
	want := "CloudFormation CreateStack failed after 2 attempts (the retry limit): no answer: dial tcp " + addr + ": connect: connection refused"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
	events := w.recorded()
	if len(events) != 2 || events[0].Status != 0 || events[0].Cause != "dial tcp "+addr+": connect: connection refused" || !events[1].GaveUp {
		t.Fatalf("events %+v", events)
	}
}

// An answer that is not retried (a refusal after a server error) reports its attempt.
func TestRetries_RefusedOnSecondAttempt(t *testing.T) {
	w := newRetryWorld(t)
	sess := w.session(t, 5, Endpoints{STS: w.emu.URL(), CloudFormation: w.emu.URL()})
	w.emu.InjectFault(awsemu.Fault{Action: "CreateStack", Kind: "5xx", Count: 1})

	_, err := sess.CreateStack(context.Background(), StackSpec{Name: "ck-retry", TemplateBody: "not a template"})
	var api *APIError
	if !errors.As(err, &api) || api.Attempts != 2 || api.Exhausted || api.Status != 400 || api.Code != "ValidationError" {
		t.Fatalf("err = %#v", err)
	}
	if !strings.HasPrefix(err.Error(), "CloudFormation CreateStack failed on attempt 2: HTTP 400 ValidationError: ") {
		t.Errorf("error text %q", err)
	}
	if events := w.recorded(); len(events) != 1 || events[0].Attempt != 1 || events[0].Status != 500 || events[0].GaveUp {
		t.Errorf("events %+v, want one retry after the 500", events)
	}
}

// A call that succeeds at once reports nothing and its errors, if any, stay one-attempt.
func TestRetries_QuietWhenAllIsWell(t *testing.T) {
	w := newRetryWorld(t)
	sess := w.session(t, 4, Endpoints{STS: w.emu.URL(), CloudFormation: w.emu.URL()})
	if _, err := sess.CreateStack(context.Background(), retrySpec); err != nil {
		t.Fatal(err)
	}
	if events := w.recorded(); len(events) != 0 {
		t.Errorf("events %+v", events)
	}
}
