package cloud

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Managed node groups: each NodeGroup becomes an AWS::EKS::Nodegroup resource of the
// embedded template (RenderEKSClusterTemplate), so the template has one variant per set
// of groups. The groups share one node role, ManagedNodeRole, apart from the
// self-managed group's NodeInstanceRole: EKS gives that role an access entry of type
// EC2_LINUX itself (API modes) or maps it in aws-auth (CONFIG_MAP), and removes the
// mapping with the last group that uses it, which must not take the self-managed nodes'
// access with it.

// NodeGroup is one managed node group; Name is also its EKS name.
type NodeGroup struct {
	Name          string
	InstanceTypes []string
	CapacityType  string // ON_DEMAND or SPOT
	AMIType       string // one of NodeGroupAMITypes
	MinSize       int64
	MaxSize       int64
	DesiredSize   int64
	DiskSize      int64 // GiB
	Labels        map[string]string
	Taints        []Taint
}

// Taint is a Kubernetes taint of a node group's nodes; Effect is EKS's spelling
// (NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE).
type Taint struct{ Key, Value, Effect string }

// Defaults of a node group setting left out.
const (
	DefaultNodeGroupInstanceType = "t3.medium"
	DefaultNodeGroupCapacityType = "ON_DEMAND"
	DefaultNodeGroupAMIType      = "AL2023_x86_64_STANDARD"
	DefaultNodeGroupMinSize      = 1
	DefaultNodeGroupDiskSize     = 20
	// MaxNodeGroups is EKS's default quota of managed node groups per cluster.
	MaxNodeGroups = 30
)

// NodeGroupAMITypes are the AMI types the provider offers: EKS-optimized Amazon Linux
// 2023 and Bottlerocket, on x86_64 and ARM64 (Graviton). EKS publishes no Amazon Linux 2
// AMIs for Kubernetes 1.33 and later; GPU, Neuron, FIPS and Windows types are left out.
func NodeGroupAMITypes() []string {
	return []string{"AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD", "BOTTLEROCKET_x86_64", "BOTTLEROCKET_ARM_64"}
}

// NodeGroupCapacityTypes are the capacity types a node group can buy.
func NodeGroupCapacityTypes() []string { return []string{"ON_DEMAND", "SPOT"} }

// TaintEffects are EKS's taint effects.
func TaintEffects() []string { return []string{"NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"} }

// NodeGroupField names one setting of a NodeGroup, for errors about it.
type NodeGroupField int

const (
	FieldNodeGroupName NodeGroupField = iota
	FieldInstanceTypes
	FieldCapacityType
	FieldAMIType
	FieldMinSize
	FieldMaxSize
	FieldDesiredSize
	FieldDiskSize
	FieldLabels
	FieldTaints
)

// NodeGroupError is one invalid setting of the node group Group.
type NodeGroupError struct {
	Group string
	Field NodeGroupField
	Msg   string
}

func (e *NodeGroupError) Error() string { return e.Msg }

var (
	nodeGroupNameRE = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,62}$`)
	instanceTypeRE  = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	// Graviton families: a generation digit followed by g (m7g, c6gn, t4g, r8gd, hpc7g).
	armFamilyRE = regexp.MustCompile(`^[a-z-]+[0-9]+g[a-z]*$`)
	// A Kubernetes label or taint key: an optional DNS-subdomain prefix and a name.
	labelNameRE   = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$`)
	labelPrefixRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelValueRE  = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
)

// InstanceArch is the CPU architecture of an EC2 instance type: arm64 for Graviton
// families (and a1), amd64 otherwise.
func InstanceArch(instanceType string) string {
	family, _, _ := strings.Cut(instanceType, ".")
	if family == "a1" || armFamilyRE.MatchString(family) {
		return "arm64"
	}
	return "amd64"
}

// AMIArch is the CPU architecture of an AMI type.
func AMIArch(amiType string) string {
	if strings.Contains(amiType, "ARM_64") {
		return "arm64"
	}
	return "amd64"
}

