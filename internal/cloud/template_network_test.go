package cloud

import (
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// What a change of the subnets or of the control plane's security group reaches, resource
// by resource, in a template with two managed node groups: the cluster (in place in EKS),
// the self-managed Auto Scaling group (in place, a rolling update), each managed node group
// (create-only Subnets: the provider refuses at plan time a change that keeps a group's
// name), and the security group rules (CloudFormation makes new ones, then deletes the
// old). No other resource takes them, so nothing else is replaced.
func TestEKSClusterTemplate_NetworkReferences(t *testing.T) {
	body, err := RenderEKSClusterTemplate(testGroups())
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties any    `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal([]byte(body), &tpl); err != nil {
		t.Fatal(err)
	}
	users := func(param string) []string {
		var out []string
		for id, r := range tpl.Resources {
			if refers(r.Properties, param) {
				out = append(out, id)
			}
		}
		slices.Sort(out)
		return out
	}
	var groups []string
	for id, r := range tpl.Resources {
		if r.Type == "AWS::EKS::Nodegroup" {
			groups = append(groups, id)
		}
	}
	if len(groups) != 2 {
		t.Fatalf("%d node groups in the rendered template, want 2", len(groups))
	}
	wantSubnets := slices.Sorted(slices.Values(append([]string{EKSClusterLogicalID, "NodeGroup"}, groups...)))
	if got := users("SubnetIds"); !slices.Equal(got, wantSubnets) {
		t.Errorf("SubnetIds is taken by %q, want %q", got, wantSubnets)
	}
	wantSG := []string{"ClusterControlPlaneSecurityGroupIngress", "ControlPlaneEgressToNodeSecurityGroup", "ControlPlaneEgressToNodeSecurityGroupOn443",
		EKSClusterLogicalID, "NodeSecurityGroupFromControlPlaneIngress", "NodeSecurityGroupFromControlPlaneOn443Ingress"}
	if got := users("ControlPlaneSecurityGroupId"); !slices.Equal(got, wantSG) {
		t.Errorf("ControlPlaneSecurityGroupId is taken by %q, want %q", got, wantSG)
	}
}

// refers: v holds a Ref to name.
func refers(v any, name string) bool {
	switch x := v.(type) {
	case map[string]any:
		if x["Ref"] == name {
			return true
		}
		for _, c := range x {
			if refers(c, name) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(x, func(c any) bool { return refers(c, name) })
	}
	return false
}
