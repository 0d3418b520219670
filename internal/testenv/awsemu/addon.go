package awsemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// EKS add-ons: the AWS::EKS::Addon resource of CloudFormation (checked as CloudFormation's
// resource schema and EKS's CreateAddon / UpdateAddon check it), the read APIs ListAddons
// and DescribeAddon, and DescribeAddonVersions over the snapshot of versions below.

var addonProps = []string{"AddonName", "AddonVersion", "ClusterName", "ConfigurationValues", "NamespaceConfig",
	"PodIdentityAssociations", "PreserveOnDelete", "ResolveConflicts", "ServiceAccountRoleArn", "Tags"}

// addonVersion is one version of an add-on with the Kubernetes minor versions it runs
// on; defaultFor are those it is EKS's default for.
type addonVersion struct {
	version    string
	k8s        []string
	defaultFor []string
}

type addonInfo struct {
	name, typ string
	versions  []addonVersion // newest first, as EKS lists them
}

var kubernetesMinorRE = regexp.MustCompile(`^1\.[0-9]{1,3}$`)

var k8s130to135 = []string{"1.30", "1.31", "1.32", "1.33", "1.34", "1.35"}

// addonCatalog is a snapshot, taken 2026-12-02, of what DescribeAddonVersions answers for
// the four add-ons the provider manages, on the Kubernetes versions of its release
// calendar. The version strings are real EKS builds: the tables "Amazon VPC CNI versions",
// "CoreDNS versions" and "kube-proxy versions" of the EKS User Guide
// (awsdocs/amazon-eks-user-guide, latest/ug/networking/managing-*.adoc; they list up to
// 1.33), and for 1.34 and 1.35 the builds published configurations pin (kube-proxy
// v1.34.0-eksbuild.2 and v1.35.0-eksbuild.2, coredns v1.13.2-eksbuild.1, vpc-cni
// v1.21.1-eksbuild.3, eks-pod-identity-agent v1.3.10-eksbuild.2). EKS lists more builds
// than these; which of them is the default is the snapshot's choice, the newest build for
// each Kubernetes version. kube-proxy builds run only on the minor version they are built
// for, as EKS lists them.
var addonCatalog = []addonInfo{
	{name: "coredns", typ: "networking", versions: []addonVersion{
		{version: "v1.13.2-eksbuild.1", k8s: []string{"1.35"}, defaultFor: []string{"1.35"}},
		{version: "v1.12.3-eksbuild.1", k8s: []string{"1.33", "1.34", "1.35"}, defaultFor: []string{"1.33", "1.34"}},
		{version: "v1.12.2-eksbuild.4", k8s: []string{"1.33", "1.34"}},
		{version: "v1.11.4-eksbuild.22", k8s: []string{"1.30", "1.31", "1.32", "1.33"}, defaultFor: []string{"1.30", "1.31", "1.32"}},
	}},
	{name: "eks-pod-identity-agent", typ: "security", versions: []addonVersion{
		{version: "v1.3.10-eksbuild.2", k8s: k8s130to135, defaultFor: k8s130to135},
		{version: "v1.3.8-eksbuild.2", k8s: k8s130to135},
		{version: "v1.3.2-eksbuild.2", k8s: []string{"1.30", "1.31", "1.32"}},
	}},
	{name: "kube-proxy", typ: "networking", versions: []addonVersion{
		{version: "v1.35.0-eksbuild.2", k8s: []string{"1.35"}, defaultFor: []string{"1.35"}},
		{version: "v1.34.0-eksbuild.2", k8s: []string{"1.34"}, defaultFor: []string{"1.34"}},
		{version: "v1.33.0-eksbuild.2", k8s: []string{"1.33"}, defaultFor: []string{"1.33"}},
		{version: "v1.32.0-eksbuild.2", k8s: []string{"1.32"}, defaultFor: []string{"1.32"}},
		{version: "v1.31.3-eksbuild.2", k8s: []string{"1.31"}, defaultFor: []string{"1.31"}},
		{version: "v1.30.7-eksbuild.2", k8s: []string{"1.30"}, defaultFor: []string{"1.30"}},
	}},
	{name: "vpc-cni", typ: "networking", versions: []addonVersion{
		{version: "v1.21.1-eksbuild.3", k8s: k8s130to135, defaultFor: k8s130to135},
		{version: "v1.20.4-eksbuild.2", k8s: k8s130to135},
		{version: "v1.20.1-eksbuild.3", k8s: []string{"1.30", "1.31", "1.32", "1.33"}},
		{version: "v1.19.2-eksbuild.1", k8s: []string{"1.30", "1.31", "1.32"}},
	}},
}