// CheckNodeGroupName refuses a name EKS would not take for a node group.
func CheckNodeGroupName(name string) error {
	if !nodeGroupNameRE.MatchString(name) {
		return fmt.Errorf("node group name %q: 1-63 characters, a letter or digit first, then letters, digits, hyphens and underscores", name)
	}
	return nil
}

// CheckNodeGroup lists what EKS would refuse in g, one error per setting. Sizes and
// counts are checked as given; callers leave out what they do not know yet.
func CheckNodeGroup(g NodeGroup) []*NodeGroupError {
	var errs []*NodeGroupError
	add := func(f NodeGroupField, format string, args ...any) {
		if !slices.ContainsFunc(errs, func(e *NodeGroupError) bool { return e.Field == f }) {
			errs = append(errs, &NodeGroupError{Group: g.Name, Field: f, Msg: fmt.Sprintf(format, args...)})
		}
	}
	if err := CheckNodeGroupName(g.Name); err != nil {
		add(FieldNodeGroupName, "%s", err)
	}
	switch {
	case strings.HasPrefix(g.AMIType, "AL2_"):
		add(FieldAMIType, "%s is Amazon Linux 2, for which EKS publishes no AMIs from Kubernetes 1.33 on; use AL2023_x86_64_STANDARD or AL2023_ARM_64_STANDARD", g.AMIType)
	case g.AMIType != "" && !slices.Contains(NodeGroupAMITypes(), g.AMIType):
		add(FieldAMIType, "%q is not one of %s", g.AMIType, strings.Join(NodeGroupAMITypes(), ", "))
	}
	if g.CapacityType != "" && !slices.Contains(NodeGroupCapacityTypes(), g.CapacityType) {
		add(FieldCapacityType, "%q is not one of ON_DEMAND, SPOT", g.CapacityType)
	}
	if len(g.InstanceTypes) > 20 {
		add(FieldInstanceTypes, "at most 20 instance types, got %d", len(g.InstanceTypes))
	}
	for i, it := range g.InstanceTypes {
		switch {
		case !instanceTypeRE.MatchString(it):
			add(FieldInstanceTypes, "%q is not an EC2 instance type such as t3.medium", it)
		case slices.Contains(g.InstanceTypes[:i], it):
			add(FieldInstanceTypes, "%s is listed twice", it)
		case g.AMIType != "" && slices.Contains(NodeGroupAMITypes(), g.AMIType) && InstanceArch(it) != AMIArch(g.AMIType):
			add(FieldInstanceTypes, "%s is an %s instance type and ami_type %s runs on %s; use %s instance types or an %s AMI type",
				it, InstanceArch(it), g.AMIType, AMIArch(g.AMIType), AMIArch(g.AMIType), InstanceArch(it))
		}
	}
	if g.MinSize < 0 {
		add(FieldMinSize, "must be 0 or more, got %d", g.MinSize)
	}
	if g.MaxSize < 1 {
		add(FieldMaxSize, "must be at least 1, got %d", g.MaxSize)
	}
	switch {
	case g.MinSize > g.MaxSize && g.MaxSize >= 1:
		add(FieldMinSize, "%d is above max_size %d", g.MinSize, g.MaxSize)
	case g.DesiredSize < 0:
		add(FieldDesiredSize, "must be 0 or more, got %d", g.DesiredSize)
	case g.DesiredSize < g.MinSize:
		add(FieldDesiredSize, "%d is below min_size %d", g.DesiredSize, g.MinSize)
	case g.DesiredSize > g.MaxSize && g.MaxSize >= 1:
		add(FieldDesiredSize, "%d is above max_size %d", g.DesiredSize, g.MaxSize)
	}
	// The EKS-optimized images' root snapshots are 20 GiB; 16384 is EBS's largest gp3 volume.
	if g.DiskSize < 20 || g.DiskSize > 16384 {
		add(FieldDiskSize, "must be between 20 and 16384 GiB, got %d", g.DiskSize)
	}
	for _, k := range sortedKeys(g.Labels) {
		if err := checkLabelKey(k); err != nil {
			add(FieldLabels, "label %s", err)
		} else if !labelValueRE.MatchString(g.Labels[k]) || len(g.Labels[k]) > 63 {
			add(FieldLabels, "label %q: the value %q must be at most 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit", k, g.Labels[k])
		}
	}
	if len(g.Taints) > 50 {
		add(FieldTaints, "at most 50 taints, got %d", len(g.Taints))
	}
	for i, t := range g.Taints {
		switch {
		case checkLabelKey(t.Key) != nil:
			add(FieldTaints, "taint %s", checkLabelKey(t.Key))
		case !labelValueRE.MatchString(t.Value) || len(t.Value) > 63:
			add(FieldTaints, "taint %q: the value %q must be at most 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit", t.Key, t.Value)
		case !slices.Contains(TaintEffects(), t.Effect):
			add(FieldTaints, "taint %q: effect %q is not one of %s", t.Key, t.Effect, strings.Join(TaintEffects(), ", "))
		case slices.ContainsFunc(g.Taints[:i], func(o Taint) bool { return o.Key == t.Key && o.Effect == t.Effect }):
			add(FieldTaints, "taint %q with effect %s is listed twice", t.Key, t.Effect)
		}
	}
	return errs
}

