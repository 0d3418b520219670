package awsemu

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EKS access entries: the AWS::EKS::AccessEntry resource of CloudFormation (checked as
// CloudFormation's resource schema and EKS's CreateAccessEntry check it), the entry EKS
// makes for the cluster creator when BootstrapClusterCreatorAdminPermissions is true, the
// read APIs (ListAccessEntries, DescribeAccessEntry, ListAssociatedAccessPolicies), and
// the authenticator's mapping of an IAM identity to a Kubernetes user by access entry.
//
// Authorization stand-in: EKS enforces access policies with an authorizer of its own; the
// local kube-apiserver has RBAC only, so a cluster-scoped AmazonEKSClusterAdminPolicy
// becomes the system:masters group in the TokenReview. Other policies grant nothing here.

var accessEntryProps = []string{"ClusterName", "PrincipalArn", "Type", "Username", "KubernetesGroups", "AccessPolicies", "Tags"}

var accessEntryTypes = []string{"STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "EC2", "HYBRID_LINUX", "HYPERPOD_LINUX"}

// accessPolicyARNs are the cluster access policies EKS has (the common ones).
var accessPolicyARNs = []string{"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy",
	"AmazonEKSAdminViewPolicy", "AmazonEKSAutoNodePolicy", "AmazonEKSNetworkingPolicy", "AmazonEKSBlockStoragePolicy", "AmazonEKSLoadBalancingPolicy", "AmazonEKSComputePolicy"}

const clusterAdminPolicy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

var (
	principalARNRE    = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):(role|user)/(?:[\x21-\x7e]+/)?([\w+=,.@-]+)$`)
	accessPolicyARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:eks::aws:cluster-access-policy/([A-Za-z0-9]+)$`)
)

type accessPolicy struct {
	arn        string
	scope      string // "cluster" or "namespace"
	namespaces []string
}

type accessEntry struct {
	cluster, principal, typ, username string
	groups                            []string
	policies                          []accessPolicy
	created                           time.Time
	arn                               string
}

// canonicalPrincipal drops a role's or user's path: STS's assumed-role ARNs carry none,
// so EKS matches a caller to an entry without it.
func canonicalPrincipal(arn string) string {
	m := principalARNRE.FindStringSubmatch(arn)
	if m == nil {
		return arn
	}
	return strings.SplitN(arn, ":", 6)[0] + ":" + strings.SplitN(arn, ":", 6)[1] + ":iam::" + m[1] + ":" + m[2] + "/" + m[3]
}

// parseAccessEntry reads an AWS::EKS::AccessEntry's resolved properties as CloudFormation's
// schema does (unknown keys, types, enums, required keys).
func parseAccessEntry(props *omap) (accessEntry, *propError) {
	a := accessEntry{typ: "STANDARD"}
	if err := onlyKeys(props, "", accessEntryProps...); err != nil {
		return a, err
	}
	for _, k := range []string{"ClusterName", "PrincipalArn"} {
		v, ok := props.get(k)
		if !ok {
			return a, &propError{"", "required key [" + k + "] not found"}
		}
		s, isStr := v.(string)
		if !isStr || s == "" {
			return a, &propError{"/" + k, "expected type: String, found: " + jsonType(v)}
		}
		if k == "ClusterName" {
			a.cluster = s
		} else {
			a.principal = s
		}
	}
	if v, ok := props.get("Type"); ok {
		s, _ := v.(string)
		if !slices.Contains(accessEntryTypes, s) {
			return a, &propError{"/Type", fmt.Sprintf("%v is not a valid enum value", v)}
		}
		a.typ = s
	}
	if v, ok := props.get("Username"); ok {
		s, isStr := v.(string)
		if !isStr {
			return a, &propError{"/Username", "expected type: String, found: " + jsonType(v)}
		}
		a.username = s
	}
	groups, err := strings_(props, "/KubernetesGroups")
	if err != nil {
		return a, err
	}
	a.groups = groups
	if list, err := objects(props, "/AccessPolicies"); err != nil {
		return a, err
	} else {
		for i, m := range list {
			p := fmt.Sprintf("/AccessPolicies/%d", i)
			if err := onlyKeys(m, p, "PolicyArn", "AccessScope"); err != nil {
				return a, err
			}
			for _, k := range []string{"PolicyArn", "AccessScope"} {
				if _, ok := m.get(k); !ok {
					return a, &propError{p, "required key [" + k + "] not found"}
				}
			}
			pa, _ := m.get("PolicyArn")
			ps, isStr := pa.(string)
			if !isStr {
				return a, &propError{p + "/PolicyArn", "expected type: String, found: " + jsonType(pa)}
			}
			scope, err := object(m, p+"/AccessScope")
			if err != nil {
				return a, err
			}
			if err := onlyKeys(scope, p+"/AccessScope", "Type", "Namespaces"); err != nil {
				return a, err
			}
			st, _ := scope.get("Type")
			sts, _ := st.(string)
			if sts != "cluster" && sts != "namespace" {
				if st == nil {
					return a, &propError{p + "/AccessScope", "required key [Type] not found"}
				}
				return a, &propError{p + "/AccessScope/Type", fmt.Sprintf("%v is not a valid enum value", st)}
			}
			ns, err := strings_(scope, p+"/AccessScope/Namespaces")
			if err != nil {
				return a, err
			}
			a.policies = append(a.policies, accessPolicy{arn: ps, scope: sts, namespaces: ns})
		}
	}
	return a, nil
}

