package awsemu

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// StackScript scripts how a stack (by name) behaves.
type StackScript struct {
	StepDelay    time.Duration // time between resource events, default 50ms
	FailResource string        // logical ID that fails (CREATE_FAILED / UPDATE_FAILED)
	FailReason   string        // ResourceStatusReason of the failure
	// FailDeleteResource fails (DELETE_FAILED) when a DeleteStack reaches it: the stack
	// ends DELETE_FAILED, keeping it and the resources not deleted yet, and a later
	// DeleteStack tries again (reading the script again).
	FailDeleteResource string
	FailDeleteReason   string
	ClusterEndpoint    string // DescribeCluster endpoint for this stack's AWS::EKS::Cluster
	ClusterCAPEM       []byte // DescribeCluster CA (PEM) for this stack's AWS::EKS::Cluster
	// ResourceDelays, by logical ID, is how long a resource takes from its *_IN_PROGRESS
	// event to the next one, instead of StepDelay (an EKS cluster's 10 minutes).
	ResourceDelays map[string]time.Duration
}

// StackEvent is one CloudFormation stack event.
type StackEvent struct {
	EventID              string
	LogicalResourceID    string
	PhysicalResourceID   string
	ResourceType         string
	ResourceStatus       string
	ResourceStatusReason string
	ClientRequestToken   string
	Timestamp            time.Time
}

// StackInfo is a snapshot of a stack as of the emulator's clock.
type StackInfo struct {
	StackID             string
	Name                string
	Account             string
	Status              string
	StatusReason        string
	Parameters          map[string]string
	Tags                map[string]string
	Capabilities        []string
	TemplateBody        string
	ClientRequestTokens []string // one per CreateStack/UpdateStack/DeleteStack that carried one, in order
	OnFailure           string
	Outputs             map[string]string
	Events              []StackEvent // visible events, oldest first
}

// version is what the stack is made of from a point in time on; a failed
// update pushes the old version back when its rollback completes.
type version struct {
	from   time.Time
	tmpl   *template
	body   string
	params map[string]string
	tags   [][2]string
	caps   []string
}

type stack struct {
	id, name, account string
	creator           string // canonical ARN of who created it: the EKS "cluster creator"
	created           time.Time
	onFailure         string
	createToken       string
	updateToken       string
	tokens            []string
	versions          []version
	events            []StackEvent // oldest first; may lie in the future
}

const stackType = "AWS::CloudFormation::Stack"

// SetStackScript sets the behaviour of the stack named stackName for the
// operations that start after the call.
func (e *Emulator) SetStackScript(stackName string, s StackScript) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.scripts[stackName] = s
}

// Stack returns the live stack with this name, or else the most recently
// deleted one.
func (e *Emulator) Stack(name string) (StackInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	var found *stack
	for _, s := range e.stacks {
		if s.name != name && s.id != name {
			continue
		}
		found = s
		if st, _ := s.status(now); st != "DELETE_COMPLETE" {
			break
		}
	}
	if found == nil {
		return StackInfo{}, false
	}
	v := found.current(now)
	st, reason := found.status(now)
	info := StackInfo{
		StackID: found.id, Name: found.name, Account: found.account,
		Status: st, StatusReason: reason,
		Parameters: maps.Clone(v.params), Tags: map[string]string{},
		Capabilities: slices.Clone(v.caps), TemplateBody: v.body,
		ClientRequestTokens: slices.Clone(found.tokens), OnFailure: found.onFailure,
		Outputs: map[string]string{}, Events: found.visible(now),
	}
	for _, t := range v.tags {
		info.Tags[t[0]] = t[1]
	}
	if hasOutputs(st) {
		for _, o := range v.tmpl.Outputs {
			info.Outputs[o.Key] = e.eval(found, v, o.Value)
		}
	}
	return info, true
}

func (s *stack) current(now time.Time) version {
	v := s.versions[0]
	for _, x := range s.versions[1:] {
		if !x.from.After(now) {
			v = x
		}
	}
	return v
}

// previous is the version before the current one, if any.
func (s *stack) previous(now time.Time) (version, bool) {
	i := -1
	for j, x := range s.versions {
		if !x.from.After(now) {
			i = j
		}
	}
	if i < 1 {
		return version{}, false
	}
	return s.versions[i-1], true
}

