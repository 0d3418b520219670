package cloud

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func testGroups() []NodeGroup {
	return []NodeGroup{
		{Name: "web", InstanceTypes: []string{"t3.large", "m5.large"}, CapacityType: "SPOT", AMIType: "AL2023_x86_64_STANDARD",
			MinSize: 1, MaxSize: 4, DesiredSize: 2, DiskSize: 30, Labels: map[string]string{"role": "web", "example.com/tier": "front"},
			Taints: []Taint{{Key: "dedicated", Value: "web", Effect: "NO_SCHEDULE"}, {Key: "spot", Effect: "PREFER_NO_SCHEDULE"}}},
		{Name: "arm_pool-1", InstanceTypes: []string{"m7g.large"}, CapacityType: "ON_DEMAND", AMIType: "BOTTLEROCKET_ARM_64",
			MinSize: 0, MaxSize: 2, DesiredSize: 1, DiskSize: 20},
	}
}

func TestRenderEKSClusterTemplate(t *testing.T) {
	if body, err := RenderEKSClusterTemplate(nil); err != nil || body != EKSClusterTemplate() {
		t.Fatalf("no groups: the embedded template unchanged, got err %v, same %v", err, body == EKSClusterTemplate())
	}
	body, err := RenderEKSClusterTemplate(testGroups())
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string         `yaml:"Type"`
			DependsOn  string         `yaml:"DependsOn"`
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
		Outputs map[string]any `yaml:"Outputs"`
	}
	if err := yaml.Unmarshal([]byte(body), &tpl); err != nil {
		t.Fatalf("rendered template is not YAML: %v", err)
	}
	role, base := tpl.Resources["ManagedNodeRole"], tpl.Resources["NodeInstanceRole"]
	if role.Type != "AWS::IAM::Role" || len(role.Properties["ManagedPolicyArns"].([]any)) != 4 || base.Type != "AWS::IAM::Role" {
		t.Errorf("ManagedNodeRole = %+v", role)
	}
	web := tpl.Resources["NodeGroupweb"]
	if web.Type != "AWS::EKS::Nodegroup" || web.DependsOn != "EKSCluster" || web.Properties["NodegroupName"] != "web" ||
		web.Properties["AmiType"] != "AL2023_x86_64_STANDARD" || web.Properties["CapacityType"] != "SPOT" || web.Properties["DiskSize"] != 30 {
		t.Errorf("NodeGroupweb = %+v", web)
	}
	if sc := web.Properties["ScalingConfig"].(map[string]any); sc["MinSize"] != 1 || sc["MaxSize"] != 4 || sc["DesiredSize"] != 2 {
		t.Errorf("ScalingConfig = %v", sc)
	}
	if _, ok := tpl.Resources[NodeGroupLogicalID("arm_pool-1")]; !ok || NodeGroupLogicalID("arm_pool-1") == NodeGroupLogicalID("armpool1") {
		t.Errorf("logical ID of arm_pool-1 = %s", NodeGroupLogicalID("arm_pool-1"))
	}
	if _, ok := tpl.Outputs[OutputManagedNodeRoleArn]; !ok {
		t.Errorf("no output %s", OutputManagedNodeRoleArn)
	}
	if !strings.HasPrefix(body, EKSClusterTemplate()[:strings.Index(EKSClusterTemplate(), "\nOutputs:")]) {
		t.Error("the rendered template does not keep the embedded one's text before Outputs")
	}
	back, err := NodeGroupsFromTemplate(body)
	if err != nil || len(back) != 2 || back[0].Name != "arm_pool-1" || back[1].Name != "web" {
		t.Fatalf("read back: %v %+v", err, back)
	}
	w := back[1]
	if w.DesiredSize != 2 || w.MaxSize != 4 || w.Labels["example.com/tier"] != "front" || len(w.Taints) != 2 ||
		w.Taints[1] != (Taint{Key: "spot", Effect: "PREFER_NO_SCHEDULE"}) || strings.Join(w.InstanceTypes, ",") != "t3.large,m5.large" {
		t.Errorf("web read back = %+v", w)
	}
	if none, err := NodeGroupsFromTemplate(EKSClusterTemplate()); err != nil || len(none) != 0 {
		t.Errorf("embedded template: %v %v", none, err)
	}
	// A label value that YAML would read as another type stays a string.
	g := testGroups()[:1]
	g[0].Labels = map[string]string{"on": "true", "n": "0123"}
	b2, _ := RenderEKSClusterTemplate(g)
	if back, _ := NodeGroupsFromTemplate(b2); back[0].Labels["on"] != "true" || back[0].Labels["n"] != "0123" || !strings.Contains(b2, `: "true"`) {
		t.Errorf("labels = %v", back[0].Labels)
	}
}

