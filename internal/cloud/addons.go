package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"go.yaml.in/yaml/v3"
)

// EKS add-ons: each Addon becomes an AWS::EKS::Addon resource of the embedded template
// (RenderEKSClusterTemplate), at a concrete version: one left out is resolved before the
// template is rendered to the default EKS gives for the cluster's Kubernetes version
// (ResolveAddons, through DescribeAddonVersions), so a version upgrade of the cluster can
// move every add-on in the same UpdateStack.

// Addon is one EKS add-on; Name is its EKS name.
type Addon struct {
	Name    string
	Version string // "v1.19.2-eksbuild.1"; "" until resolved
	// ConfigurationValues is the add-on's configuration as a JSON object; "" for none.
	ConfigurationValues string
}

// Add-on names the provider manages.
const (
	AddonVPCCNI           = "vpc-cni"
	AddonCoreDNS          = "coredns"
	AddonKubeProxy        = "kube-proxy"
	AddonPodIdentityAgent = "eks-pod-identity-agent"
)

// AddonNames are the add-ons the provider offers, sorted: the ones every cluster runs (the
// VPC CNI, CoreDNS, kube-proxy) and the Pod Identity agent. None needs an IAM role of its
// own: the VPC CNI works with the node role (it has AmazonEKS_CNI_Policy), the agent
// needs none. Add-ons that need one (EBS CSI driver, ...) are left to a later version.
func AddonNames() []string {
	return []string{AddonCoreDNS, AddonPodIdentityAgent, AddonKubeProxy, AddonVPCCNI}
}

// DefaultAddons are the add-ons of a new cluster whose configuration names none: all of
// AddonNames, but CoreDNS only when the cluster has nodes (without any, its pods cannot be
// scheduled and EKS reports the add-on DEGRADED until CloudFormation gives up on it).
func DefaultAddons(hasNodes bool) []string {
	var out []string
	for _, n := range AddonNames() {
		if n != AddonCoreDNS || hasNodes {
			out = append(out, n)
		}
	}
	return out
}

// AddonField names one setting of an Addon, for errors about it.
type AddonField int

const (
	FieldAddonName AddonField = iota
	FieldAddonVersion
	FieldAddonConfiguration
)

// AddonError is one invalid setting of the add-on Addon.
type AddonError struct {
	Addon string
	Field AddonField
	Msg   string
}

func (e *AddonError) Error() string { return e.Msg }