// accessEntrySemantics is what EKS refuses in CreateAccessEntry / AssociateAccessPolicy
// about the entry itself.
func accessEntrySemantics(a accessEntry) string {
	if !principalARNRE.MatchString(a.principal) {
		return "The specified principalArn is invalid: invalid ARN: " + a.principal
	}
	if a.typ != "STANDARD" {
		switch {
		case len(a.groups) > 0:
			return "The kubernetesGroups parameter can't be specified for an access entry of type " + a.typ
		case a.username != "":
			return "The username parameter can't be specified for an access entry of type " + a.typ
		case len(a.policies) > 0:
			return "The access entry type " + a.typ + " doesn't support access policy association"
		}
	}
	for _, g := range a.groups {
		if strings.HasPrefix(g, "system:") {
			return "The kubernetesGroups parameter can't contain groups that start with system: (" + g + ")"
		}
	}
	var seen []string
	for _, p := range a.policies {
		m := accessPolicyARNRE.FindStringSubmatch(p.arn)
		if m == nil || !slices.Contains(accessPolicyARNs, m[1]) {
			return "The specified policyArn is invalid: " + p.arn
		}
		if slices.Contains(seen, p.arn) {
			return "The access policy " + p.arn + " is associated more than once"
		}
		seen = append(seen, p.arn)
		if p.scope == "namespace" && len(p.namespaces) == 0 {
			return "The accessScope of type namespace needs at least one namespace"
		}
		if p.scope == "cluster" && len(p.namespaces) > 0 {
			return "The accessScope of type cluster can't have namespaces"
		}
	}
	return ""
}

func eksHandlerReason(code, msg string) string {
	return fmt.Sprintf("Resource handler returned message: \"%s\" (Service: Eks, Status Code: 400, Request ID: %s, Extended Request ID: null) (HandlerErrorCode: %s)", msg, newRequestID(), code)
}

// checkAccessEntry is the failure reason of an AWS::EKS::AccessEntry as CloudFormation
// reports it when it creates or updates the resource ("" when fine). Called with e.mu held.
func (e *Emulator) checkAccessEntry(s *stack, v version, r tresource) string {
	props, _ := e.resolve(s, v, r.Props).(*omap)
	a, perr := parseAccessEntry(props)
	if perr != nil {
		return fmt.Sprintf("Properties validation failed for resource %s with message: [%s]", r.LogicalID, perr)
	}
	if msg := accessEntrySemantics(a); msg != "" {
		return eksHandlerReason("InvalidRequest", msg)
	}
	c := e.stackCluster(s, v, r.LogicalID, a.cluster)
	if c == nil {
		return eksHandlerReason("NotFound", "No cluster found for name: "+a.cluster+".")
	}
	cfg := &c.cfg
	if cfg.authMode != "API" && cfg.authMode != "API_AND_CONFIG_MAP" {
		return eksHandlerReason("InvalidRequest", "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.")
	}
	for _, other := range e.accessEntriesOf(*c, e.now(), s, r.LogicalID) {
		if canonicalPrincipal(other.principal) == canonicalPrincipal(a.principal) {
			return eksHandlerReason("AlreadyExists", "The specified access entry resource is already in use on this cluster.")
		}
	}
	// Entries made earlier in this same operation are not visible yet.
	for _, er := range v.tmpl.Resources {
		if er.LogicalID == r.LogicalID {
			break
		}
		if er.Type != "AWS::EKS::AccessEntry" || !e.active(s, v, er) {
			continue
		}
		p, _ := e.resolve(s, v, er.Props).(*omap)
		if b, perr := parseAccessEntry(p); perr == nil && b.cluster == a.cluster && canonicalPrincipal(b.principal) == canonicalPrincipal(a.principal) {
			return eksHandlerReason("AlreadyExists", "The specified access entry resource is already in use on this cluster.")
		}
	}
	return ""
}