func TestRenderEKSClusterTemplate_TooLarge(t *testing.T) {
	var gs []NodeGroup
	for i := range MaxNodeGroups {
		g := testGroups()[0]
		g.Name = strings.Repeat("x", 40) + string(rune('a'+i%26)) + string(rune('a'+i/26))
		g.Labels = map[string]string{}
		for j := range 30 {
			g.Labels["example.com/label-"+string(rune('a'+j))] = strings.Repeat("v", 60)
		}
		gs = append(gs, g)
	}
	_, err := RenderEKSClusterTemplate(gs)
	if e, ok := err.(*TemplateTooLargeError); !ok || e.Size <= 51200 || !strings.Contains(err.Error(), "over CloudFormation's limit of 51200") {
		t.Fatalf("err = %v", err)
	}
	// The quota's worth of plain groups fits.
	gs = gs[:0]
	for i := range MaxNodeGroups {
		g := testGroups()[1]
		g.Name = "pool-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		gs = append(gs, g)
	}
	if _, err := RenderEKSClusterTemplate(gs); err != nil {
		t.Errorf("30 plain groups: %v", err)
	}
}

func TestCheckNodeGroup(t *testing.T) {
	ok := testGroups()
	for _, g := range ok {
		if errs := CheckNodeGroup(g); len(errs) != 0 {
			t.Errorf("%s: %v", g.Name, errs[0])
		}
	}
	base := ok[0]
	for name, tc := range map[string]struct {
		edit  func(*NodeGroup)
		field NodeGroupField
		msg   string
	}{
		"bad name":    {func(g *NodeGroup) { g.Name = "-web" }, FieldNodeGroupName, `node group name "-web": 1-63 characters`},
		"AL2":         {func(g *NodeGroup) { g.AMIType = "AL2_x86_64" }, FieldAMIType, "AL2_x86_64 is Amazon Linux 2, for which EKS publishes no AMIs from Kubernetes 1.33 on"},
		"unknown ami": {func(g *NodeGroup) { g.AMIType = "WINDOWS_CORE_2022_x86_64" }, FieldAMIType, `"WINDOWS_CORE_2022_x86_64" is not one of AL2023_x86_64_STANDARD, AL2023_ARM_64_STANDARD, BOTTLEROCKET_x86_64, BOTTLEROCKET_ARM_64`},
		"capacity":    {func(g *NodeGroup) { g.CapacityType = "CAPACITY_BLOCK" }, FieldCapacityType, `"CAPACITY_BLOCK" is not one of ON_DEMAND, SPOT`},
		"arm on x86":  {func(g *NodeGroup) { g.InstanceTypes = []string{"m7g.large"} }, FieldInstanceTypes, "m7g.large is an arm64 instance type and ami_type AL2023_x86_64_STANDARD runs on amd64"},
		"x86 on arm": {func(g *NodeGroup) {
			g.AMIType = "AL2023_ARM_64_STANDARD"
			g.InstanceTypes = []string{"c6gn.large", "g4dn.xlarge"}
		}, FieldInstanceTypes, "g4dn.xlarge is an amd64 instance type"},
		"bad type":         {func(g *NodeGroup) { g.InstanceTypes = []string{"large"} }, FieldInstanceTypes, `"large" is not an EC2 instance type`},
		"twice":            {func(g *NodeGroup) { g.InstanceTypes = []string{"t3.large", "t3.large"} }, FieldInstanceTypes, "t3.large is listed twice"},
		"desired over max": {func(g *NodeGroup) { g.DesiredSize = 5 }, FieldDesiredSize, "5 is above max_size 4"},
		"desired under":    {func(g *NodeGroup) { g.MinSize = 2; g.DesiredSize = 1 }, FieldDesiredSize, "1 is below min_size 2"},
		"min over max":     {func(g *NodeGroup) { g.MinSize = 5; g.DesiredSize = 5; g.MaxSize = 4 }, FieldMinSize, "5 is above max_size 4"},
		"max 0":            {func(g *NodeGroup) { g.MaxSize = 0; g.DesiredSize = 0; g.MinSize = 0 }, FieldMaxSize, "must be at least 1, got 0"},
		"disk":             {func(g *NodeGroup) { g.DiskSize = 8 }, FieldDiskSize, "must be between 20 and 16384 GiB, got 8"},
		"label key":        {func(g *NodeGroup) { g.Labels = map[string]string{"bad key": "x"} }, FieldLabels, `label key "bad key": the name part`},
		"label eks":        {func(g *NodeGroup) { g.Labels = map[string]string{"eks.amazonaws.com/nodegroup": "x"} }, FieldLabels, "the eks.amazonaws.com prefix is EKS's own"},
		"label value":      {func(g *NodeGroup) { g.Labels = map[string]string{"a": "-x"} }, FieldLabels, `label "a": the value "-x"`},
		"taint effect":     {func(g *NodeGroup) { g.Taints = []Taint{{Key: "a", Effect: "NoSchedule"}} }, FieldTaints, `taint "a": effect "NoSchedule" is not one of NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE`},
		"taint twice": {func(g *NodeGroup) {
			g.Taints = []Taint{{Key: "a", Effect: "NO_EXECUTE"}, {Key: "a", Value: "b", Effect: "NO_EXECUTE"}}
		}, FieldTaints, `taint "a" with effect NO_EXECUTE is listed twice`},
	} {
		g := base
		g.Labels, g.Taints = nil, nil
		tc.edit(&g)
		errs := CheckNodeGroup(g)
		if len(errs) != 1 || errs[0].Field != tc.field || !strings.Contains(errs[0].Msg, tc.msg) || errs[0].Group != g.Name {
			t.Errorf("%s: got %v, want one error on field %d containing %q", name, errs, tc.field, tc.msg)
			for _, e := range errs {
				t.Logf("  %d %s", e.Field, e.Msg)
			}
		}
	}
}