func catalogAddon(name string) (addonInfo, bool) {
	for _, a := range addonCatalog {
		if a.name == name {
			return a, true
		}
	}
	return addonInfo{}, false
}

type addonConfig struct {
	cluster, name, version, config, resolveConflicts string
	preserve                                         bool
}

// parseAddon reads an AWS::EKS::Addon's resolved properties as CloudFormation's schema does.
func parseAddon(props *omap) (addonConfig, *propError) {
	var c addonConfig
	if err := onlyKeys(props, "", addonProps...); err != nil {
		return c, err
	}
	for _, f := range []struct {
		k   string
		dst *string
		req bool
	}{{"ClusterName", &c.cluster, true}, {"AddonName", &c.name, true}, {"AddonVersion", &c.version, false},
		{"ConfigurationValues", &c.config, false}, {"ResolveConflicts", &c.resolveConflicts, false}} {
		v, ok := props.get(f.k)
		if !ok {
			if f.req {
				return c, &propError{"", "required key [" + f.k + "] not found"}
			}
			continue
		}
		s, isStr := v.(string)
		if !isStr {
			return c, &propError{"/" + f.k, "expected type: String, found: " + jsonType(v)}
		}
		*f.dst = s
	}
	if c.resolveConflicts != "" && !slices.Contains([]string{"NONE", "OVERWRITE", "PRESERVE"}, c.resolveConflicts) {
		return c, &propError{"/ResolveConflicts", c.resolveConflicts + " is not a valid enum value"}
	}
	var err *propError
	if c.preserve, _, err = boolean(props, "/PreserveOnDelete"); err != nil {
		return c, err
	}
	return c, nil
}

func (e *Emulator) addonConfig(s *stack, v version, r tresource) (addonConfig, *propError) {
	props, _ := e.resolve(s, v, r.Props).(*omap)
	return parseAddon(props)
}

// addonSemantics is what EKS refuses in CreateAddon / UpdateAddon for a cluster on
// clusterVersion: an add-on it does not know, a version not offered for the cluster's
// Kubernetes version, configuration values that are no JSON object.
func addonSemantics(c addonConfig, clusterVersion string) string {
	info, ok := catalogAddon(c.name)
	if !ok {
		return "Addon " + c.name + " specified is not supported"
	}
	if c.version != "" {
		i := slices.IndexFunc(info.versions, func(v addonVersion) bool { return v.version == c.version })
		switch {
		case i < 0:
			return "Addon version specified is not supported"
		case !slices.Contains(info.versions[i].k8s, clusterVersion):
			return fmt.Sprintf("Addon version %s is not supported in %s Kubernetes version", c.version, clusterVersion)
		}
	}
	if c.config != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(c.config), &obj); err != nil || obj == nil {
			return "ConfigurationValue provided in request is not supported: Json schema validation failed with error: [$: string found, object expected]"
		}
	}
	return ""
}

// defaultAddonVersion is EKS's default version of an add-on for a Kubernetes version.
func defaultAddonVersion(name, k8s string) string {
	info, _ := catalogAddon(name)
	for _, v := range info.versions {
		if slices.Contains(v.defaultFor, k8s) {
			return v.version
		}
	}
	return ""
}

