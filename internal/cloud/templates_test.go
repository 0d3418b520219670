package cloud

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// parseTemplateNode parses the embedded template into a YAML node tree (keeps key order).
func parseTemplateNode(t *testing.T) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(EKSClusterTemplate()), &doc); err != nil {
		t.Fatalf("template is not valid YAML: %v", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("template is not a YAML mapping")
	}
	return doc.Content[0]
}

// parseTemplateMap parses the embedded template into plain Go values.
func parseTemplateMap(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(EKSClusterTemplate()), &m); err != nil {
		t.Fatalf("template is not valid YAML: %v", err)
	}
	return m
}

func mappingKeys(n *yaml.Node) []string {
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func section(t *testing.T, tpl map[string]any, name string) map[string]any {
	t.Helper()
	s, ok := tpl[name].(map[string]any)
	if !ok {
		t.Fatalf("template has no %s section", name)
	}
	return s
}

func get(t *testing.T, v any, path ...string) any {
	t.Helper()
	for i, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not a mapping", strings.Join(path[:i], "."))
		}
		if v, ok = m[p]; !ok {
			t.Fatalf("%s: missing", strings.Join(path[:i+1], "."))
		}
	}
	return v
}

func TestEKSClusterTemplateParameters(t *testing.T) {
	root := parseTemplateNode(t)
	params := mappingValue(root, "Parameters")
	if params == nil {
		t.Fatal("no Parameters section")
	}
	if got := mappingKeys(params); !slices.Equal(got, EKSClusterTemplateParameters) {
		t.Errorf("template parameters (in order) = %q,\nEKSClusterTemplateParameters    = %q", got, EKSClusterTemplateParameters)
	}

	p := section(t, parseTemplateMap(t), "Parameters")
	want := map[string]map[string]any{
		"ClusterRoleArn":              {"Type": "String"},
		"KubernetesVersion":           {"Type": "String", "AllowedPattern": `^1\.\d+$`, "Default": "1.35"},
		"VpcId":                       {"Type": "AWS::EC2::VPC::Id"},
		"SubnetIds":                   {"Type": "List<AWS::EC2::Subnet::Id>"},
		"ControlPlaneSecurityGroupId": {"Type": "AWS::EC2::SecurityGroup::Id"},
		"NodeInstanceType":            {"Type": "String", "Default": "t3.medium"},
		"NodeCount":                   {"Type": "Number", "MinValue": 0, "MaxValue": 100, "Default": 3},
		"NodeVolumeSize":              {"Type": "Number", "MinValue": 8, "Default": 20},
		"KeyName":                     {"Type": "String", "Default": ""},
		"NodeImageId":                 {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"},
		"EndpointPublicAccess":        {"Type": "String", "AllowedValues": []any{"true", "false"}},
		"EndpointPrivateAccess":       {"Type": "String", "AllowedValues": []any{"true", "false"}},
		"PublicAccessCidrs":           {"Type": "CommaDelimitedList"},
		"IpFamily":                    {"Type": "String", "AllowedValues": []any{"ipv4", "ipv6"}},
		"SecretsKmsKeyArn":            {"Type": "String"},
		"AuthenticationMode":          {"Type": "String", "AllowedValues": []any{"API", "API_AND_CONFIG_MAP", "CONFIG_MAP"}},
		"ClusterAdminRoleArn":         {"Type": "String"},
	}
	for _, name := range LogTypeParameters {
		want[name] = map[string]any{"Type": "String", "AllowedValues": []any{"true", "false"}, "Default": "false"}
	}
	// The later parameters default to what a stack of an older template does: EKS's defaults.
	for name, def := range EKSClusterTemplateDefaults {
		if got := get(t, p, name, "Default"); got != def {
			t.Errorf("Parameters.%s.Default = %#v, EKSClusterTemplateDefaults has %q", name, got, def)
		}
		if !slices.Contains(EKSClusterTemplateParameters, name) {
			t.Errorf("EKSClusterTemplateDefaults names %s, which is not a parameter", name)
		}
	}
	for name, attrs := range want {
		for k, v := range attrs {
			if got := get(t, p, name, k); !reflect.DeepEqual(got, v) {
				t.Errorf("Parameters.%s.%s = %#v, want %#v", name, k, got, v)
			}
		}
	}
	for _, name := range []string{"ClusterName", "ClusterRoleArn", "VpcId", "SubnetIds", "ControlPlaneSecurityGroupId"} {
		if _, ok := p[name].(map[string]any)["Default"]; ok {
			t.Errorf("Parameters.%s has a default: it must be passed", name)
		}
	}
	// The default AMI path must match the default Kubernetes version.
	wantAMI, err := NodeAMIParameter(get(t, p, "KubernetesVersion", "Default").(string))
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, p, "NodeImageId", "Default"); got != wantAMI {
		t.Errorf("Parameters.NodeImageId.Default = %q, want %q (the default KubernetesVersion's)", got, wantAMI)
	}
	for _, c := range []string{"HasKeyName", "HasSecretsKmsKey", "IsIpv6", "LogsApi", "LogsAudit", "LogsAuthenticator", "LogsControllerManager", "LogsScheduler"} {
		if got := get(t, parseTemplateMap(t), "Conditions", c); got == nil {
			t.Errorf("Conditions.%s missing", c)
		}
	}
	// The KMS key pattern takes key ARNs (and "") only.
	re := regexp.MustCompile(get(t, p, "SecretsKmsKeyArn", "AllowedPattern").(string))
	for v, ok := range map[string]bool{"": true, "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab": true,
		"arn:aws:kms:eu-west-1:222222222222:key/mrk-1234abcd12ab34cd56ef1234567890ab": true, "arn:aws:kms:eu-west-1:222222222222:alias/eks": false, "1234abcd": false} {
		if re.MatchString(v) != ok {
			t.Errorf("SecretsKmsKeyArn pattern on %q: %v, want %v", v, !ok, ok)
		}
	}
}