func TestInstanceArch(t *testing.T) {
	for it, want := range map[string]string{"t3.medium": "amd64", "m7g.large": "arm64", "c6gn.xlarge": "arm64", "t4g.small": "arm64",
		"a1.large": "arm64", "g4dn.xlarge": "amd64", "m7i-flex.large": "amd64", "r8gd.large": "arm64", "g5g.xlarge": "arm64", "inf2.xlarge": "amd64"} {
		if got := InstanceArch(it); got != want {
			t.Errorf("InstanceArch(%s) = %s, want %s", it, got, want)
		}
	}
}

func TestNodeGroupReplaceFields(t *testing.T) {
	a := testGroups()[0]
	b := a
	b.DesiredSize, b.MaxSize, b.Labels, b.Taints = 3, 6, nil, nil
	if f := NodeGroupReplaceFields(a, b); len(f) != 0 {
		t.Errorf("scaling, labels and taints change in place, got %v", f)
	}
	b.InstanceTypes, b.DiskSize = []string{"t3.large"}, 40
	if f := NodeGroupReplaceFields(a, b); len(f) != 2 || f[0] != FieldInstanceTypes || f[1] != FieldDiskSize {
		t.Errorf("got %v", f)
	}
}

// TestNodeGroupsFromTemplate_BadTemplateQuotesNothing: a template changed at AWS into
// something else is reported in fixed words, never with the decoder's quote of it.
func TestNodeGroupsFromTemplate_BadTemplateQuotesNothing(t *testing.T) {
	_, err := NodeGroupsFromTemplate("Resources: [SECRET-LOOKING-TEXT")
	if err == nil {
		t.Fatal("no error for a template that is not YAML")
	}
	if got, want := err.Error(), "the stack's template is not one this provider rendered: its node groups cannot be read"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}
