package awsemu

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EKS managed node groups: the AWS::EKS::Nodegroup resource of CloudFormation (checked as
// CloudFormation's resource schema and EKS's CreateNodegroup / UpdateNodegroupConfig check
// it), the read APIs ListNodegroups and DescribeNodegroup, the access entry of type
// EC2_LINUX EKS makes for a node group's role in the access entry modes, and the nodes
// each active group runs (Nodes), which the local stack registers with its API server.

var nodegroupProps = []string{"AmiType", "CapacityType", "ClusterName", "DiskSize", "ForceUpdateEnabled", "InstanceTypes", "Labels",
	"LaunchTemplate", "NodegroupName", "NodeRole", "ReleaseVersion", "RemoteAccess", "ScalingConfig", "Subnets", "Tags", "Taints",
	"UpdateConfig", "Version", "NodeRepairConfig"}

// nodegroupCreateOnly are the properties whose change replaces the node group.
var nodegroupCreateOnly = []string{"AmiType", "CapacityType", "ClusterName", "DiskSize", "InstanceTypes", "NodegroupName", "NodeRole", "RemoteAccess", "Subnets"}

// nodegroupAMITypes is EKS's AmiTypes enum.
var nodegroupAMITypes = []string{"AL2_x86_64", "AL2_x86_64_GPU", "AL2_ARM_64", "CUSTOM", "BOTTLEROCKET_ARM_64", "BOTTLEROCKET_x86_64",
	"BOTTLEROCKET_ARM_64_FIPS", "BOTTLEROCKET_x86_64_FIPS", "BOTTLEROCKET_ARM_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA",
	"WINDOWS_CORE_2019_x86_64", "WINDOWS_FULL_2019_x86_64", "WINDOWS_CORE_2022_x86_64", "WINDOWS_FULL_2022_x86_64",
	"AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD", "AL2023_x86_64_NEURON", "AL2023_x86_64_NVIDIA", "AL2023_ARM_64_NVIDIA"}

var taintEffects = map[string]string{"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}

var (
	nodegroupNameRE = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9\-_]{0,62}$`)
	gravitonRE      = regexp.MustCompile(`^([a-z-]+[0-9]+g[a-z]*|a1)\.`)
)

type ngTaint struct{ key, value, effect string }

type nodegroupConfig struct {
	cluster, name, role            string
	subnets, instanceTypes         []string
	amiType, capacityType, version string
	diskSize, min, max, desired    int64
	labels                         map[string]string
	taints                         []ngTaint
}

// parseNodegroup reads an AWS::EKS::Nodegroup's resolved properties as CloudFormation's
// schema does; an absent NodegroupName is CloudFormation's generated one (logicalID).
func parseNodegroup(props *omap, generated string) (nodegroupConfig, *propError) {
	c := nodegroupConfig{amiType: "AL2023_x86_64_STANDARD", capacityType: "ON_DEMAND", diskSize: 20, min: 1, max: 2, desired: 1}
	if err := onlyKeys(props, "", nodegroupProps...); err != nil {
		return c, err
	}
	str := func(k string, dst *string, required bool) *propError {
		v, ok := props.get(k)
		if !ok {
			if required {
				return &propError{"", "required key [" + k + "] not found"}
			}
			return nil
		}
		s, isStr := v.(string)
		if !isStr || s == "" {
			return &propError{"/" + k, "expected type: String, found: " + jsonType(v)}
		}
		*dst = s
		return nil
	}
	for _, f := range []struct {
		k   string
		dst *string
		req bool
	}{{"ClusterName", &c.cluster, true}, {"NodeRole", &c.role, true}, {"NodegroupName", &c.name, false},
		{"AmiType", &c.amiType, false}, {"CapacityType", &c.capacityType, false}, {"Version", &c.version, false}} {
		if err := str(f.k, f.dst, f.req); err != nil {
			return c, err
		}
	}
	if c.name == "" {
		c.name = generated
	}
	if !slices.Contains(nodegroupAMITypes, c.amiType) {
		return c, &propError{"/AmiType", c.amiType + " is not a valid enum value"}
	}
	if !slices.Contains([]string{"ON_DEMAND", "SPOT", "CAPACITY_BLOCK"}, c.capacityType) {
		return c, &propError{"/CapacityType", c.capacityType + " is not a valid enum value"}
	}
	var err *propError
	if _, ok := props.get("Subnets"); !ok {
		return c, &propError{"", "required key [Subnets] not found"}
	}
	if c.subnets, err = strings_(props, "/Subnets"); err != nil {
		return c, err
	}
	if c.instanceTypes, err = strings_(props, "/InstanceTypes"); err != nil {
		return c, err
	}
	integer := func(m *omap, path string, dst *int64) *propError {
		k := path[strings.LastIndex(path, "/")+1:]
		v, ok := m.get(k)
		if !ok {
			return nil
		}
		n, perr := strconv.ParseInt(scalarString(v), 10, 64)
		if _, isObj := v.(*omap); isObj || perr != nil {
			return &propError{path, "expected type: Integer, found: " + jsonType(v)}
		}
		*dst = n
		return nil
	}
	if err := integer(props, "/DiskSize", &c.diskSize); err != nil {
		return c, err
	}
	if sc, err := object(props, "/ScalingConfig"); err != nil {
		return c, err
	} else if sc != nil {
		if err := onlyKeys(sc, "/ScalingConfig", "MinSize", "MaxSize", "DesiredSize"); err != nil {
			return c, err
		}
		for k, dst := range map[string]*int64{"MinSize": &c.min, "MaxSize": &c.max, "DesiredSize": &c.desired} {
			if err := integer(sc, "/ScalingConfig/"+k, dst); err != nil {
				return c, err
			}
		}
	}
	if lb, err := object(props, "/Labels"); err != nil {
		return c, err
	} else if lb != nil {
		c.labels = map[string]string{}
		for _, k := range lb.keys {
			s, isStr := lb.vals[k].(string)
			if !isStr {
				return c, &propError{"/Labels/" + k, "expected type: String, found: " + jsonType(lb.vals[k])}
			}
			c.labels[k] = s
		}
	}
	if list, err := objects(props, "/Taints"); err != nil {
		return c, err
	} else {
		for i, m := range list {
			p := fmt.Sprintf("/Taints/%d", i)
			if err := onlyKeys(m, p, "Key", "Value", "Effect"); err != nil {
				return c, err
			}
			t := ngTaint{key: scalarString(m.vals["Key"]), value: scalarString(m.vals["Value"]), effect: scalarString(m.vals["Effect"])}
			if _, ok := taintEffects[t.effect]; !ok {
				return c, &propError{p + "/Effect", t.effect + " is not a valid enum value"}
			}
			c.taints = append(c.taints, t)
		}
	}
	return c, nil
}

// nodegroupSemantics is what EKS refuses in CreateNodegroup / UpdateNodegroupConfig.
func nodegroupSemantics(c nodegroupConfig, clusterVersion string, create bool) string {
	switch {
	case !nodegroupNameRE.MatchString(c.name):
		return "Nodegroup name " + c.name + " is invalid"
	case c.max < 1:
		return "Maximum capacity " + fmt.Sprint(c.max) + " can't be less than 1"
	case c.min < 0 || c.desired < 0:
		return "Minimum and desired capacity can't be negative"
	case c.min > c.max:
		return fmt.Sprintf("Minimum capacity %d can't be greater than max size %d", c.min, c.max)
	case c.desired > c.max:
		return fmt.Sprintf("Desired capacity %d can't be greater than max size %d", c.desired, c.max)
	case c.desired < c.min:
		return fmt.Sprintf("Minimum capacity %d can't be greater than desired size %d", c.min, c.desired)
	case len(c.subnets) == 0:
		return "Subnets are required"
	case c.diskSize < 1:
		return "Disk size must be at least 1 GiB"
	case len(c.taints) > 50:
		return "The number of taints can't exceed 50"
	}
	arm := strings.Contains(c.amiType, "ARM_64")
	for _, it := range c.instanceTypes {
		if gravitonRE.MatchString(it) != arm {
			return fmt.Sprintf("[%s] is not a valid instance type for requested amiType %s", it, c.amiType)
		}
	}
	if c.version != "" && clusterVersion != "" {
		cmp, _ := compareMinor(c.version, clusterVersion)
		switch {
		case create && cmp != 0:
			return "Nodegroup Kubernetes version should be equal to Cluster kubernetes version " + clusterVersion
		case cmp > 0:
			return "Requested Nodegroup Kubernetes version " + c.version + " is greater than the cluster version " + clusterVersion
		}
	}
	return ""
}

func compareMinor(a, b string) (int, bool) {
	pa, pb := strings.SplitN(a, ".", 2), strings.SplitN(b, ".", 2)
	if len(pa) != 2 || len(pb) != 2 {
		return 0, false
	}
	x, err1 := strconv.Atoi(pa[1])
	y, err2 := strconv.Atoi(pb[1])
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return x - y, true
}

// stackCluster is the cluster named name as a resource of s sees it: one this stack makes
// earlier in v's operation (before the resource before), else one that exists. Called
// with e.mu held.
func (e *Emulator) stackCluster(s *stack, v version, before, name string) *cluster {
	for _, cr := range v.tmpl.Resources {
		if cr.LogicalID == before {
			break
		}
		if cr.Type == "AWS::EKS::Cluster" && e.active(s, v, cr) && clusterName(s, v, cr) == name {
			got, _ := e.eksClusterConfig(s, v, cr)
			c := &cluster{name: name, account: s.account, creator: s.creator, cfg: got, version: "1.32"}
			if ver := e.eval(s, v, propValue(cr, "Version")); ver != "" {
				c.version = ver
			}
			return c
		}
	}
	for _, live := range e.clusters(s.account, e.now()) {
		if live.name == name {
			return &live
		}
	}
	return nil
}

func (e *Emulator) nodegroupConfig(s *stack, v version, r tresource) (nodegroupConfig, *propError) {
	props, _ := e.resolve(s, v, r.Props).(*omap)
	return parseNodegroup(props, r.LogicalID+"-"+stableID("", s.id+"/"+r.LogicalID, 12))
}

// checkNodegroup is the failure reason of an AWS::EKS::Nodegroup when CloudFormation
// creates it ("" when fine). Called with e.mu held.
func (e *Emulator) checkNodegroup(s *stack, v version, r tresource, create bool) string {
	c, perr := e.nodegroupConfig(s, v, r)
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
	if msg := nodegroupSemantics(c, cl.version, create); msg != "" {
		return eksHandlerReason("InvalidRequest", msg)
	}
	if create {
		for _, other := range e.nodegroupsOf(*cl, e.now()) {
			if other.cfg.name == c.name && !(other.stack == s && other.logicalID == r.LogicalID) {
				return eksHandlerReason("AlreadyExists", "NodeGroup already exists with name "+c.name+" and cluster name "+c.cluster)
			}
		}
	}
	return ""
}

// nodegroupUpdateRefusal is CloudFormation's refusal of an update that needs a new node
// group of the same name ("" when the update is in place or the name changes too).
func (e *Emulator) nodegroupUpdateRefusal(s *stack, old, nv version, oldR, newR tresource) string {
	a, _ := e.resolve(s, old, oldR.Props).(*omap)
	b, _ := e.resolve(s, nv, newR.Props).(*omap)
	replace := false
	for _, k := range nodegroupCreateOnly {
		x, _ := a.get(k)
		y, _ := b.get(k)
		if fmt.Sprint(flatten(x)) != fmt.Sprint(flatten(y)) {
			replace = true
		}
	}
	name, named := b.get("NodegroupName")
	oldName, _ := a.get("NodegroupName")
	if replace && named && scalarString(name) == scalarString(oldName) {
		return fmt.Sprintf("CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename %s and update the stack again.", scalarString(name))
	}
	return ""
}

// nodegroup is a managed node group as DescribeNodegroup shows it.
type nodegroup struct {
	cfg       nodegroupConfig
	status    string
	created   time.Time
	stack     *stack
	logicalID string
	account   string
}

// nodegroupsOf lists c's node groups as of now. Called with e.mu held.
func (e *Emulator) nodegroupsOf(c cluster, now time.Time) []nodegroup {
	var out []nodegroup
	e.eachResource(c.account, "AWS::EKS::Nodegroup", now, func(s *stack, v version, r tresource, st string) {
		cfg, perr := e.nodegroupConfig(s, v, r)
		if perr != nil || cfg.cluster != c.name {
			return
		}
		if cfg.version == "" {
			cfg.version = c.version
		}
		g := nodegroup{cfg: cfg, status: eksStatus(st), stack: s, logicalID: r.LogicalID, account: s.account}
		for _, ev := range s.events {
			if ev.LogicalResourceID == r.LogicalID && ev.ResourceStatus == "CREATE_IN_PROGRESS" && !ev.Timestamp.After(now) {
				g.created = ev.Timestamp
			}
		}
		out = append(out, g)
	})
	return out
}

// nodegroupEntries are the access entries EKS makes for node group roles that have none
// (type EC2_LINUX, in the access entry modes): one per role, for as long as a group of the
// cluster uses it. Called with e.mu held.
func (e *Emulator) nodegroupEntries(c cluster, now time.Time, have []accessEntry) []accessEntry {
	if c.cfg.authMode != "API" && c.cfg.authMode != "API_AND_CONFIG_MAP" {
		return nil
	}
	var out []accessEntry
	for _, g := range e.nodegroupsOf(c, now) {
		if g.status == "CREATING" || slices.ContainsFunc(append(slices.Clone(have), out...), func(a accessEntry) bool {
			return canonicalPrincipal(a.principal) == canonicalPrincipal(g.cfg.role)
		}) {
			continue
		}
		out = append(out, e.withDefaults(c, accessEntry{cluster: c.name, principal: g.cfg.role, typ: "EC2_LINUX", created: g.created}))
	}
	return out
}

type xTaint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

type xNodegroup struct {
	NodegroupName  string            `json:"nodegroupName"`
	NodegroupArn   string            `json:"nodegroupArn"`
	ClusterName    string            `json:"clusterName"`
	Version        string            `json:"version"`
	ReleaseVersion string            `json:"releaseVersion"`
	CreatedAt      float64           `json:"createdAt"`
	ModifiedAt     float64           `json:"modifiedAt"`
	Status         string            `json:"status"`
	CapacityType   string            `json:"capacityType"`
	ScalingConfig  map[string]int64  `json:"scalingConfig"`
	InstanceTypes  []string          `json:"instanceTypes"`
	Subnets        []string          `json:"subnets"`
	AmiType        string            `json:"amiType"`
	NodeRole       string            `json:"nodeRole"`
	Labels         map[string]string `json:"labels"`
	Taints         []xTaint          `json:"taints"`
	DiskSize       int64             `json:"diskSize"`
	Tags           map[string]string `json:"tags"`
	Health         struct {
		Issues []any `json:"issues"`
	} `json:"health"`
}

// serveNodegroups answers ListNodegroups and DescribeNodegroup for c; rest is the path
// after /clusters/<name>/node-groups.
func (e *Emulator) serveNodegroups(w http.ResponseWriter, r *http.Request, c *cluster, rest []string) *apiError {
	if aerr := listOrDescribe(r, rest); aerr != nil {
		return aerr
	}
	e.mu.Lock()
	groups := e.nodegroupsOf(*c, e.now())
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if len(rest) == 0 {
		names := []string{}
		for _, g := range groups {
			names = append(names, g.cfg.name)
		}
		slices.Sort(names)
		return writeJSON(w, map[string]any{"nodegroups": names})
	}
	for _, g := range groups {
		if g.cfg.name != rest[0] {
			continue
		}
		x := xNodegroup{
			NodegroupName: g.cfg.name, ClusterName: c.name, Version: g.cfg.version, ReleaseVersion: g.cfg.version + ".0-20261201",
			NodegroupArn: fmt.Sprintf("arn:aws:eks:%s:%s:nodegroup/%s/%s/%s", e.opts.Region, c.account, c.name, g.cfg.name, stableID("", g.stack.id+g.logicalID, 8)),
			CreatedAt:    epoch(g.created), ModifiedAt: epoch(g.created), Status: g.status, CapacityType: g.cfg.capacityType,
			ScalingConfig: map[string]int64{"minSize": g.cfg.min, "maxSize": g.cfg.max, "desiredSize": g.cfg.desired},
			InstanceTypes: nonNil(g.cfg.instanceTypes), Subnets: nonNil(g.cfg.subnets), AmiType: g.cfg.amiType, NodeRole: g.cfg.role,
			Labels: map[string]string{}, Taints: []xTaint{}, DiskSize: g.cfg.diskSize,
			Tags: map[string]string{"aws:cloudformation:stack-name": g.stack.name, "aws:cloudformation:stack-id": g.stack.id, "aws:cloudformation:logical-id": g.logicalID},
		}
		if len(x.InstanceTypes) == 0 {
			x.InstanceTypes = []string{"t3.medium"} // EKS's default
		}
		for k, v := range g.cfg.labels {
			x.Labels[k] = v
		}
		for _, t := range g.cfg.taints {
			x.Taints = append(x.Taints, xTaint{Key: t.key, Value: t.value, Effect: t.effect})
		}
		x.Health.Issues = []any{}
		return writeJSON(w, map[string]any{"nodegroup": x})
	}
	return errf(404, "ResourceNotFoundException", "No node group found for name: %s.", rest[0])
}

// Node is a node of a managed node group, as its kubelet would register it.
type Node struct {
	Name        string
	Cluster     string
	NodeRoleARN string // the instance's role, the identity the node authenticates as
	Labels      map[string]string
	Taints      []NodeTaint
}

// NodeTaint is a taint in Kubernetes' spelling.
type NodeTaint struct{ Key, Value, Effect string }

// Nodes lists the nodes every active (or updating) node group runs now: desired_size of
// them, with the group's labels and taints and the labels EKS and the kubelet add.
func (e *Emulator) Nodes() []Node {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	var out []Node
	for _, c := range e.clusters("", now) {
		if c.status == "DELETING" {
			continue
		}
		for _, g := range e.nodegroupsOf(c, now) {
			if g.status != "ACTIVE" && g.status != "UPDATING" {
				continue
			}
			types := g.cfg.instanceTypes
			if len(types) == 0 {
				types = []string{"t3.medium"}
			}
			arch := "amd64"
			if strings.Contains(g.cfg.amiType, "ARM_64") {
				arch = "arm64"
			}
			for i := range g.cfg.desired {
				sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%s/%d", g.stack.id, g.logicalID, g.cfg.name, i))
				name := fmt.Sprintf("ip-10-%d-%d-%d.ec2.internal", sum[0], sum[1], sum[2]%254+1)
				n := Node{Name: name, Cluster: c.name, NodeRoleARN: g.cfg.role, Labels: map[string]string{
					"eks.amazonaws.com/nodegroup": g.cfg.name, "eks.amazonaws.com/capacityType": g.cfg.capacityType,
					"kubernetes.io/arch": arch, "kubernetes.io/os": "linux", "kubernetes.io/hostname": name,
					"node.kubernetes.io/instance-type": types[int(i)%len(types)],
				}}
				for k, v := range g.cfg.labels {
					n.Labels[k] = v
				}
				for _, t := range g.cfg.taints {
					n.Taints = append(n.Taints, NodeTaint{Key: t.key, Value: t.value, Effect: taintEffects[t.effect]})
				}
				out = append(out, n)
			}
		}
	}
	return out
}

// NodeIdentity is the Kubernetes identity EKS's authenticator gives an instance of
// roleARN (its instance profile session) on cluster: by access entry, or through mapper
// (kube-system/aws-auth) in the modes with a config map.
func (e *Emulator) NodeIdentity(cluster, roleARN, session string, mapper func(string) (string, []string, bool)) (string, []string, bool) {
	canonical := canonicalPrincipal(roleARN)
	m := principalARNRE.FindStringSubmatch(canonical)
	if m == nil {
		return "", nil, false
	}
	arn := "arn:aws:sts::" + m[1] + ":assumed-role/" + m[3] + "/" + session
	user, groups, ok, _ := e.entryIdentity(cluster, arn, canonical, mapper)
	return user, groups, ok
}