// checkAddon is the failure reason of an AWS::EKS::Addon when CloudFormation creates or
// updates it ("" when fine). Called with e.mu held.
func (e *Emulator) checkAddon(s *stack, v version, r tresource, create bool) string {
	c, perr := e.addonConfig(s, v, r)
	if perr != nil {
		return fmt.Sprintf("Properties validation failed for resource %s with message: [%s]", r.LogicalID, perr)
	}
	if msg := e.clusterOrder(s, v, r, c.cluster, create); msg != "" {
		return msg
	}
	cl := e.stackCluster(s, v, r.LogicalID, c.cluster)
	if cl == nil {
		return eksHandlerReason("NotFound", "No cluster found for name: "+c.cluster+".")
	}
	if msg := addonSemantics(c, cl.version); msg != "" {
		return eksHandlerReason("InvalidRequest", msg)
	}
	if create {
		for _, other := range e.addonsOf(*cl, e.now()) {
			if other.cfg.name == c.name && !(other.stack == s && other.logicalID == r.LogicalID) {
				return eksHandlerReason("AlreadyExists", "Addon already exists.")
			}
		}
		// CoreDNS runs as a Deployment: without a node its pods stay pending, EKS reports the
		// add-on DEGRADED (InsufficientNumberOfReplicas) and CloudFormation's handler, which
		// waits for ACTIVE, gives up on it.
		if c.name == "coredns" && !e.hasNodes(s, v, r.LogicalID, c.cluster) {
			return eksHandlerReason("NotStabilized", "Addon coredns is DEGRADED: InsufficientNumberOfReplicas: The add-on is unhealthy because it doesn't have the desired number of replicas.")
		}
	}
	return ""
}

// clusterOrder refuses a node group or add-on of a cluster this stack makes that does not
// depend on the cluster's resource: CloudFormation would start it alongside the cluster,
// before the cluster exists (create) or while it updates (an update of both). Called with
// e.mu held.
func (e *Emulator) clusterOrder(s *stack, v version, r tresource, name string, create bool) string {
	for _, cr := range v.tmpl.Resources {
		if cr.Type != "AWS::EKS::Cluster" || !e.active(s, v, cr) || clusterName(s, v, cr) != name || v.tmpl.dependsOn(r.LogicalID, cr.LogicalID) {
			continue
		}
		if create && !s.existedBefore(cr.LogicalID, e.now()) {
			return eksHandlerReason("NotFound", "No cluster found for name: "+name+".")
		}
		if len(s.versions) > 1 {
			old := s.versions[len(s.versions)-2]
			if oldR, ok := old.tmpl.resource(cr.LogicalID); ok && e.resourceChanged(s, old, v, oldR, cr) {
				return eksHandlerReason("ResourceConflict", "Cluster "+name+" is currently being updated; retry when its update is complete.")
			}
		}
	}
	return ""
}

// existedBefore reports whether resource id was created before t (an operation's start).
func (s *stack) existedBefore(id string, t time.Time) bool {
	for _, ev := range s.events {
		if ev.LogicalResourceID == id && ev.ResourceStatus == "CREATE_COMPLETE" && ev.Timestamp.Before(t) {
			return true
		}
	}
	return false
}

// dependsOn reports whether resource from depends on resource to, directly or through
// others, by DependsOn, Ref or Fn::GetAtt (what CloudFormation orders resources by).
func (t *template) dependsOn(from, to string) bool {
	seen := map[string]bool{}
	var walk func(id string) bool
	walk = func(id string) bool {
		if seen[id] {
			return false
		}
		seen[id] = true
		r, ok := t.resource(id)
		if !ok {
			return false
		}
		var deps []string
		switch d, _ := r.Def.get("DependsOn"); x := d.(type) {
		case string:
			deps = append(deps, x)
		case []any:
			for _, el := range x {
				deps = append(deps, scalarString(el))
			}
		}
		refs(r.Def, func(n string) { deps = append(deps, n) }, func(n string) { deps = append(deps, n) })
		for _, d := range deps {
			if _, isRes := t.resource(d); isRes && (d == to || walk(d)) {
				return true
			}
		}
		return false
	}
	return walk(from)
}