// accessEntriesOf lists the access entries of c as of now: EKS's creator entry, every
// AWS::EKS::AccessEntry of the account's stacks that exists, except skip's skipID (the
// resource being checked), and the entries EKS made for node group roles. Called with e.mu held.
func (e *Emulator) accessEntriesOf(c cluster, now time.Time, skip *stack, skipID string) []accessEntry {
	var out []accessEntry
	if c.cfg.bootstrapAdmin && c.creator != "" && (c.cfg.authMode == "API" || c.cfg.authMode == "API_AND_CONFIG_MAP") {
		out = append(out, e.withDefaults(c, accessEntry{
			cluster: c.name, principal: c.creator, typ: "STANDARD", created: c.created,
			policies: []accessPolicy{{arn: clusterAdminPolicy, scope: "cluster"}},
		}))
	}
	for _, s := range e.stacks {
		if s.account != c.account {
			continue
		}
		v := s.current(now)
		states := s.resourceStates(now)
		for _, r := range v.tmpl.Resources {
			st := states[r.LogicalID]
			if r.Type != "AWS::EKS::AccessEntry" || (s == skip && r.LogicalID == skipID) ||
				!resourceExists(st) || st == "CREATE_IN_PROGRESS" || st == "CREATE_FAILED" {
				continue
			}
			props, _ := e.resolve(s, v, r.Props).(*omap)
			a, perr := parseAccessEntry(props)
			if perr != nil || a.cluster != c.name {
				continue
			}
			for _, ev := range s.events {
				if ev.LogicalResourceID == r.LogicalID && ev.ResourceStatus == "CREATE_COMPLETE" && !ev.Timestamp.After(now) {
					a.created = ev.Timestamp
				}
			}
			out = append(out, e.withDefaults(c, a))
		}
	}
	return append(out, e.nodegroupEntries(c, now, out)...)
}

// withDefaults fills in what EKS derives: the username, the nodes' group and the ARN.
func (e *Emulator) withDefaults(c cluster, a accessEntry) accessEntry {
	m := principalARNRE.FindStringSubmatch(a.principal)
	if a.username == "" {
		switch {
		case a.typ == "EC2_LINUX" || a.typ == "EC2_WINDOWS" || a.typ == "HYBRID_LINUX":
			a.username = "system:node:{{EC2PrivateDNSName}}"
		case a.typ == "FARGATE_LINUX":
			a.username = "system:node:{{SessionName}}"
		case m != nil && m[2] == "role":
			a.username = "arn:aws:sts::" + m[1] + ":assumed-role/" + m[3] + "/{{SessionName}}"
		default:
			a.username = a.principal
		}
	}
	if a.typ != "STANDARD" && len(a.groups) == 0 {
		a.groups = []string{"system:nodes"}
	}
	kind, name := "role", a.principal
	if m != nil {
		kind, name = m[2], m[3]
	}
	a.arn = fmt.Sprintf("arn:aws:eks:%s:%s:access-entry/%s/%s/%s/%s/%s", e.opts.Region, c.account, c.name, kind, c.account, name,
		strings.ToLower(stableID("", c.name+"|"+a.principal, 8)))
	return a
}

type xAccessScope struct {
	Type       string   `json:"type"`
	Namespaces []string `json:"namespaces"`
}

type xAccessEntry struct {
	ClusterName      string            `json:"clusterName"`
	PrincipalArn     string            `json:"principalArn"`
	KubernetesGroups []string          `json:"kubernetesGroups"`
	AccessEntryArn   string            `json:"accessEntryArn"`
	CreatedAt        float64           `json:"createdAt"`
	ModifiedAt       float64           `json:"modifiedAt"`
	Tags             map[string]string `json:"tags"`
	Username         string            `json:"username"`
	Type             string            `json:"type"`
}