func checkLabelKey(k string) error {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		prefix, name = "", k
	}
	switch {
	case !labelNameRE.MatchString(name):
		return fmt.Errorf("key %q: the name part must be 1-63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit", k)
	case hasPrefix && (len(prefix) > 253 || !labelPrefixRE.MatchString(prefix)):
		return fmt.Errorf("key %q: the prefix must be a DNS subdomain such as example.com", k)
	case hasPrefix && (prefix == "eks.amazonaws.com" || strings.HasSuffix(prefix, ".eks.amazonaws.com")):
		return fmt.Errorf("key %q: the eks.amazonaws.com prefix is EKS's own", k)
	}
	return nil
}

// NodeGroupReplaceFields are the settings CloudFormation can change only by replacing the
// node group (AWS::EKS::Nodegroup: AmiType, CapacityType, DiskSize, InstanceTypes are
// "Update requires: Replacement"; ScalingConfig, Labels and Taints update in place). A
// group keeps its name, so a replacement would need a second group of the same name,
// which EKS refuses: the provider asks for a new name instead.
func NodeGroupReplaceFields(old, nw NodeGroup) []NodeGroupField {
	var out []NodeGroupField
	if !slices.Equal(old.InstanceTypes, nw.InstanceTypes) {
		out = append(out, FieldInstanceTypes)
	}
	if old.CapacityType != nw.CapacityType {
		out = append(out, FieldCapacityType)
	}
	if old.AMIType != nw.AMIType {
		out = append(out, FieldAMIType)
	}
	if old.DiskSize != nw.DiskSize {
		out = append(out, FieldDiskSize)
	}
	return out
}

// NodeGroupLogicalID is the template's logical ID of the node group named name: its
// letters and digits, and when it has other characters a hash of the whole name, so two
// names never share an ID.
func NodeGroupLogicalID(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	id := "NodeGroup" + b.String()
	if b.Len() != len(name) {
		sum := sha256.Sum256([]byte(name))
		id += "X" + hex.EncodeToString(sum[:4])
	}
	return id
}

// Logical ID and output of the managed node groups' role (only in a template with groups).
const (
	ManagedNodeRoleLogicalID  = "ManagedNodeRole"
	OutputManagedNodeRoleArn  = "ManagedNodeRoleArn"
	nodegroupType             = "AWS::EKS::Nodegroup"
	templateOutputsHeader     = "\nOutputs:\n"
	templateNodeRoleHeader    = "\n  " + NodeInstanceRoleLogicalID + ":\n"
	maxTemplateBody           = 51200
	managedNodeRoleOutputText = `  ` + OutputManagedNodeRoleArn + `:
    Description: ARN of the managed node groups' role (EKS gives it an access entry of type EC2_LINUX, or maps it in kube-system/aws-auth in CONFIG_MAP mode).
    Value:
      Fn::GetAtt:
        - ` + ManagedNodeRoleLogicalID + `
        - Arn
`
)

