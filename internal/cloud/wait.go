package cloud

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Clock is time as the waits see it; tests inject a fake one so no test sleeps.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RealClock is the wall clock.
var RealClock Clock = realClock{}

// Backoff is the polling schedule: the first check soon, then slower, capped.
type Backoff struct {
	First, Max time.Duration
	Factor     float64
}

// DefaultBackoff suits stacks that take 10-20 minutes: 5s, 7.5s, 11s, ... capped at 30s.
var DefaultBackoff = Backoff{First: 5 * time.Second, Max: 30 * time.Second, Factor: 1.5}

func (b Backoff) next(d time.Duration) time.Duration {
	if d == 0 {
		return b.First
	}
	n := time.Duration(float64(d) * b.Factor)
	if n > b.Max {
		return b.Max
	}
	return n
}

// StackOperation is what a wait waits for.
type StackOperation string

const (
	OpCreate StackOperation = "create"
	OpUpdate StackOperation = "update"
	OpDelete StackOperation = "delete"
)

// WaitOptions tune WaitStack.
type WaitOptions struct {
	Clock    Clock
	Backoff  Backoff
	Progress func(StackEvent) // every new event, oldest first
	// LastEventID skips history already reported (a resumed wait).
	LastEventID string
}

// StackFailedError is a stack that ended in a failed state.
type StackFailedError struct {
	StackName string
	Operation StackOperation
	Status    string
	// FirstFailure is the first resource that failed: the cause, not its consequences.
	FirstFailure *StackEvent
	Timeline     []StackEvent
}

func (e *StackFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %s: %s ended in %s", e.StackName, e.Operation, e.Status)
	if e.FirstFailure != nil {
		fmt.Fprintf(&b, "; first failure: %s (%s) %s", e.FirstFailure.LogicalID, e.FirstFailure.ResourceType, e.FirstFailure.Status)
		if e.FirstFailure.Reason != "" {
			fmt.Fprintf(&b, ": %s", scrub(e.FirstFailure.Reason))
		}
	}
	return b.String()
}

// TimelineText renders the events for a diagnostic, one per line.
func (e *StackFailedError) TimelineText() string {
	var b strings.Builder
	for _, ev := range e.Timeline {
		fmt.Fprintf(&b, "%s  %-28s %-32s %s", ev.Time.UTC().Format("15:04:05"), ev.LogicalID, ev.Status, scrub(ev.Reason))
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// statusStack is the stack's status, "" once it no longer exists.
func (s *Session) statusStack(ctx context.Context, id string) (*Stack, string, error) {
	st, err := s.FindStack(ctx, id)
	if IsNotFound(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	return st, st.Status, nil
}

// WaitStack polls the stack until op reaches a terminal state, reporting each new event.
// It returns the stack (nil after a delete), or a *StackFailedError, or ctx's error.
func (s *Session) WaitStack(ctx context.Context, id string, op StackOperation, opts WaitOptions) (*Stack, error) {
	if opts.Clock == nil {
		opts.Clock = RealClock
	}
	if opts.Backoff.First == 0 {
		opts.Backoff = DefaultBackoff
	}
	lastEvent := opts.LastEventID
	var timeline []StackEvent
	var delay time.Duration
	for {
		st, status, err := s.statusStack(ctx, id)
		if err != nil {
			return nil, err
		}
		events, err := s.StackEvents(ctx, id, lastEvent)
		if IsNotFound(err) {
			// Gone between the two calls (a delete finishing; by name only).
			status, err = "", nil
		}
		if err != nil && status != "" {
			return nil, err
		}
		for _, ev := range events {
			timeline = append(timeline, ev)
			lastEvent = ev.ID
			if opts.Progress != nil {
				opts.Progress(ev)
			}
		}
		switch outcome(op, status) {
		case done:
			return st, nil
		case failed:
			return nil, &StackFailedError{StackName: id, Operation: op, Status: orGone(status), FirstFailure: firstFailure(timeline), Timeline: timeline}
		}
		delay = opts.Backoff.next(delay)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-opts.Clock.After(delay):
		}
	}
}

type result int

const (
	pending result = iota
	done
	failed
)

func outcome(op StackOperation, status string) result {
	switch {
	case status == "":
		if op == OpDelete {
			return done
		}
		return failed
	case strings.HasSuffix(status, "_IN_PROGRESS"):
		return pending
	}
	switch op {
	case OpCreate:
		if status == "CREATE_COMPLETE" {
			return done
		}
	case OpUpdate:
		if status == "UPDATE_COMPLETE" {
			return done
		}
	case OpDelete:
		if status == "DELETE_COMPLETE" {
			return done
		}
	}
	return failed
}

func orGone(status string) string {
	if status == "" {
		return "DELETE_COMPLETE (the stack is gone)"
	}
	return status
}

func firstFailure(timeline []StackEvent) *StackEvent {
	for i := range timeline {
		ev := timeline[i]
		if strings.HasSuffix(ev.Status, "_FAILED") && !strings.Contains(ev.Reason, "Resource creation cancelled") {
			return &ev
		}
	}
	return nil
}

// IsTerminalFailure reports whether a stack in status can only be deleted and recreated.
func IsTerminalFailure(status string) bool {
	switch status {
	case "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED":
		return true
	}
	return false
}