func TestEKSClusterTemplateResources(t *testing.T) {
	tpl := parseTemplateMap(t)
	res := section(t, tpl, "Resources")

	wantTypes := map[string]string{
		EKSClusterLogicalID:       "AWS::EKS::Cluster",
		NodeInstanceRoleLogicalID: "AWS::IAM::Role",
		"NodeInstanceProfile":     "AWS::IAM::InstanceProfile",
		"NodeSecurityGroup":       "AWS::EC2::SecurityGroup",
		"NodeLaunchTemplate":      "AWS::EC2::LaunchTemplate",
		"NodeGroup":               "AWS::AutoScaling::AutoScalingGroup",
	}
	for id, typ := range wantTypes {
		if got := get(t, res, id, "Type"); got != typ {
			t.Errorf("Resources.%s.Type = %v, want %s", id, got, typ)
		}
	}
	for id, r := range res {
		if typ := get(t, r, "Type"); typ == "AWS::AutoScaling::LaunchConfiguration" {
			t.Errorf("Resources.%s is a launch configuration: use a launch template", id)
		}
	}
	if strings.Contains(EKSClusterTemplate(), "LaunchConfiguration") {
		t.Error("template mentions LaunchConfiguration")
	}

	cluster := get(t, res, EKSClusterLogicalID, "Properties")
	for prop, want := range map[string]any{
		"Name":    map[string]any{"Ref": "ClusterName"},
		"Version": map[string]any{"Ref": "KubernetesVersion"},
		"RoleArn": map[string]any{"Ref": "ClusterRoleArn"},
	} {
		if got := get(t, cluster, prop); !reflect.DeepEqual(got, want) {
			t.Errorf("EKSCluster.Properties.%s = %#v, want %#v", prop, got, want)
		}
	}
	if got := get(t, cluster, "AccessConfig", "AuthenticationMode"); !reflect.DeepEqual(got, map[string]any{"Ref": "AuthenticationMode"}) {
		t.Errorf("EKSCluster AuthenticationMode = %v", got)
	}
	// EKS's creator bootstrap only where no admin access entry replaces it.
	if got := get(t, cluster, "AccessConfig", "BootstrapClusterCreatorAdminPermissions"); !reflect.DeepEqual(got, map[string]any{"Fn::If": []any{"HasAdminAccessEntry", false, true}}) {
		t.Errorf("EKSCluster BootstrapClusterCreatorAdminPermissions = %v", got)
	}
	// The access entries: the nodes' (EC2_LINUX) in both access entry modes, the
	// provisioning role's (cluster admin) when ClusterAdminRoleArn is given.
	for id, want := range map[string]map[string]any{
		NodeAccessEntryLogicalID: {"Type": "AWS::EKS::AccessEntry", "Condition": "HasNodeAccessEntry", "DependsOn": EKSClusterLogicalID,
			"Properties": map[string]any{"ClusterName": map[string]any{"Ref": "ClusterName"},
				"PrincipalArn": map[string]any{"Fn::GetAtt": []any{NodeInstanceRoleLogicalID, "Arn"}}, "Type": "EC2_LINUX"}},
		AdminAccessEntryLogicalID: {"Type": "AWS::EKS::AccessEntry", "Condition": "HasAdminAccessEntry", "DependsOn": EKSClusterLogicalID,
			"Properties": map[string]any{"ClusterName": map[string]any{"Ref": "ClusterName"},
				"PrincipalArn": map[string]any{"Ref": "ClusterAdminRoleArn"}, "Type": "STANDARD",
				"AccessPolicies": []any{map[string]any{
					"PolicyArn":   map[string]any{"Fn::Sub": "arn:${AWS::Partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"},
					"AccessScope": map[string]any{"Type": "cluster"}}}}},
	} {
		if got := get(t, res, id); !reflect.DeepEqual(got, any(want)) {
			t.Errorf("Resources.%s = %#v,\nwant %#v", id, got, want)
		}
	}
	if got := get(t, parseTemplateMap(t), "Conditions", "HasAccessEntries"); !reflect.DeepEqual(got, map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AuthenticationMode"}, "CONFIG_MAP"}}}}) {
		t.Errorf("Conditions.HasAccessEntries = %#v", got)
	}
	for path, want := range map[string]any{
		"ResourcesVpcConfig.EndpointPublicAccess":  map[string]any{"Ref": "EndpointPublicAccess"},
		"ResourcesVpcConfig.EndpointPrivateAccess": map[string]any{"Ref": "EndpointPrivateAccess"},
		"ResourcesVpcConfig.PublicAccessCidrs":     map[string]any{"Ref": "PublicAccessCidrs"},
		"KubernetesNetworkConfig.IpFamily":         map[string]any{"Ref": "IpFamily"},
		"KubernetesNetworkConfig.ServiceIpv4Cidr":  map[string]any{"Fn::If": []any{"IsIpv6", map[string]any{"Ref": "AWS::NoValue"}, map[string]any{"Ref": "ServiceIpv4Cidr"}}},
		"EncryptionConfig": map[string]any{"Fn::If": []any{"HasSecretsKmsKey",
			[]any{map[string]any{"Provider": map[string]any{"KeyArn": map[string]any{"Ref": "SecretsKmsKeyArn"}}, "Resources": []any{"secrets"}}},
			map[string]any{"Ref": "AWS::NoValue"}}},
	} {
		if got := get(t, cluster, strings.Split(path, ".")...); !reflect.DeepEqual(got, want) {
			t.Errorf("EKSCluster.Properties.%s = %#v, want %#v", path, got, want)
		}
	}
	// One Fn::If per log type, on the condition of its parameter.
	types := get(t, cluster, "Logging", "ClusterLogging", "EnabledTypes").([]any)
	var logTypes []string
	for _, el := range types {
		f := get(t, el, "Fn::If").([]any)
		typ := get(t, f[1], "Type").(string)
		logTypes = append(logTypes, typ)
		if f[0] != "Logs"+strings.TrimPrefix(LogTypeParameters[typ], "Log") || !reflect.DeepEqual(f[2], map[string]any{"Ref": "AWS::NoValue"}) {
			t.Errorf("EnabledTypes entry %#v", f)
		}
	}
	if !slices.Equal(logTypes, []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}) || len(LogTypeParameters) != 5 {
		t.Errorf("EnabledTypes log types %q", logTypes)
	}

	policies, _ := get(t, res, NodeInstanceRoleLogicalID, "Properties", "ManagedPolicyArns").([]any)
	var policyNames []string
	for _, p := range policies {
		sub, _ := get(t, p, "Fn::Sub").(string)
		name, ok := strings.CutPrefix(sub, "arn:${AWS::Partition}:iam::aws:policy/")
		if !ok {
			t.Errorf("managed policy %q is not partition-aware", sub)
		}
		policyNames = append(policyNames, name)
	}
	slices.Sort(policyNames)
	if want := []string{"AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonSSMManagedInstanceCore"}; !slices.Equal(policyNames, want) {
		t.Errorf("NodeInstanceRole managed policies = %q, want %q", policyNames, want)
	}

	lt := get(t, res, "NodeLaunchTemplate", "Properties", "LaunchTemplateData")
	if got := get(t, lt, "MetadataOptions", "HttpTokens"); got != "required" {
		t.Errorf("launch template HttpTokens = %v, want required (IMDSv2)", got)
	}
	if got := get(t, lt, "MetadataOptions", "HttpPutResponseHopLimit"); got != 2 {
		t.Errorf("launch template HttpPutResponseHopLimit = %v, want 2", got)
	}
	ebs := get(t, lt, "BlockDeviceMappings").([]any)[0]
	if get(t, ebs, "Ebs", "VolumeType") != "gp3" || get(t, ebs, "Ebs", "Encrypted") != true {
		t.Errorf("root volume = %#v, want encrypted gp3", ebs)
	}
	sub := get(t, lt, "UserData", "Fn::Base64", "Fn::Sub").([]any)
	userData := sub[0].(string)
	for _, s := range []string{"application/node.eks.aws", "apiVersion: node.eks.aws/v1alpha1", "kind: NodeConfig",
		"name: ${ClusterName}", "apiServerEndpoint: ${Endpoint}", "certificateAuthority: ${CertificateAuthority}", "cidr: ${ServiceCidr}"} {
		if !strings.Contains(userData, s) {
			t.Errorf("user data lacks %q", s)
		}
	}
	vars := sub[1].(map[string]any)
	if got := vars["Endpoint"]; !reflect.DeepEqual(got, map[string]any{"Fn::GetAtt": []any{"EKSCluster", "Endpoint"}}) {
		t.Errorf("user data Endpoint = %#v", got)
	}
	if got := vars["CertificateAuthority"]; !reflect.DeepEqual(got, map[string]any{"Fn::GetAtt": []any{"EKSCluster", "CertificateAuthorityData"}}) {
		t.Errorf("user data CertificateAuthority = %#v", got)
	}
	if got := vars["ServiceCidr"]; !reflect.DeepEqual(got, map[string]any{"Fn::If": []any{"IsIpv6",
		map[string]any{"Fn::GetAtt": []any{"EKSCluster", "KubernetesNetworkConfig.ServiceIpv6Cidr"}}, map[string]any{"Ref": "ServiceIpv4Cidr"}}}) {
		t.Errorf("user data ServiceCidr = %#v", got)
	}
	ipv6Policy := get(t, res, NodeInstanceRoleLogicalID, "Properties", "Policies", "Fn::If").([]any)
	if ipv6Policy[0] != "IsIpv6" || !strings.Contains(fmt.Sprint(ipv6Policy[1]), "ec2:AssignIpv6Addresses") {
		t.Errorf("NodeInstanceRole Policies = %#v, want the IPv6 CNI policy under IsIpv6", ipv6Policy)
	}

	asg := get(t, res, "NodeGroup", "Properties")
	if got := get(t, asg, "LaunchTemplate", "LaunchTemplateId"); !reflect.DeepEqual(got, map[string]any{"Ref": "NodeLaunchTemplate"}) {
		t.Errorf("NodeGroup LaunchTemplateId = %#v", got)
	}
	for _, k := range []string{"MinSize", "DesiredCapacity", "MaxSize"} {
		if got := get(t, asg, k); !reflect.DeepEqual(got, map[string]any{"Ref": "NodeCount"}) {
			t.Errorf("NodeGroup %s = %#v, want Ref NodeCount", k, got)
		}
	}
	if get(t, res, "NodeGroup", "UpdatePolicy", "AutoScalingRollingUpdate") == nil {
		t.Error("NodeGroup has no rolling update policy")
	}
}