func (s *stack) visible(now time.Time) []StackEvent {
	var out []StackEvent
	for _, ev := range s.events {
		if !ev.Timestamp.After(now) {
			out = append(out, ev)
		}
	}
	return out
}

func (s *stack) status(now time.Time) (status, reason string) {
	for _, ev := range s.visible(now) {
		if ev.ResourceType == stackType {
			status, reason = ev.ResourceStatus, ev.ResourceStatusReason
		}
	}
	return status, reason
}

// resourceStates is the latest visible status of every resource.
func (s *stack) resourceStates(now time.Time) map[string]string {
	out := map[string]string{}
	for _, ev := range s.visible(now) {
		if ev.ResourceType != stackType {
			out[ev.LogicalResourceID] = ev.ResourceStatus
		}
	}
	return out
}

func resourceExists(status string) bool {
	return status != "" && status != "DELETE_COMPLETE"
}

func hasOutputs(status string) bool {
	switch status {
	case "CREATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE",
		"UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE":
		return true
	}
	return false
}

// timeline appends one operation's events, StepDelay apart.
type timeline struct {
	e      *Emulator
	s      *stack
	t      time.Time
	step   time.Duration
	delays map[string]time.Duration
	token  string
}

func (e *Emulator) newTimeline(s *stack, token string) *timeline {
	sc := e.scripts[s.name]
	step := sc.StepDelay
	if step <= 0 {
		step = 50 * time.Millisecond
	}
	now := e.now()
	// An operation replaces whatever had not happened yet (a delete cancels a create).
	kept := s.events[:0]
	for _, ev := range s.events {
		if !ev.Timestamp.After(now) {
			kept = append(kept, ev)
		}
	}
	s.events = kept
	if token != "" {
		s.tokens = append(s.tokens, token)
	}
	return &timeline{e: e, s: s, t: now, step: step, delays: sc.ResourceDelays, token: token}
}

func (tl *timeline) emit(r *tresource, status, reason string) {
	ev := StackEvent{
		ResourceStatus: status, ResourceStatusReason: reason,
		ClientRequestToken: tl.token, Timestamp: tl.t,
	}
	if r == nil {
		ev.LogicalResourceID, ev.PhysicalResourceID, ev.ResourceType = tl.s.name, tl.s.id, stackType
		ev.EventID = newRequestID()
	} else {
		ev.LogicalResourceID, ev.ResourceType = r.LogicalID, r.Type
		if status != "CREATE_IN_PROGRESS" || tl.s.everExisted(r.LogicalID) {
			ev.PhysicalResourceID = tl.e.physID(tl.s, tl.s.versions[len(tl.s.versions)-1], *r)
		}
		ev.EventID = fmt.Sprintf("%s-%s-%s", r.LogicalID, status, tl.t.Format("2006-01-02T15:04:05.000Z"))
	}
	tl.s.events = append(tl.s.events, ev)
	if d, ok := tl.delays[ev.LogicalResourceID]; ok && r != nil && strings.HasSuffix(status, "_IN_PROGRESS") {
		tl.t = tl.t.Add(d)
		return
	}
	tl.t = tl.t.Add(tl.step)
}

func (s *stack) everExisted(id string) bool {
	for _, ev := range s.events {
		if ev.LogicalResourceID == id && ev.ResourceStatus == "CREATE_COMPLETE" {
			return true
		}
	}
	return false
}

func (tl *timeline) deleteResources(rs []*tresource) {
	for i := len(rs) - 1; i >= 0; i-- {
		tl.emit(rs[i], "DELETE_IN_PROGRESS", "")
		tl.emit(rs[i], "DELETE_COMPLETE", "")
	}
}

func failedReason(id string, verb string) string {
	return fmt.Sprintf("The following resource(s) failed to %s: [%s]. ", verb, id)
}