// TemplateTooLargeError: the rendered template is over CloudFormation's 51,200 bytes.
type TemplateTooLargeError struct{ Size int }

func (e *TemplateTooLargeError) Error() string {
	return fmt.Sprintf("the template with these node groups and add-ons is %d bytes, over CloudFormation's limit of %d; use fewer node groups, labels or taints, or shorter add-on configuration_values", e.Size, maxTemplateBody)
}

// RenderEKSClusterTemplate is the embedded template with groups and addons (each with its
// version resolved): the template itself when there are none; otherwise, with groups,
// ManagedNodeRole (a copy of NodeInstanceRole), one AWS::EKS::Nodegroup per group in name
// order and the output ManagedNodeRoleArn, and one AWS::EKS::Addon per add-on in name order.
func RenderEKSClusterTemplate(groups []NodeGroup, addons ...Addon) (string, error) {
	base := EKSClusterTemplate()
	if len(groups) == 0 && len(addons) == 0 {
		return base, nil
	}
	sorted := slices.Clone(groups)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var res bytes.Buffer
	var groupIDs []string
	if len(sorted) > 0 {
		role, err := nodeRoleBlock(base)
		if err != nil {
			return "", err
		}
		res.WriteString("\n  # Managed node groups, rendered by the provider (template_nodegroups.go).\n")
		res.WriteString(strings.Replace(role, templateNodeRoleHeader, "\n  "+ManagedNodeRoleLogicalID+":\n", 1))
	}
	for _, g := range sorted {
		block, err := nodegroupBlock(g)
		if err != nil {
			return "", err
		}
		res.WriteString("\n" + block)
		groupIDs = append(groupIDs, NodeGroupLogicalID(g.Name))
	}
	sortedAddons := slices.Clone(addons)
	sort.Slice(sortedAddons, func(i, j int) bool { return sortedAddons[i].Name < sortedAddons[j].Name })
	if len(sortedAddons) > 0 {
		res.WriteString("\n  # EKS add-ons, rendered by the provider (addons.go).\n")
	}
	for _, a := range sortedAddons {
		block, err := addonBlock(a, groupIDs)
		if err != nil {
			return "", err
		}
		res.WriteString("\n" + block)
	}
	i := strings.Index(base, templateOutputsHeader)
	if i < 0 {
		return "", fmt.Errorf("the embedded template has no Outputs section")
	}
	out := base[:i] + "\n" + strings.TrimRight(res.String(), "\n") + "\n" + base[i:]
	if len(sorted) > 0 {
		out = strings.TrimRight(out, "\n") + "\n" + managedNodeRoleOutputText
	}
	if len(out) > maxTemplateBody {
		return "", &TemplateTooLargeError{Size: len(out)}
	}
	return out, nil
}

// nodeRoleBlock is NodeInstanceRole's text in the template, from its key to the next
// resource, so the managed groups' role has the same policies by construction.
func nodeRoleBlock(body string) (string, error) {
	i := strings.Index(body, templateNodeRoleHeader)
	if i < 0 {
		return "", fmt.Errorf("the embedded template has no %s", NodeInstanceRoleLogicalID)
	}
	rest := body[i+len(templateNodeRoleHeader):]
	end := len(rest)
	for off := 0; off < len(rest); {
		nl := strings.IndexByte(rest[off:], '\n')
		if nl < 0 {
			break
		}
		line := rest[off+nl+1:]
		// The next line indented by exactly two spaces starts the next resource (or comment).
		if len(line) > 2 && line[:2] == "  " && line[2] != ' ' && line[2] != '\n' {
			end = off + nl + 1
			break
		}
		off += nl + 1
	}
	return body[i:i+len(templateNodeRoleHeader)] + strings.TrimRight(rest[:end], "\n") + "\n", nil
}

type tmplTaint struct {
	Key    string `yaml:"Key"`
	Value  string `yaml:"Value,omitempty"`
	Effect string `yaml:"Effect"`
}

type tmplScaling struct {
	MinSize     int64 `yaml:"MinSize"`
	MaxSize     int64 `yaml:"MaxSize"`
	DesiredSize int64 `yaml:"DesiredSize"`
}