func TestEKSClusterTemplateOutputs(t *testing.T) {
	out := section(t, parseTemplateMap(t), "Outputs")
	want := map[string]any{
		OutputClusterName:         map[string]any{"Ref": "ClusterName"},
		OutputClusterArn:          map[string]any{"Fn::GetAtt": []any{EKSClusterLogicalID, "Arn"}},
		OutputClusterEndpoint:     map[string]any{"Fn::GetAtt": []any{EKSClusterLogicalID, "Endpoint"}},
		OutputNodeInstanceRoleArn: map[string]any{"Fn::GetAtt": []any{NodeInstanceRoleLogicalID, "Arn"}},
		OutputNodeSecurityGroupID: map[string]any{"Ref": "NodeSecurityGroup"},
	}
	for k, v := range want {
		if got := get(t, out, k, "Value"); !reflect.DeepEqual(got, v) {
			t.Errorf("Outputs.%s.Value = %#v, want %#v", k, got, v)
		}
	}
	if len(out) != len(want) {
		t.Errorf("outputs = %d, want %d", len(out), len(want))
	}
}

// TestEKSClusterTemplateReferences checks the template's conventions: long-form intrinsic
// functions only (no YAML tags such as !Ref), every Ref and Fn::GetAtt names something
// that exists, every parameter is used, and the cluster is read only through Fn::GetAtt
// nodes (never ${EKSCluster.X} in a Fn::Sub string), which moto_test.go relies on.
func TestEKSClusterTemplateReferences(t *testing.T) {
	var walkNodes func(n *yaml.Node)
	walkNodes = func(n *yaml.Node) {
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			t.Errorf("line %d: short-form tag %s: use the long form (e.g. Ref:, Fn::GetAtt:)", n.Line, n.Tag)
		}
		for _, c := range n.Content {
			walkNodes(c)
		}
	}
	walkNodes(parseTemplateNode(t))

	tpl := parseTemplateMap(t)
	params := section(t, tpl, "Parameters")
	res := section(t, tpl, "Resources")
	known := func(name string) bool {
		_, p := params[name]
		_, r := res[name]
		return p || r || strings.HasPrefix(name, "AWS::")
	}
	used := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["Ref"].(string); ok {
				used[ref] = true
				if !known(ref) {
					t.Errorf("%s: Ref to unknown %q", path, ref)
				}
			}
			if ga, ok := v["Fn::GetAtt"].([]any); ok {
				if len(ga) != 2 {
					t.Errorf("%s: Fn::GetAtt needs [resource, attribute]", path)
				} else if _, ok := res[ga[0].(string)]; !ok {
					t.Errorf("%s: Fn::GetAtt of unknown resource %v", path, ga[0])
				}
			}
			if sub, ok := v["Fn::Sub"]; ok {
				s, _ := sub.(string)
				if l, ok := sub.([]any); ok {
					s, _ = l[0].(string)
				}
				if strings.Contains(s, "${"+EKSClusterLogicalID+".") {
					t.Errorf("%s: ${EKSCluster.X} in Fn::Sub: use an explicit Fn::GetAtt variable", path)
				}
				for _, m := range strings.Split(s, "${")[1:] {
					name, _, _ := strings.Cut(m, "}")
					used[name] = true
				}
			}
			for k, c := range v {
				walk(path+"."+k, c)
			}
		case []any:
			for _, c := range v {
				walk(path+"[]", c)
			}
		}
	}
	walk("Resources", res)
	walk("Outputs", tpl["Outputs"])
	walk("Conditions", tpl["Conditions"])
	for name := range params {
		if !used[name] {
			t.Errorf("parameter %s is never used", name)
		}
	}
}

