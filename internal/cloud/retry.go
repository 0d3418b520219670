package cloud

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddle "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// RetryEvent is one failed attempt of an AWS call: either one the SDK retries after Wait,
// or (GaveUp) the last one, after which the call fails.
type RetryEvent struct {
	Service     string // e.g. "CloudFormation"
	Operation   string // e.g. "CreateStack"
	Attempt     int    // 1-based number of the attempt that failed
	MaxAttempts int
	Status      int    // HTTP status of the answer; 0 when none arrived
	Code        string // AWS error code, when the answer was an AWS error
	Cause       string // when no answer arrived: why (scrubbed)
	Wait        time.Duration
	GaveUp      bool
}

// RetryObserver is told of every retried attempt and of calls that ran out of attempts.
// It is called on the goroutine of the call, before the SDK waits, and must not block.
type RetryObserver func(ctx context.Context, e RetryEvent)

// observeRetries makes every client built from cfg report its retries to observe, and
// records in each attempt's error which attempt it was (Sanitize reports the count).
func observeRetries(cfg *aws.Config, observe RetryObserver) {
	inner := cfg.Retryer
	// Clients wrap the retryer to apply RetryMaxAttempts (max_retries, AWS_MAX_ATTEMPTS):
	// that wrapper is outside this one, so the limit is taken from the same place.
	maxAttempts := cfg.RetryMaxAttempts
	cfg.Retryer = func() aws.Retryer {
		var r aws.Retryer
		if inner != nil {
			r = inner()
		} else {
			r = retry.NewStandard()
		}
		return observingRetryer{retryerV2(r), maxAttempts}
	}
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		// Presigning clients have no retry step (and send nothing): nothing to count.
		if _, ok := stack.Finalize.Get("Retry"); !ok {
			return nil
		}
		if err := stack.Initialize.Add(callMiddleware{observe}, middleware.Before); err != nil {
			return err
		}
		return stack.Finalize.Insert(attemptMiddleware{observe}, "Retry", middleware.After)
	})
}

type callStateKey struct{}

// callState counts the attempts of one call; they run one after another.
type callState struct{ attempts int }

// callMiddleware runs once per call, around all its attempts.
type callMiddleware struct{ observe RetryObserver }

func (callMiddleware) ID() string { return "clusterkit.RetryCall" }

func (m callMiddleware) HandleInitialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
	middleware.InitializeOutput, middleware.Metadata, error,
) {
	ctx = context.WithValue(ctx, callStateKey{}, &callState{})
	out, md, err := next.HandleInitialize(ctx, in)
	var maxed *retry.MaxAttemptsError
	if m.observe != nil && errors.As(err, &maxed) {
		e := describeAttempt(ctx, err, maxed.Attempt)
		e.MaxAttempts, e.GaveUp = maxed.Attempt, true
		m.observe(ctx, e)
	}
	return out, md, err
}

// attemptMiddleware runs once per attempt, inside the SDK's retry loop.
type attemptMiddleware struct{ observe RetryObserver }

func (attemptMiddleware) ID() string { return "clusterkit.RetryAttempt" }

func (m attemptMiddleware) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
	middleware.FinalizeOutput, middleware.Metadata, error,
) {
	st, _ := ctx.Value(callStateKey{}).(*callState)
	if st == nil {
		return next.HandleFinalize(ctx, in)
	}
	st.attempts++
	out, md, err := next.HandleFinalize(ctx, in)
	if err != nil {
		// The retryer sees this error but not the context: the wrapper carries it there.
		err = &attemptError{err: err, attempt: st.attempts, ctx: ctx, observe: m.observe}
	}
	return out, md, err
}

// attemptError is an attempt's error, unchanged for errors.As and errors.Is, that knows
// which attempt it was and how to report a retry of it.
type attemptError struct {
	err     error
	attempt int
	ctx     context.Context // the call's, kept only while the call runs
	observe RetryObserver
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// observingRetryer reports each retry with the wait the SDK is about to make.
type observingRetryer struct {
	aws.RetryerV2
	maxAttempts int // 0: the wrapped retryer's own
}

func (r observingRetryer) MaxAttempts() int {
	if r.maxAttempts > 0 {
		return r.maxAttempts
	}
	return r.RetryerV2.MaxAttempts()
}

func (r observingRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, derr := r.RetryerV2.RetryDelay(attempt, err)
	var ae *attemptError
	if derr == nil && errors.As(err, &ae) && ae.observe != nil {
		e := describeAttempt(ae.ctx, err, attempt)
		e.MaxAttempts, e.Wait = r.MaxAttempts(), retryAfter(d, err)
		ae.observe(ae.ctx, e)
	}
	return d, derr
}

// retryAfter applies the SDK's X-Amz-Retry-After rule (the header raises the wait by at
// most 5s), so the reported wait is the one that happens.
func retryAfter(d time.Duration, err error) time.Duration {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil || re.Response.Response == nil {
		return d
	}
	ms, perr := strconv.ParseInt(re.Response.Header.Get("X-Amz-Retry-After"), 10, 64)
	if perr != nil || ms < 0 {
		return d
	}
	return min(max(time.Duration(ms)*time.Millisecond, d), d+5*time.Second)
}

func describeAttempt(ctx context.Context, err error, attempt int) RetryEvent {
	e := RetryEvent{
		Service:   awsmiddle.GetServiceID(ctx),
		Operation: awsmiddle.GetOperationName(ctx),
		Attempt:   attempt,
		Status:    httpStatus(err),
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code = api.ErrorCode()
	} else if e.Status == 0 {
		e.Cause = transportCause(err)
	}
	return e
}

// httpStatus is the status of the answer err came with; 0 when none arrived.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.Response.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

type retryerV2Adapter struct{ aws.Retryer }

func (a retryerV2Adapter) GetAttemptToken(context.Context) (func(error) error, error) {
	return a.GetInitialToken(), nil
}

func retryerV2(r aws.Retryer) aws.RetryerV2 {
	if v, ok := r.(aws.RetryerV2); ok {
		return v
	}
	return retryerV2Adapter{r}
}
