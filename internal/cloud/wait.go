package cloud

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
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

// Backoff is the polling schedule. Every poll reads the stack's new events (one
// DescribeStackEvents page as a rule); the stack itself (DescribeStacks) is read only at the
// start, when an event of the stack says the operation ended, when the events say the stack
// is gone, and after Check without news.
type Backoff struct {
	// First is the first interval; intervals grow by Factor up to Max. Near the end of a
	// create they start again at First: when only one resource of the template is left
	// (and whenever it moves on), and they stay at First for up to Far once every resource
	// is complete, since the stack's own last event then follows at once.
	First, Max time.Duration
	Factor     float64
	// Far caps the interval while a create still has more than one resource to complete
	// (progress lines then reach the log up to Far late); 0 means Max.
	Far time.Duration
	// Check is the longest time without a DescribeStacks while no event arrives, a safety
	// net only; 0 means ten times Far.
	Check time.Duration
}

// DefaultBackoff suits stacks that take 10-20 minutes: 5s, 7.5s, 11s, ... capped at 60s
// while a create is far from its end, at 15s near it and for updates, deletes and
// rollbacks, with a DescribeStacks at least every 5 minutes when no event comes.
var DefaultBackoff = Backoff{First: 5 * time.Second, Max: 15 * time.Second, Factor: 1.5, Far: time.Minute, Check: 5 * time.Minute}

func (b Backoff) withDefaults() Backoff {
	if b.Factor < 1 {
		b.Factor = 1
	}
	if b.Max < b.First {
		b.Max = b.First
	}
	if b.Far < b.Max {
		b.Far = b.Max
	}
	if b.Check <= 0 {
		b.Check = 10 * b.Far
	}
	return b
}