// runCreate schedules a CreateStack.
func (e *Emulator) runCreate(s *stack) {
	tl := e.newTimeline(s, s.createToken)
	sc := e.scripts[s.name]
	v := s.versions[0]
	tl.emit(nil, "CREATE_IN_PROGRESS", "User Initiated")
	var made []*tresource
	for i := range v.tmpl.Resources {
		r := &v.tmpl.Resources[i]
		if !e.active(s, v, *r) {
			continue
		}
		tl.emit(r, "CREATE_IN_PROGRESS", "")
		made = append(made, r)
		reason := e.checkResource(s, v, *r)
		if r.LogicalID == sc.FailResource {
			reason = sc.FailReason
		}
		if reason == "" {
			tl.emit(r, "CREATE_COMPLETE", "")
			continue
		}
		tl.emit(r, "CREATE_FAILED", reason)
		switch s.onFailure {
		case "DO_NOTHING":
			tl.emit(nil, "CREATE_FAILED", failedReason(r.LogicalID, "create"))
		case "DELETE":
			tl.emit(nil, "DELETE_IN_PROGRESS", failedReason(r.LogicalID, "create")+"Delete requested by user.")
			tl.deleteResources(made)
			tl.emit(nil, "DELETE_COMPLETE", "")
		default:
			tl.emit(nil, "ROLLBACK_IN_PROGRESS", failedReason(r.LogicalID, "create")+"Rollback requested by user.")
			tl.deleteResources(made)
			tl.emit(nil, "ROLLBACK_COMPLETE", "")
		}
		return
	}
	tl.emit(nil, "CREATE_COMPLETE", "")
}

// runUpdate schedules an UpdateStack from old to the stack's newest version.
func (e *Emulator) runUpdate(s *stack, old version, token string) {
	tl := e.newTimeline(s, token)
	sc := e.scripts[s.name]
	nv := s.versions[len(s.versions)-1]
	tl.emit(nil, "UPDATE_IN_PROGRESS", "User Initiated")
	var added, updated []*tresource
	failed := ""
	for i := range nv.tmpl.Resources {
		r := &nv.tmpl.Resources[i]
		if !e.active(s, nv, *r) {
			continue
		}
		oldR, existed := old.tmpl.resource(r.LogicalID)
		existed = existed && e.active(s, old, oldR)
		verb := "UPDATE"
		if !existed || oldR.Type != r.Type {
			verb = "CREATE"
		} else if !e.resourceChanged(s, old, nv, oldR, *r) {
			continue
		}
		tl.emit(r, verb+"_IN_PROGRESS", "")
		if verb == "CREATE" {
			added = append(added, r)
		} else {
			updated = append(updated, r)
		}
		reason := e.checkResource(s, nv, *r)
		if verb == "UPDATE" && r.Type == "AWS::EKS::Cluster" && reason == "" {
			reason = e.eksDroppedVPCKey(s, old, nv, oldR, *r)
		}
		if verb == "UPDATE" && r.Type == "AWS::EKS::Cluster" && reason == "" {
			if prop := e.eksCreateOnlyChange(s, old, nv, oldR, *r); prop != "" {
				// The cluster has a name of its own, so CloudFormation cannot make a
				// replacement next to it.
				reason = fmt.Sprintf("CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename %s and update the stack again.", clusterName(s, nv, *r))
			} else {
				was, _ := e.eksClusterConfig(s, old, oldR)
				is, _ := e.eksClusterConfig(s, nv, *r)
				msg := eksAuthModeChange(was.authMode, is.authMode)
				if msg == "" {
					msg = e.eksVPCChange(was, is)
				}
				if msg != "" {
					reason = fmt.Sprintf("Resource handler returned message: \"%s\" (Service: Eks, Status Code: 400, Request ID: %s)", msg, newRequestID())
				}
			}
		}
		if verb == "UPDATE" && r.Type == "AWS::EKS::Nodegroup" && reason == "" {
			reason = e.nodegroupUpdateRefusal(s, old, nv, oldR, *r)
		}
		if r.LogicalID == sc.FailResource {
			reason = sc.FailReason
		}
		if reason != "" {
			tl.emit(r, verb+"_FAILED", reason)
			failed = r.LogicalID
			break
		}
		tl.emit(r, verb+"_COMPLETE", "")
	}
	if failed != "" {
		tl.emit(nil, "UPDATE_ROLLBACK_IN_PROGRESS", failedReason(failed, "update"))
		for i := len(updated) - 1; i >= 0; i-- {
			tl.emit(updated[i], "UPDATE_IN_PROGRESS", "")
			tl.emit(updated[i], "UPDATE_COMPLETE", "")
		}
		tl.emit(nil, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "")
		tl.deleteResources(added)
		old.from = tl.t
		s.versions = append(s.versions, old)
		tl.emit(nil, "UPDATE_ROLLBACK_COMPLETE", "")
		return
	}
	tl.emit(nil, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "")
	var removed []*tresource
	for i := range old.tmpl.Resources {
		r := &old.tmpl.Resources[i]
		if !e.active(s, old, *r) {
			continue
		}
		if nr, ok := nv.tmpl.resource(r.LogicalID); !ok || !e.active(s, nv, nr) {
			removed = append(removed, r)
		}
	}
	tl.deleteResources(removed)
	tl.emit(nil, "UPDATE_COMPLETE", "")
}