func TestNodeAMIParameter(t *testing.T) {
	const suffix = "/amazon-linux-2023/x86_64/standard/recommended/image_id"
	for _, tc := range []struct {
		version, want string
	}{
		{"1.35", "/aws/service/eks/optimized-ami/1.35" + suffix},
		{"1.33", "/aws/service/eks/optimized-ami/1.33" + suffix},
		{"1.29", "/aws/service/eks/optimized-ami/1.29" + suffix},
		{"1.100", "/aws/service/eks/optimized-ami/1.100" + suffix},
		{"1.0", "/aws/service/eks/optimized-ami/1.0" + suffix},
		{"", ""},
		{"1", ""},
		{"1.", ""},
		{"v1.33", ""},
		{"1.33.2", ""},
		{"2.1", ""},
		{"1.033", ""},
		{"1.33 ", ""},
		{"1.33/../../x", ""},
		{"1.3a", ""},
	} {
		got, err := NodeAMIParameter(tc.version)
		if tc.want == "" {
			var verr *InvalidKubernetesVersionError
			if !errors.As(err, &verr) || verr.Version != tc.version || got != "" {
				t.Errorf("NodeAMIParameter(%q) = %q, %v; want an *InvalidKubernetesVersionError", tc.version, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NodeAMIParameter(%q) = %q, %v; want %q", tc.version, got, err, tc.want)
		}
	}
}