type tmplNodegroupProps struct {
	ClusterName   map[string]string   `yaml:"ClusterName"`
	NodegroupName string              `yaml:"NodegroupName"`
	NodeRole      map[string][]string `yaml:"NodeRole"`
	Subnets       map[string]string   `yaml:"Subnets"`
	Version       map[string]string   `yaml:"Version"`
	AmiType       string              `yaml:"AmiType"`
	CapacityType  string              `yaml:"CapacityType"`
	InstanceTypes []string            `yaml:"InstanceTypes"`
	DiskSize      int64               `yaml:"DiskSize"`
	ScalingConfig tmplScaling         `yaml:"ScalingConfig"`
	// Rolling updates (a new AMI release or Kubernetes version) replace one node at a time.
	UpdateConfig map[string]int64  `yaml:"UpdateConfig"`
	Labels       map[string]string `yaml:"Labels,omitempty"`
	Taints       []tmplTaint       `yaml:"Taints,omitempty"`
}

type tmplNodegroup struct {
	Type string `yaml:"Type"`
	// ClusterName is the parameter (the cluster's name), with an explicit dependency.
	DependsOn  string             `yaml:"DependsOn"`
	Properties tmplNodegroupProps `yaml:"Properties"`
}

func nodegroupBlock(g NodeGroup) (string, error) {
	r := tmplNodegroup{Type: nodegroupType, DependsOn: EKSClusterLogicalID, Properties: tmplNodegroupProps{
		ClusterName:   map[string]string{"Ref": "ClusterName"},
		NodegroupName: g.Name,
		NodeRole:      map[string][]string{"Fn::GetAtt": {ManagedNodeRoleLogicalID, "Arn"}},
		Subnets:       map[string]string{"Ref": "SubnetIds"},
		Version:       map[string]string{"Ref": "KubernetesVersion"},
		AmiType:       g.AMIType, CapacityType: g.CapacityType, InstanceTypes: g.InstanceTypes, DiskSize: g.DiskSize,
		ScalingConfig: tmplScaling{MinSize: g.MinSize, MaxSize: g.MaxSize, DesiredSize: g.DesiredSize},
		UpdateConfig:  map[string]int64{"MaxUnavailable": 1},
		Labels:        g.Labels,
	}}
	for _, t := range g.Taints {
		r.Properties.Taints = append(r.Properties.Taints, tmplTaint(t))
	}
	return indentedYAML(map[string]tmplNodegroup{NodeGroupLogicalID(g.Name): r})
}

// templateResources decodes the properties of the resources of type typ in a stack's
// template (what, for the error, names them).
func templateResources[P any](body, typ, what string) ([]P, error) {
	var t struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties P      `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal([]byte(body), &t); err != nil {
		// The template comes back from AWS and may have been changed there: the decoder's
		// message would quote it (and name Go types), so it is not passed on.
		return nil, errors.New("the stack's template is not one this provider rendered: its " + what + " cannot be read")
	}
	var out []P
	for _, r := range t.Resources {
		if r.Type == typ {
			out = append(out, r.Properties)
		}
	}
	return out, nil
}

// NodeGroupsFromTemplate reads the managed node groups back from a stack's template (one
// that RenderEKSClusterTemplate made), sorted by name; none for any other template.
func NodeGroupsFromTemplate(body string) ([]NodeGroup, error) {
	props, err := templateResources[tmplNodegroupProps](body, nodegroupType, "node groups")
	if err != nil {
		return nil, err
	}
	var out []NodeGroup
	for _, p := range props {
		g := NodeGroup{
			Name: p.NodegroupName, InstanceTypes: p.InstanceTypes, CapacityType: p.CapacityType, AMIType: p.AmiType,
			MinSize: p.ScalingConfig.MinSize, MaxSize: p.ScalingConfig.MaxSize, DesiredSize: p.ScalingConfig.DesiredSize,
			DiskSize: p.DiskSize, Labels: p.Labels,
		}
		for _, x := range p.Taints {
			g.Taints = append(g.Taints, Taint(x))
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