// resourceChanged: the definition differs, or it refers to a parameter whose value
// changed, or to a condition whose value changed.
func (e *Emulator) resourceChanged(s *stack, old, nv version, a, b tresource) bool {
	if fmt.Sprint(flatten(a.Def)) != fmt.Sprint(flatten(b.Def)) {
		return true
	}
	changed := false
	refs(b.Def, func(n string) {
		if old.params[n] != nv.params[n] {
			changed = true
		}
	}, func(string) {})
	for _, c := range conditionsUsed(b.Def) {
		if e.condition(s, old, c) != e.condition(s, nv, c) {
			changed = true
		}
	}
	return changed
}

// active: r has no Condition, or its condition holds under v's parameters (CloudFormation
// creates only the resources whose condition holds).
func (e *Emulator) active(s *stack, v version, r tresource) bool {
	c, ok := r.Def.get("Condition")
	return !ok || e.condition(s, v, scalarString(c))
}

// checkResource is the failure reason of a resource CloudFormation would refuse when it
// creates or updates it ("" when it is fine). Only the EKS cluster's, access entries', node
// groups' and add-ons' properties are checked; other types are taken as they are.
func (e *Emulator) checkResource(s *stack, v version, r tresource) string {
	switch r.Type {
	case "AWS::EKS::Cluster":
		_, reason := e.eksClusterConfig(s, v, r)
		return reason
	case "AWS::EKS::AccessEntry":
		return e.checkAccessEntry(s, v, r)
	case "AWS::EKS::Nodegroup":
		return e.checkNodegroup(s, v, r, !s.everExisted(r.LogicalID))
	case "AWS::EKS::Addon":
		return e.checkAddon(s, v, r, !s.everExisted(r.LogicalID))
	}
	return ""
}

func flatten(v any) any {
	switch x := v.(type) {
	case *omap:
		out := make([]any, 0, len(x.keys))
		for _, k := range x.keys {
			out = append(out, k, flatten(x.vals[k]))
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = flatten(x[i])
		}
		return out
	}
	return v
}

// runDelete schedules a DeleteStack.
func (e *Emulator) runDelete(s *stack, token string) {
	tl := e.newTimeline(s, token)
	states := s.resourceStates(tl.t)
	v := s.current(tl.t)
	var live []*tresource
	for i := range v.tmpl.Resources {
		if resourceExists(states[v.tmpl.Resources[i].LogicalID]) {
			live = append(live, &v.tmpl.Resources[i])
		}
	}
	tl.emit(nil, "DELETE_IN_PROGRESS", "User Initiated")
	fail := e.scripts[s.name].FailDeleteResource
	for i := len(live) - 1; i >= 0; i-- {
		if live[i].LogicalID == fail {
			tl.emit(live[i], "DELETE_IN_PROGRESS", "")
			tl.emit(live[i], "DELETE_FAILED", e.scripts[s.name].FailDeleteReason)
			tl.emit(nil, "DELETE_FAILED", failedReason(fail, "delete"))
			return
		}
		tl.deleteResources(live[i : i+1])
	}
	tl.emit(nil, "DELETE_COMPLETE", "")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