type xAssociatedPolicy struct {
	PolicyArn    string       `json:"policyArn"`
	AccessScope  xAccessScope `json:"accessScope"`
	AssociatedAt float64      `json:"associatedAt"`
	ModifiedAt   float64      `json:"modifiedAt"`
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// serveAccessEntries answers the access entry read APIs for c; rest is the path after
// /clusters/<name>/access-entries.
func (e *Emulator) serveAccessEntries(w http.ResponseWriter, r *http.Request, action string, c *cluster, rest []string) *apiError {
	if c.cfg.authMode != "API" && c.cfg.authMode != "API_AND_CONFIG_MAP" {
		return errf(400, "InvalidRequestException", "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.")
	}
	q := r.URL.Query()
	for k := range q {
		if k != "maxResults" && k != "nextToken" && (action != "ListAccessEntries" || k != "associatedPolicyArn") {
			return errf(400, "InvalidParameterException", "Unknown query parameter %s", k)
		}
	}
	if mr := q.Get("maxResults"); mr != "" {
		if n, err := strconv.Atoi(mr); err != nil || n < 1 || n > 100 {
			return errf(400, "InvalidParameterException", "maxResults must be between 1 and 100")
		}
	}
	if q.Get("nextToken") != "" {
		return errf(400, "InvalidParameterException", "The nextToken is invalid")
	}
	e.mu.Lock()
	entries := e.accessEntriesOf(*c, e.now(), nil, "")
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if action == "ListAccessEntries" {
		arns := []string{}
		for _, a := range entries {
			if pa := q.Get("associatedPolicyArn"); pa == "" || slices.ContainsFunc(a.policies, func(p accessPolicy) bool { return p.arn == pa }) {
				arns = append(arns, a.principal)
			}
		}
		slices.Sort(arns)
		return writeJSON(w, map[string]any{"accessEntries": arns})
	}
	var found *accessEntry
	for i := range entries {
		if entries[i].principal == rest[0] {
			found = &entries[i]
		}
	}
	if found == nil {
		return errf(404, "ResourceNotFoundException", "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.")
	}
	if action == "DescribeAccessEntry" {
		return writeJSON(w, map[string]any{"accessEntry": xAccessEntry{
			ClusterName: c.name, PrincipalArn: found.principal, KubernetesGroups: nonNil(found.groups), AccessEntryArn: found.arn,
			CreatedAt: epoch(found.created), ModifiedAt: epoch(found.created), Tags: map[string]string{}, Username: found.username, Type: found.typ,
		}})
	}
	pols := []xAssociatedPolicy{}
	for _, p := range found.policies {
		pols = append(pols, xAssociatedPolicy{PolicyArn: p.arn, AccessScope: xAccessScope{Type: p.scope, Namespaces: nonNil(p.namespaces)},
			AssociatedAt: epoch(found.created), ModifiedAt: epoch(found.created)})
	}
	return writeJSON(w, map[string]any{"clusterName": c.name, "principalArn": found.principal, "associatedAccessPolicies": pols})
}

// entryIdentity maps a verified caller to a Kubernetes identity for clusterName the way
// EKS's authenticator does. handled is false for a cluster no stack made (the caller's
// mapper decides); otherwise access entries decide in API and API_AND_CONFIG_MAP mode,
// then, in CONFIG_MAP mode, EKS's implicit admin for the cluster creator, and in both modes
// with a config map, mapper (kube-system/aws-auth).
func (e *Emulator) entryIdentity(clusterName, arn, canonical string, mapper func(string) (string, []string, bool)) (user string, groups []string, ok, handled bool) {
	e.mu.Lock()
	now := e.now()
	var c *cluster
	for _, x := range e.clusters("", now) {
		if x.name == clusterName && x.status != "DELETING" {
			c = &x
		}
	}
	var entries []accessEntry
	if c != nil {
		entries = e.accessEntriesOf(*c, now, nil, "")
	}
	e.mu.Unlock()
	if c == nil {
		user, groups, ok = mapper(canonical)
		return user, groups, ok, false
	}
	mode := c.cfg.authMode
	if mode == "API" || mode == "API_AND_CONFIG_MAP" {
		for _, a := range entries {
			if canonicalPrincipal(a.principal) != canonical {
				continue
			}
			session := ""
			if parts := strings.Split(arn, "/"); strings.Contains(arn, ":assumed-role/") && len(parts) == 3 {
				session = parts[2]
			}
			user = strings.NewReplacer("{{SessionName}}", session, "{{EC2PrivateDNSName}}", "ip-10-0-0-1.ec2.internal",
				"{{AccountID}}", c.account).Replace(a.username)
			groups = slices.Clone(a.groups)
			for _, p := range a.policies {
				if p.arn == clusterAdminPolicy && p.scope == "cluster" {
					groups = append(groups, "system:masters")
				}
			}
			return user, groups, true, true
		}
	}
	if mode == "CONFIG_MAP" && c.cfg.bootstrapAdmin && canonical == c.creator {
		return "kubernetes-admin", []string{"system:masters"}, true, true
	}
	if mode == "CONFIG_MAP" || mode == "API_AND_CONFIG_MAP" {
		user, groups, ok = mapper(canonical)
		return user, groups, ok, true
	}
	return "", nil, false, true
}