// hasNodes reports whether cluster has a node to run pods on when resource before of v is
// created: a node group of this stack made earlier, one of another stack that is active,
// or the stack's self-managed Auto Scaling group with a desired capacity. Called with e.mu
// held.
func (e *Emulator) hasNodes(s *stack, v version, before, cluster string) bool {
	for _, r := range v.tmpl.Resources {
		if r.LogicalID == before {
			break
		}
		if !e.active(s, v, r) {
			continue
		}
		switch r.Type {
		case "AWS::EKS::Nodegroup":
			if c, perr := e.nodegroupConfig(s, v, r); perr == nil && c.cluster == cluster && c.desired > 0 {
				return true
			}
		case "AWS::AutoScaling::AutoScalingGroup":
			if n, err := strconv.Atoi(e.eval(s, v, propValue(r, "DesiredCapacity"))); err == nil && n > 0 {
				return true
			}
		}
	}
	for _, live := range e.clusters(s.account, e.now()) {
		if live.name != cluster {
			continue
		}
		for _, g := range e.nodegroupsOf(live, e.now()) {
			if g.stack != s && g.status == "ACTIVE" && g.cfg.desired > 0 {
				return true
			}
		}
	}
	return false
}

// addon is an EKS add-on as DescribeAddon shows it.
type addon struct {
	cfg       addonConfig
	status    string
	created   time.Time
	modified  time.Time
	stack     *stack
	logicalID string
}

// addonsOf lists c's add-ons as of now. Called with e.mu held.
func (e *Emulator) addonsOf(c cluster, now time.Time) []addon {
	var out []addon
	e.eachResource(c.account, "AWS::EKS::Addon", now, func(s *stack, v version, r tresource, st string) {
		cfg, perr := e.addonConfig(s, v, r)
		if perr != nil || cfg.cluster != c.name {
			return
		}
		if cfg.version == "" {
			cfg.version = defaultAddonVersion(cfg.name, c.version)
		}
		a := addon{cfg: cfg, status: eksStatus(st), stack: s, logicalID: r.LogicalID}
		for _, ev := range s.visible(now) {
			switch {
			case ev.LogicalResourceID != r.LogicalID:
			case ev.ResourceStatus == "CREATE_IN_PROGRESS":
				a.created, a.modified = ev.Timestamp, ev.Timestamp
			case ev.ResourceStatus == "UPDATE_COMPLETE":
				a.modified = ev.Timestamp
			}
		}
		out = append(out, a)
	})
	return out
}

type xAddon struct {
	AddonName           string            `json:"addonName"`
	ClusterName         string            `json:"clusterName"`
	Status              string            `json:"status"`
	AddonVersion        string            `json:"addonVersion"`
	AddonArn            string            `json:"addonArn"`
	CreatedAt           float64           `json:"createdAt"`
	ModifiedAt          float64           `json:"modifiedAt"`
	ConfigurationValues string            `json:"configurationValues,omitempty"`
	Owner               string            `json:"owner"`
	Publisher           string            `json:"publisher"`
	Tags                map[string]string `json:"tags"`
	Health              struct {
		Issues []any `json:"issues"`
	} `json:"health"`
}

