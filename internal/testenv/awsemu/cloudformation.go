package awsemu

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const cfnTimeFmt = "2006-01-02T15:04:05.000Z"

var stackNameRE = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]{0,127}$`)

type xParam struct{ ParameterKey, ParameterValue string }
type xTag struct{ Key, Value string }
type xOutput struct {
	OutputKey   string
	OutputValue string
	Description string `xml:",omitempty"`
}

type xStack struct {
	StackId                     string
	StackName                   string
	Description                 string   `xml:",omitempty"`
	Parameters                  []xParam `xml:"Parameters>member"`
	CreationTime                string
	LastUpdatedTime             string `xml:",omitempty"`
	DeletionTime                string `xml:",omitempty"`
	StackStatus                 string
	StackStatusReason           string    `xml:",omitempty"`
	DisableRollback             bool      //
	Capabilities                []string  `xml:"Capabilities>member"`
	Outputs                     []xOutput `xml:"Outputs>member"`
	Tags                        []xTag    `xml:"Tags>member"`
	EnableTerminationProtection bool
	DriftInformation            struct{ StackDriftStatus string }
}

type xEvent struct {
	StackId              string
	EventId              string
	StackName            string
	LogicalResourceId    string
	PhysicalResourceId   string
	ResourceType         string
	Timestamp            string
	ResourceStatus       string
	ResourceStatusReason string `xml:",omitempty"`
	ClientRequestToken   string `xml:",omitempty"`
}

type stackIDResult struct{ StackId string }

type describeStacksResult struct {
	Stacks []xStack `xml:"Stacks>member"`
}

type describeEventsResult struct {
	StackEvents []xEvent `xml:"StackEvents>member"`
	NextToken   string   `xml:",omitempty"`
}

// members reads Prefix.member.N.Field lists (1-based, stops at the first gap).
func members(p url.Values, prefix string, fields ...string) []map[string]string {
	var out []map[string]string
	for i := 1; ; i++ {
		m := map[string]string{}
		for _, f := range fields {
			k := fmt.Sprintf("%s.member.%d", prefix, i)
			if f != "" {
				k += "." + f
			}
			if p.Has(k) {
				m[f] = p.Get(k)
			}
		}
		if len(m) == 0 {
			return out
		}
		out = append(out, m)
	}
}

func capabilities(p url.Values) ([]string, *apiError) {
	var caps []string
	for _, m := range members(p, "Capabilities", "") {
		c := m[""]
		if c != "CAPABILITY_IAM" && c != "CAPABILITY_NAMED_IAM" && c != "CAPABILITY_AUTO_EXPAND" {
			return nil, validationErr("1 validation error detected: Value '[%s]' at 'capabilities' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [CAPABILITY_AUTO_EXPAND, CAPABILITY_NAMED_IAM, CAPABILITY_IAM]]", c)
		}
		caps = append(caps, c)
	}
	return caps, nil
}

func checkCapabilities(t *template, caps []string) *apiError {
	need := t.requiredCapability()
	if need == "" || slices.Contains(caps, "CAPABILITY_NAMED_IAM") || (need == "CAPABILITY_IAM" && slices.Contains(caps, need)) {
		return nil
	}
	return errf(400, "InsufficientCapabilitiesException", "Requires capabilities : [%s]", need)
}

func tags(p url.Values) ([][2]string, bool, *apiError) {
	ms := members(p, "Tags", "Key", "Value")
	if len(ms) > 50 {
		return nil, true, validationErr("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	var out [][2]string
	for _, m := range ms {
		if m["Key"] == "" {
			return nil, true, validationErr("1 validation error detected: Value null at 'tags.member.key' failed to satisfy constraint: Member must not be null")
		}
		out = append(out, [2]string{m["Key"], m["Value"]})
	}
	return out, len(ms) > 0, nil
}

func templateBody(p url.Values) (string, *apiError) {
	switch {
	case p.Has("TemplateURL"):
		return "", validationErr("TemplateURL is not supported by this emulator; pass TemplateBody")
	case p.Get("TemplateBody") == "":
		return "", validationErr("Either Template URL or Template Body must be specified.")
	case len(p.Get("TemplateBody")) > 51200:
		return "", validationErr("1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to 51200")
	}
	return p.Get("TemplateBody"), nil
}

func notExist(name string) *apiError {
	return validationErr("Stack with id %s does not exist", name)
}

// findStack looks a stack up by ID (any status) or by name (live stacks only).
func (e *Emulator) findStack(acct, nameOrID string, now time.Time) (*stack, *apiError) {
	for i := len(e.stacks) - 1; i >= 0; i-- {
		s := e.stacks[i]
		if s.account != acct {
			continue
		}
		if strings.HasPrefix(nameOrID, "arn:") {
			if s.id == nameOrID {
				return s, nil
			}
			continue
		}
		if st, _ := s.status(now); s.name == nameOrID && st != "DELETE_COMPLETE" {
			return s, nil
		}
	}
	return nil, notExist(nameOrID)
}

func (e *Emulator) createStack(p url.Values, caller principal) (any, *apiError) {
	name, token := p.Get("StackName"), p.Get("ClientRequestToken")
	if !stackNameRE.MatchString(name) {
		return nil, validationErr("1 validation error detected: Value '%s' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*", name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	existing, _ := e.findStack(caller.Account, name, now)
	if existing != nil && token != "" && existing.createToken == token {
		return stackIDResult{existing.id}, nil // a retried create
	}
	body, aerr := templateBody(p)
	if aerr != nil {
		return nil, aerr
	}
	t, aerr := parseTemplate(body)
	if aerr != nil {
		return nil, aerr
	}
	supplied := map[string]string{}
	for _, m := range members(p, "Parameters", "ParameterKey", "ParameterValue", "UsePreviousValue") {
		if m["UsePreviousValue"] == "true" {
			return nil, validationErr("Invalid input for parameter key %s. Cannot specify usePreviousValue as true for non-existent stack", m["ParameterKey"])
		}
		supplied[m["ParameterKey"]] = m["ParameterValue"]
	}
	params, aerr := t.resolveParams(supplied)
	if aerr != nil {
		return nil, aerr
	}
	caps, aerr := capabilities(p)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := checkCapabilities(t, caps); aerr != nil {
		return nil, aerr
	}
	tg, _, aerr := tags(p)
	if aerr != nil {
		return nil, aerr
	}
	onFailure := p.Get("OnFailure")
	switch {
	case onFailure != "" && p.Get("DisableRollback") == "true":
		return nil, validationErr("You cannot specify both DisableRollback and OnFailure.")
	case p.Get("DisableRollback") == "true":
		onFailure = "DO_NOTHING"
	case onFailure == "":
		onFailure = "ROLLBACK"
	case onFailure != "ROLLBACK" && onFailure != "DO_NOTHING" && onFailure != "DELETE":
		return nil, validationErr("1 validation error detected: Value '%s' at 'onFailure' failed to satisfy constraint: Member must satisfy enum value set: [DO_NOTHING, ROLLBACK, DELETE]", onFailure)
	}
	if existing != nil {
		return nil, errf(400, "AlreadyExistsException", "Stack [%s] already exists", name)
	}
	s := &stack{
		id:   fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s", e.opts.Region, caller.Account, name, newRequestID()),
		name: name, creator: CanonicalRoleARN(caller.ARN),
		account: caller.Account, created: now, onFailure: onFailure, createToken: token,
		versions: []version{{from: now, tmpl: t, body: body, params: params, tags: tg, caps: caps}},
	}
	e.stacks = append(e.stacks, s)
	e.runCreate(s)
	return stackIDResult{s.id}, nil
}

var updatable = []string{"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}

func (e *Emulator) updateStack(p url.Values, caller principal) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	s, aerr := e.findStack(caller.Account, p.Get("StackName"), now)
	if aerr != nil {
		return nil, aerr
	}
	token := p.Get("ClientRequestToken")
	if token != "" && token == s.updateToken {
		return stackIDResult{s.id}, nil
	}
	if st, _ := s.status(now); !slices.Contains(updatable, st) {
		return nil, validationErr("Stack:%s is in %s state and can not be updated.", s.id, st)
	}
	old := s.current(now)
	body := old.body
	t := old.tmpl
	if p.Get("UsePreviousTemplate") == "true" {
		if p.Has("TemplateBody") || p.Has("TemplateURL") {
			return nil, validationErr("You cannot specify both usePreviousTemplate and Template Body/Template URL")
		}
	} else {
		if body, aerr = templateBody(p); aerr != nil {
			return nil, aerr
		}
		if t, aerr = parseTemplate(body); aerr != nil {
			return nil, aerr
		}
	}
	supplied := map[string]string{}
	for _, m := range members(p, "Parameters", "ParameterKey", "ParameterValue", "UsePreviousValue") {
		k := m["ParameterKey"]
		if m["UsePreviousValue"] == "true" {
			prev, ok := old.params[k]
			if !ok {
				return nil, validationErr("Invalid input for parameter key %s. Cannot specify usePreviousValue as true for a parameter key not in the previous template", k)
			}
			supplied[k] = prev
			continue
		}
		supplied[k] = m["ParameterValue"]
	}
	params, aerr := t.resolveParams(supplied)
	if aerr != nil {
		return nil, aerr
	}
	caps, aerr := capabilities(p)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := checkCapabilities(t, caps); aerr != nil {
		return nil, aerr
	}
	tg, given, aerr := tags(p)
	if aerr != nil {
		return nil, aerr
	}
	if !given {
		tg = old.tags // UpdateStack without Tags keeps the stack's tags
	}
	if body == old.body && maps.Equal(params, old.params) && slices.Equal(tg, old.tags) {
		return nil, validationErr("No updates are to be performed.")
	}
	s.updateToken = token
	s.versions = append(s.versions, version{from: now, tmpl: t, body: body, params: params, tags: tg, caps: caps})
	e.runUpdate(s, old, token)
	return stackIDResult{s.id}, nil
}

func (e *Emulator) deleteStack(p url.Values, caller principal) *apiError {
	if !p.Has("StackName") {
		return memberNull("stackName")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	s, _ := e.findStack(caller.Account, p.Get("StackName"), now)
	if s == nil {
		return nil // deleting a stack that is gone succeeds
	}
	switch st, _ := s.status(now); st {
	case "DELETE_COMPLETE", "DELETE_IN_PROGRESS":
		return nil
	case "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS":
		return validationErr("Stack [%s] cannot be deleted while in status %s", s.name, st)
	}
	e.runDelete(s, p.Get("ClientRequestToken"))
	return nil
}

func (e *Emulator) describeStacks(p url.Values, caller principal) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	var list []*stack
	if p.Get("StackName") != "" {
		s, aerr := e.findStack(caller.Account, p.Get("StackName"), now)
		if aerr != nil {
			return nil, aerr
		}
		list = append(list, s)
	} else {
		for _, s := range e.stacks {
			if st, _ := s.status(now); s.account == caller.Account && st != "DELETE_COMPLETE" {
				list = append(list, s)
			}
		}
	}
	var res describeStacksResult
	for _, s := range list {
		res.Stacks = append(res.Stacks, e.xstack(s, now))
	}
	return res, nil
}

func (e *Emulator) xstack(s *stack, now time.Time) xStack {
	v := s.current(now)
	st, reason := s.status(now)
	x := xStack{
		StackId: s.id, StackName: s.name, Description: v.tmpl.Description,
		CreationTime: s.created.Format(cfnTimeFmt),
		StackStatus:  st, StackStatusReason: reason,
		DisableRollback: s.onFailure == "DO_NOTHING",
		Capabilities:    v.caps,
	}
	x.DriftInformation.StackDriftStatus = "NOT_CHECKED"
	for _, ev := range s.visible(now) {
		if ev.ResourceType != stackType {
			continue
		}
		switch ev.ResourceStatus {
		case "UPDATE_IN_PROGRESS":
			x.LastUpdatedTime = ev.Timestamp.Format(cfnTimeFmt)
		case "DELETE_COMPLETE":
			x.DeletionTime = ev.Timestamp.Format(cfnTimeFmt)
		}
	}
	for _, prm := range v.tmpl.Params {
		val := v.params[prm.Name]
		if prm.NoEcho {
			val = "****"
		}
		x.Parameters = append(x.Parameters, xParam{prm.Name, val})
	}
	for _, t := range v.tags {
		x.Tags = append(x.Tags, xTag{t[0], t[1]})
	}
	if hasOutputs(st) {
		for _, o := range v.tmpl.Outputs {
			x.Outputs = append(x.Outputs, xOutput{o.Key, e.eval(s, v, o.Value), o.Description})
		}
	}
	return x
}

const eventsPageSize = 100

func (e *Emulator) describeStackEvents(p url.Values, caller principal) (any, *apiError) {
	if !p.Has("StackName") {
		return nil, memberNull("stackName")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	s, aerr := e.findStack(caller.Account, p.Get("StackName"), now)
	if aerr != nil {
		return nil, aerr
	}
	evs := s.visible(now)
	// The token is an index into the oldest-first list, so events that
	// happen between pages do not shift later pages.
	end := len(evs)
	if tok := p.Get("NextToken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		id, n, ok := strings.Cut(string(raw), "|")
		k, err2 := strconv.Atoi(n)
		if err != nil || err2 != nil || !ok || id != s.id || k < 0 || k > len(evs) {
			return nil, validationErr("Invalid NextToken")
		}
		end = k
	}
	start := max(0, end-eventsPageSize)
	var res describeEventsResult
	for i := end - 1; i >= start; i-- {
		ev := evs[i]
		res.StackEvents = append(res.StackEvents, xEvent{
			StackId: s.id, EventId: ev.EventID, StackName: s.name,
			LogicalResourceId: ev.LogicalResourceID, PhysicalResourceId: ev.PhysicalResourceID,
			ResourceType: ev.ResourceType, Timestamp: ev.Timestamp.Format(cfnTimeFmt),
			ResourceStatus: ev.ResourceStatus, ResourceStatusReason: ev.ResourceStatusReason,
			ClientRequestToken: ev.ClientRequestToken,
		})
	}
	if start > 0 {
		res.NextToken = base64.RawURLEncoding.EncodeToString([]byte(s.id + "|" + strconv.Itoa(start)))
	}
	return res, nil
}

type getTemplateResult struct {
	TemplateBody    string
	StagesAvailable []string `xml:"StagesAvailable>member"`
}

// getTemplate returns the template the stack is made of, as it was sent. Like
// CloudFormation it answers for a deleted stack by ID too.
func (e *Emulator) getTemplate(p url.Values, caller principal) (any, *apiError) {
	switch stage := p.Get("TemplateStage"); {
	case p.Has("ChangeSetName"):
		return nil, validationErr("ChangeSetName is not supported by this emulator")
	case !p.Has("StackName"):
		return nil, validationErr("Either StackName or ChangeSetName must be specified")
	case stage != "" && stage != "Original" && stage != "Processed":
		return nil, validationErr("1 validation error detected: Value '%s' at 'templateStage' failed to satisfy constraint: Member must satisfy enum value set: [Original, Processed]", stage)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	s, aerr := e.findStack(caller.Account, p.Get("StackName"), now)
	if aerr != nil {
		return nil, aerr
	}
	return getTemplateResult{TemplateBody: s.current(now).body, StagesAvailable: []string{"Original", "Processed"}}, nil
}