// addonVersionRE is EKS's form of an add-on version: v<major>.<minor>.<patch>-eksbuild.<n>.
var addonVersionRE = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)-eksbuild\.[1-9][0-9]*$`)

// CheckAddon lists what EKS would refuse in a (version and configuration as given; ""
// for not known yet), for a cluster on kubernetesVersion ("" when not known). kube-proxy is
// the one add-on whose compatibility is known without asking EKS: its versions follow the
// Kubernetes minor version they are built for.
func CheckAddon(a Addon, kubernetesVersion string) []*AddonError {
	var errs []*AddonError
	add := func(f AddonField, format string, args ...any) {
		errs = append(errs, &AddonError{Addon: a.Name, Field: f, Msg: fmt.Sprintf(format, args...)})
	}
	if !slices.Contains(AddonNames(), a.Name) {
		add(FieldAddonName, "%q is not an add-on the provider manages; use one of %s", a.Name, strings.Join(AddonNames(), ", "))
		return errs
	}
	if a.Version != "" {
		switch {
		case !addonVersionRE.MatchString(a.Version):
			add(FieldAddonVersion, "%q is not an EKS add-on version such as v1.19.2-eksbuild.1", a.Version)
		case a.Name == AddonKubeProxy && kubernetesVersion != "" && kubeProxyMinor(a.Version) != kubernetesVersion:
			add(FieldAddonVersion, "kube-proxy %s is built for Kubernetes %s and the cluster runs %s; use a %s version (or leave version out for EKS's default)",
				a.Version, kubeProxyMinor(a.Version), kubernetesVersion, "v"+kubernetesVersion+".x-eksbuild.N")
		}
	}
	if a.ConfigurationValues != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(a.ConfigurationValues), &obj); err != nil || obj == nil {
			add(FieldAddonConfiguration, "must be a JSON object such as {\"replicaCount\": 3} (use jsonencode)")
		}
	}
	return errs
}

// kubeProxyMinor is the Kubernetes minor version ("1.N") a kube-proxy version is built for.
func kubeProxyMinor(version string) string {
	m := addonVersionRE.FindStringSubmatch(version)
	if m == nil {
		return ""
	}
	return m[1] + "." + m[2]
}

// AddonLogicalID is the template's logical ID of the add-on named name: "Addon" and the
// name's parts capitalized (AddonVpcCni, AddonEksPodIdentityAgent).
func AddonLogicalID(name string) string {
	var b strings.Builder
	b.WriteString("Addon")
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// AddonVersionError: the version of Addon (pinned, or the one left from before an
// upgrade) does not run on KubernetesVersion, by EKS's DescribeAddonVersions.
type AddonVersionError struct {
	Addon, Version, KubernetesVersion string
	Available                         []string // the versions that do, newest first
}

func (e *AddonVersionError) Error() string {
	if len(e.Available) == 0 {
		return fmt.Sprintf("EKS offers no version of %s for Kubernetes %s", e.Addon, e.KubernetesVersion)
	}
	return fmt.Sprintf("EKS does not offer %s %s for Kubernetes %s; it offers %s", e.Addon, e.Version, e.KubernetesVersion, strings.Join(firstN(e.Available, 5), ", "))
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(slices.Clone(s[:n]), "...")
	}
	return s
}

// AddonVersions is what EKS offers of an add-on for one Kubernetes version.
type AddonVersions struct {
	Versions []string // newest first, as EKS lists them
	Default  string   // the version EKS installs when none is given; "" when it names none
}

// DescribeAddonVersions asks EKS which versions of addon run on kubernetesVersion.
func (s *Session) DescribeAddonVersions(ctx context.Context, addon, kubernetesVersion string) (AddonVersions, error) {
	var res AddonVersions
	p := eks.NewDescribeAddonVersionsPaginator(s.EKS, &eks.DescribeAddonVersionsInput{
		AddonName: aws.String(addon), KubernetesVersion: aws.String(kubernetesVersion),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return res, Sanitize(err)
		}
		for _, info := range out.Addons {
			if aws.ToString(info.AddonName) != addon {
				continue
			}
			for _, v := range info.AddonVersions {
				for _, c := range v.Compatibilities {
					// Only what looks like a version goes on (into plans and diagnostics).
					if aws.ToString(c.ClusterVersion) != kubernetesVersion || !addonVersionRE.MatchString(aws.ToString(v.AddonVersion)) {
						continue
					}
					res.Versions = append(res.Versions, aws.ToString(v.AddonVersion))
					if c.DefaultVersion {
						res.Default = aws.ToString(v.AddonVersion)
					}
				}
			}
		}
	}
	return res, nil
}

// ResolveAddons gives every add-on of addons without a version EKS's default for
// kubernetesVersion, and checks that the others run on it (*AddonVersionError).
func (s *Session) ResolveAddons(ctx context.Context, addons []Addon, kubernetesVersion string) ([]Addon, error) {
	out := slices.Clone(addons)
	for i, a := range out {
		offered, err := s.DescribeAddonVersions(ctx, a.Name, kubernetesVersion)
		if err != nil {
			return nil, fmt.Errorf("reading the versions of %s for Kubernetes %s: %w", a.Name, kubernetesVersion, err)
		}
		switch {
		case a.Version == "" && offered.Default != "":
			out[i].Version = offered.Default
		case a.Version == "" && len(offered.Versions) > 0:
			out[i].Version = offered.Versions[0]
		case a.Version == "" || !slices.Contains(offered.Versions, a.Version):
			return nil, &AddonVersionError{Addon: a.Name, Version: a.Version, KubernetesVersion: kubernetesVersion, Available: offered.Versions}
		}
	}
	return out, nil
}

const addonType = "AWS::EKS::Addon"

type tmplAddonProps struct {
	ClusterName  map[string]string `yaml:"ClusterName"`
	AddonName    string            `yaml:"AddonName"`
	AddonVersion string            `yaml:"AddonVersion"`
	// OVERWRITE: a new cluster already runs self-managed vpc-cni, coredns and kube-proxy,
	// which the add-on takes over; an update puts back fields changed in the cluster.
	ResolveConflicts string `yaml:"ResolveConflicts"`
	// An add-on removed from the configuration keeps running, self-managed, rather than
	// taking the cluster's pod networking or DNS with it.
	PreserveOnDelete    bool   `yaml:"PreserveOnDelete"`
	ConfigurationValues string `yaml:"ConfigurationValues,omitempty"`
}

type tmplAddon struct {
	Type string `yaml:"Type"`
	// The cluster, and for CoreDNS the node groups: its pods need nodes to run on.
	DependsOn []string `yaml:"DependsOn"`
	// CoreDNS waits for the self-managed Auto Scaling group too, when there is one: a
	// DependsOn cannot name a resource that may not exist, a conditional Ref can.
	Metadata   map[string]any `yaml:"Metadata,omitempty"`
	Properties tmplAddonProps `yaml:"Properties"`
}

// addonBlock is the template text of a; groups are the managed node groups' logical IDs.
func addonBlock(a Addon, groups []string) (string, error) {
	if a.Version == "" {
		return "", fmt.Errorf("add-on %s has no version: resolve it first", a.Name)
	}
	r := tmplAddon{Type: addonType, DependsOn: []string{EKSClusterLogicalID}, Properties: tmplAddonProps{
		ClusterName: map[string]string{"Ref": "ClusterName"}, AddonName: a.Name, AddonVersion: a.Version,
		ResolveConflicts: "OVERWRITE", PreserveOnDelete: true, ConfigurationValues: a.ConfigurationValues,
	}}
	if a.Name == AddonCoreDNS {
		r.DependsOn = append(r.DependsOn, groups...)
		r.Metadata = map[string]any{"SelfManagedNodes": map[string]any{"Fn::If": []any{"HasSelfManagedNodes", map[string]string{"Ref": "NodeGroup"}, ""}}}
	}
	return indentedYAML(map[string]tmplAddon{AddonLogicalID(a.Name): r})
}

// indentedYAML encodes v as a block of the template's Resources section.
func indentedYAML(v any) (string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return strings.Join(lines, "\n") + "\n", nil
}

// AddonsFromTemplate reads the add-ons back from a stack's template (one that
// RenderEKSClusterTemplate made), sorted by name; none for any other template.
func AddonsFromTemplate(body string) ([]Addon, error) {
	props, err := templateResources[tmplAddonProps](body, addonType, "add-ons")
	if err != nil {
		return nil, err
	}
	var out []Addon
	for _, p := range props {
		out = append(out, Addon{Name: p.AddonName, Version: p.AddonVersion, ConfigurationValues: p.ConfigurationValues})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