// next is the interval after d, capped at limit; d == 0 starts at First.
func (b Backoff) next(d, limit time.Duration) time.Duration {
	if d == 0 {
		return min(b.First, limit)
	}
	return min(time.Duration(float64(d)*b.Factor), limit)
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
//
// The events drive the wait: each poll fetches only the events since the last one seen,
// and the stack is described again only when an event of the stack itself ends op, when
// the stack is gone, or after Backoff.Check without news. A create also reads the stack's
// template once, to know how many resources are still to come: it polls sparsely (up to
// Backoff.Far) while more than one is, densely (from Backoff.First) near the end.
func (s *Session) WaitStack(ctx context.Context, id string, op StackOperation, opts WaitOptions) (*Stack, error) {
	if opts.Clock == nil {
		opts.Clock = RealClock
	}
	if opts.Backoff.First == 0 {
		opts.Backoff = DefaultBackoff
	}
	b := opts.Backoff.withDefaults()
	st, status, err := s.statusStack(ctx, id)
	if err != nil {
		return nil, err
	}
	w := &stackWait{op: op, name: id, lastEvent: opts.LastEventID, progress: opts.Progress}
	if st != nil {
		w.name = st.Name
	}
	if op == OpCreate && opts.LastEventID == "" && outcome(op, status) == pending {
		// Without the template (no permission, a template we cannot read) the wait still
		// works, with the schedule of updates and deletes.
		if body, err := s.StackTemplate(ctx, id); err == nil {
			w.plan = planOf(body)
		}
	}
	events, err := s.StackEvents(ctx, id, w.lastEvent)
	if IsNotFound(err) {
		// Gone between the two calls (a delete finishing; by name only).
		status, err = "", nil
	}
	if err != nil && status != "" {
		return nil, err
	}
	w.report(events)
	checked := opts.Clock.Now() // the last DescribeStacks or new event
	var delay time.Duration
	ph, since := w.phase(), checked // the phase, and since when it holds
	for {
		switch outcome(op, status) {
		case done:
			return st, nil
		case failed:
			return nil, &StackFailedError{StackName: id, Operation: op, Status: orGone(status), FirstFailure: firstFailure(w.timeline), Timeline: w.timeline}
		}
		now := opts.Clock.Now()
		next := w.phase()
		// Entering the last phases, or the last resource moving on, starts dense again.
		restart := (next != ph && (next == phaseLast || next == phaseEnd)) || (next == phaseLast && len(events) > 0)
		if next != ph {
			ph, since = next, now
		}
		switch {
		case restart:
			delay = b.First
		case ph == phaseFar:
			delay = b.next(delay, b.Far)
		case ph == phaseEnd && now.Sub(since) < b.Far:
			// Every resource is complete: the stack's own last event is due any moment.
			delay = b.First
		default:
			delay = b.next(delay, b.Max)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-opts.Clock.After(delay):
		}
		events, err = s.StackEvents(ctx, id, w.lastEvent)
		gone := IsNotFound(err)
		if err != nil && !gone {
			return nil, err
		}
		w.report(events)
		now = opts.Clock.Now()
		if len(events) > 0 {
			checked = now
		}
		if !w.ended() && !gone && now.Sub(checked) < b.Check {
			continue
		}
		st, status, err = s.statusStack(ctx, id)
		if err != nil {
			return nil, err
		}
		checked = now
		if outcome(op, status) != pending && !w.ended() && !gone {
			// The status moved on before its event showed: the timeline gets the events that go with it.
			if more, err := s.StackEvents(ctx, id, w.lastEvent); err == nil {
				w.report(more)
			}
		}
	}
}

const stackResourceType = "AWS::CloudFormation::Stack"

// stackWait is what a wait has learnt from the events so far.
type stackWait struct {
	op        StackOperation
	name      string // the stack's own events carry its name as logical ID
	lastEvent string
	progress  func(StackEvent)
	timeline  []StackEvent
	own       string            // the status in the stack's newest own event
	resources map[string]string // logical ID -> newest status
	plan      *templatePlan
}

func (w *stackWait) report(events []StackEvent) {
	for _, ev := range events {
		w.timeline = append(w.timeline, ev)
		w.lastEvent = ev.ID
		if ev.ResourceType == stackResourceType && ev.LogicalID == w.name {
			w.own = ev.Status
		} else {
			if w.resources == nil {
				w.resources = map[string]string{}
			}
			w.resources[ev.LogicalID] = ev.Status
		}
		if w.progress != nil {
			w.progress(ev)
		}
	}
}

// ended: the stack's newest own event ends the operation (to be confirmed by DescribeStacks).
func (w *stackWait) ended() bool {
	return w.own != "" && outcome(w.op, w.own) != pending
}

type phase int

const (
	phaseUnknown phase = iota // an update, a delete, a rollback, or a create without its template
	phaseFar                  // a create with more than one resource still to complete
	phaseLast                 // a create with one resource still to complete
	phaseEnd                  // a create with every resource complete: only the stack's own event is due
)

func (w *stackWait) phase() phase {
	if w.plan == nil || w.own != "CREATE_IN_PROGRESS" {
		return phaseUnknown
	}
	switch n := w.plan.remaining(w.resources); {
	case n > 1:
		return phaseFar
	case n == 1:
		return phaseLast
	}
	return phaseEnd
}

// templatePlan is what a create is going to make: the template's resources.
type templatePlan struct {
	required    []string // created for sure
	conditional []string // created only if their Condition holds
}

// remaining is the number of resources not yet created: the required ones not complete and
// the conditional ones started but not complete.
func (p *templatePlan) remaining(states map[string]string) int {
	n := 0
	for _, id := range p.required {
		if states[id] != "CREATE_COMPLETE" {
			n++
		}
	}
	for _, id := range p.conditional {
		if st := states[id]; st != "" && st != "CREATE_COMPLETE" {
			n++
		}
	}
	return n
}

// planOf reads the resources of a JSON or YAML template; nil when it cannot.
func planOf(body string) *templatePlan {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil
	}
	resources := yamlField(doc.Content[0], "Resources")
	if resources == nil || len(resources.Content) == 0 {
		return nil
	}
	p := &templatePlan{}
	for i := 0; i+1 < len(resources.Content); i += 2 {
		id := resources.Content[i].Value
		if yamlField(resources.Content[i+1], "Condition") != nil {
			p.conditional = append(p.conditional, id)
		} else {
			p.required = append(p.required, id)
		}
	}
	return p
}

func yamlField(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
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