// serveAddons answers ListAddons and DescribeAddon for c; rest is the path after
// /clusters/<name>/addons.
func (e *Emulator) serveAddons(w http.ResponseWriter, r *http.Request, c *cluster, rest []string) *apiError {
	if aerr := listOrDescribe(r, rest); aerr != nil {
		return aerr
	}
	e.mu.Lock()
	list := e.addonsOf(*c, e.now())
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if len(rest) == 0 {
		names := []string{}
		for _, a := range list {
			names = append(names, a.cfg.name)
		}
		slices.Sort(names)
		return writeJSON(w, map[string]any{"addons": names})
	}
	for _, a := range list {
		if a.cfg.name != rest[0] {
			continue
		}
		x := xAddon{
			AddonName: a.cfg.name, ClusterName: c.name, Status: a.status, AddonVersion: a.cfg.version,
			AddonArn:  fmt.Sprintf("arn:aws:eks:%s:%s:addon/%s/%s/%s", e.opts.Region, c.account, c.name, a.cfg.name, stableID("", a.stack.id+a.logicalID, 8)),
			CreatedAt: epoch(a.created), ModifiedAt: epoch(a.modified), ConfigurationValues: a.cfg.config,
			Owner: "aws", Publisher: "eks",
			Tags: map[string]string{"aws:cloudformation:stack-name": a.stack.name, "aws:cloudformation:stack-id": a.stack.id, "aws:cloudformation:logical-id": a.logicalID},
		}
		x.Health.Issues = []any{}
		return writeJSON(w, map[string]any{"addon": x})
	}
	return errf(404, "ResourceNotFoundException", "No addon: %s found in cluster: %s", rest[0], c.name)
}

type xCompatibility struct {
	ClusterVersion   string   `json:"clusterVersion"`
	PlatformVersions []string `json:"platformVersions"`
	DefaultVersion   bool     `json:"defaultVersion"`
}

type xAddonVersion struct {
	AddonVersion           string           `json:"addonVersion"`
	Architecture           []string         `json:"architecture"`
	ComputeTypes           []string         `json:"computeTypes"`
	Compatibilities        []xCompatibility `json:"compatibilities"`
	RequiresConfiguration  bool             `json:"requiresConfiguration"`
	RequiresIamPermissions bool             `json:"requiresIamPermissions"`
}

type xAddonInfo struct {
	AddonName     string          `json:"addonName"`
	Type          string          `json:"type"`
	AddonVersions []xAddonVersion `json:"addonVersions"`
	Publisher     string          `json:"publisher"`
	Owner         string          `json:"owner"`
}

// serveAddonVersions answers DescribeAddonVersions (GET /addons/supported-versions): the
// catalog, filtered by addonName and kubernetesVersion, in one page.
func (e *Emulator) serveAddonVersions(w http.ResponseWriter, r *http.Request) *apiError {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "addonName", "kubernetesVersion", "maxResults", "nextToken", "owners", "publishers", "types":
		default:
			return errf(400, "InvalidParameterException", "Unknown query parameter %s", k)
		}
	}
	if q.Get("nextToken") != "" {
		return errf(400, "InvalidParameterException", "The nextToken is invalid")
	}
	if m := q.Get("maxResults"); m != "" {
		if n, err := strconv.Atoi(m); err != nil || n < 1 || n > 100 {
			return errf(400, "InvalidParameterException", "maxResults must be between 1 and 100")
		}
	}
	k8s := q.Get("kubernetesVersion")
	if k8s != "" && !kubernetesMinorRE.MatchString(k8s) {
		return errf(400, "InvalidParameterException", "Kubernetes version %s is not valid", k8s)
	}
	out := []xAddonInfo{}
	for _, a := range addonCatalog {
		if n := q.Get("addonName"); n != "" && n != a.name {
			continue
		}
		info := xAddonInfo{AddonName: a.name, Type: a.typ, Publisher: "eks", Owner: "aws", AddonVersions: []xAddonVersion{}}
		for _, v := range a.versions {
			xv := xAddonVersion{AddonVersion: v.version, Architecture: []string{"amd64", "arm64"}, ComputeTypes: []string{"ec2"}}
			for _, kv := range v.k8s {
				if k8s == "" || k8s == kv {
					xv.Compatibilities = append(xv.Compatibilities, xCompatibility{ClusterVersion: kv, PlatformVersions: []string{"*"}, DefaultVersion: slices.Contains(v.defaultFor, kv)})
				}
			}
			if len(xv.Compatibilities) > 0 {
				info.AddonVersions = append(info.AddonVersions, xv)
			}
		}
		if len(info.AddonVersions) > 0 {
			out = append(out, info)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	return writeJSON(w, map[string]any{"addons": out})
}
