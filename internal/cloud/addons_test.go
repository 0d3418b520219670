package cloud

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

func TestCheckAddon(t *testing.T) {
	for _, a := range []Addon{
		{Name: "vpc-cni"}, {Name: "coredns", Version: "v1.12.3-eksbuild.1"}, {Name: "kube-proxy", Version: "v1.34.0-eksbuild.2"},
		{Name: "eks-pod-identity-agent", ConfigurationValues: `{"agent":{"additionalArgs":{"-b":"169.254.170.23"}}}`},
	} {
		if errs := CheckAddon(a, "1.34"); len(errs) != 0 {
			t.Errorf("%+v: %v", a, errs[0])
		}
	}
	for _, tc := range []struct {
		a     Addon
		k8s   string
		field AddonField
		want  string
	}{
		{Addon{Name: "aws-ebs-csi-driver"}, "1.34", FieldAddonName, `"aws-ebs-csi-driver" is not an add-on the provider manages; use one of coredns, eks-pod-identity-agent, kube-proxy, vpc-cni`},
		{Addon{Name: "vpc-cni", Version: "1.19.2"}, "1.34", FieldAddonVersion, `"1.19.2" is not an EKS add-on version such as v1.19.2-eksbuild.1`},
		{Addon{Name: "vpc-cni", Version: "v1.19.2-eksbuild.0"}, "1.34", FieldAddonVersion, "not an EKS add-on version"},
		{Addon{Name: "kube-proxy", Version: "v1.33.0-eksbuild.2"}, "1.34", FieldAddonVersion, "kube-proxy v1.33.0-eksbuild.2 is built for Kubernetes 1.33 and the cluster runs 1.34; use a v1.34.x-eksbuild.N version"},
		{Addon{Name: "coredns", ConfigurationValues: `["replicaCount"]`}, "1.34", FieldAddonConfiguration, "must be a JSON object"},
		{Addon{Name: "coredns", ConfigurationValues: `replicaCount: 3`}, "1.34", FieldAddonConfiguration, "must be a JSON object"},
		{Addon{Name: "coredns", ConfigurationValues: `null`}, "1.34", FieldAddonConfiguration, "must be a JSON object"},
	} {
		errs := CheckAddon(tc.a, tc.k8s)
		if len(errs) != 1 || errs[0].Field != tc.field || !strings.Contains(errs[0].Msg, tc.want) {
			t.Errorf("%+v: %v, want one error on field %d containing %q", tc.a, errs, tc.field, tc.want)
		}
	}
	// The Kubernetes version not known yet: kube-proxy's is not checked.
	if errs := CheckAddon(Addon{Name: "kube-proxy", Version: "v1.33.0-eksbuild.2"}, ""); len(errs) != 0 {
		t.Errorf("unknown Kubernetes version: %v", errs)
	}
}

func TestDefaultAddons(t *testing.T) {
	if got := strings.Join(DefaultAddons(true), ","); got != "coredns,eks-pod-identity-agent,kube-proxy,vpc-cni" {
		t.Errorf("with nodes: %s", got)
	}
	if got := strings.Join(DefaultAddons(false), ","); got != "eks-pod-identity-agent,kube-proxy,vpc-cni" {
		t.Errorf("without nodes: %s", got)
	}
	for name, want := range map[string]string{"vpc-cni": "AddonVpcCni", "eks-pod-identity-agent": "AddonEksPodIdentityAgent", "coredns": "AddonCoredns"} {
		if got := AddonLogicalID(name); got != want {
			t.Errorf("AddonLogicalID(%s) = %s", name, got)
		}
	}
}

func testAddons() []Addon {
	return []Addon{
		{Name: "vpc-cni", Version: "v1.21.1-eksbuild.3", ConfigurationValues: `{"env":{"ENABLE_PREFIX_DELEGATION":"true"}}`},
		{Name: "coredns", Version: "v1.12.3-eksbuild.1", ConfigurationValues: `{"replicaCount":3}`},
		{Name: "kube-proxy", Version: "v1.34.0-eksbuild.2"},
		{Name: "eks-pod-identity-agent", Version: "v1.3.10-eksbuild.2"},
	}
}

func TestRenderEKSClusterTemplate_Addons(t *testing.T) {
	body, err := RenderEKSClusterTemplate(testGroups(), testAddons()...)
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string         `yaml:"Type"`
			DependsOn  any            `yaml:"DependsOn"`
			Metadata   map[string]any `yaml:"Metadata"`
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal([]byte(body), &tpl); err != nil {
		t.Fatalf("rendered template is not YAML: %v", err)
	}
	cni := tpl.Resources["AddonVpcCni"]
	if cni.Type != "AWS::EKS::Addon" || dependsOn(cni.DependsOn) != "EKSCluster" || cni.Properties["AddonName"] != "vpc-cni" ||
		cni.Properties["AddonVersion"] != "v1.21.1-eksbuild.3" || cni.Properties["ResolveConflicts"] != "OVERWRITE" || cni.Properties["PreserveOnDelete"] != true ||
		cni.Properties["ConfigurationValues"] != `{"env":{"ENABLE_PREFIX_DELEGATION":"true"}}` || cni.Metadata != nil {
		t.Errorf("AddonVpcCni = %+v", cni)
	}
	dns := tpl.Resources["AddonCoredns"]
	if dependsOn(dns.DependsOn) != "EKSCluster,"+NodeGroupLogicalID("arm_pool-1")+",NodeGroupweb" || dns.Metadata["SelfManagedNodes"] == nil {
		t.Errorf("AddonCoredns depends on %v, metadata %v", dns.DependsOn, dns.Metadata)
	}
	if _, ok := tpl.Resources["AddonKubeProxy"].Properties["ConfigurationValues"]; ok {
		t.Error("kube-proxy has ConfigurationValues without any")
	}
	back, err := AddonsFromTemplate(body)
	if err != nil || len(back) != 4 || back[0] != testAddons()[1] || back[3] != testAddons()[0] {
		t.Errorf("AddonsFromTemplate = %+v %v", back, err)
	}
	groups, err := NodeGroupsFromTemplate(body)
	if err != nil || len(groups) != 2 {
		t.Errorf("node groups next to add-ons: %+v %v", groups, err)
	}
	// Add-ons alone: no managed node role.
	only, err := RenderEKSClusterTemplate(nil, testAddons()[2])
	if err != nil || strings.Contains(only, ManagedNodeRoleLogicalID) || !strings.Contains(only, "AddonKubeProxy:") {
		t.Errorf("add-ons only: %v", err)
	}
	if none, err := AddonsFromTemplate(EKSClusterTemplate()); err != nil || len(none) != 0 {
		t.Errorf("the embedded template's add-ons: %v %v", none, err)
	}
	if _, err := RenderEKSClusterTemplate(nil, Addon{Name: "coredns"}); err == nil {
		t.Error("an add-on without a version was rendered")
	}
	if _, err := AddonsFromTemplate("Resources: [SECRET-LOOKING-TEXT"); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("a bad template: %v", err)
	}
}

func dependsOn(v any) string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

// ResolveAddons against the emulator's DescribeAddonVersions: a version left out becomes
// EKS's default for the Kubernetes version, a pinned one is kept when offered for it and
// refused, naming what is offered, when not.
func TestResolveAddons(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	emu, err := awsemu.Start(awsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = emu.Close() }()
	ak, sk := emu.AddUser("111111111111", "ci")
	role := "arn:aws:iam::222222222222:role/provision"
	emu.AddRole(awsemu.Role{ARN: role, TrustedAccounts: []string{"111111111111"}, ExternalID: "ext-1234", MaxSession: time.Hour})
	f := NewFactory(Config{Region: "us-east-1", AccessKey: ak, SecretKey: sk, Endpoints: Endpoints{STS: emu.URL(), CloudFormation: emu.URL(), EKS: emu.URL()}})
	sess, err := f.Session(ctx, Target{RoleARN: role, ExternalID: "ext-1234", SessionName: "ck-addons"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := sess.ResolveAddons(ctx, []Addon{{Name: "coredns"}, {Name: "kube-proxy"}, {Name: "vpc-cni", Version: "v1.20.4-eksbuild.2"}}, "1.35")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Version != "v1.13.2-eksbuild.1" || got[1].Version != "v1.35.0-eksbuild.2" || got[2].Version != "v1.20.4-eksbuild.2" {
		t.Errorf("resolved %+v", got)
	}
	_, err = sess.ResolveAddons(ctx, []Addon{{Name: "vpc-cni", Version: "v1.19.2-eksbuild.1"}}, "1.35")
	var bad *AddonVersionError
	if !errors.As(err, &bad) || bad.Addon != "vpc-cni" ||
		err.Error() != "EKS does not offer vpc-cni v1.19.2-eksbuild.1 for Kubernetes 1.35; it offers v1.21.1-eksbuild.3, v1.20.4-eksbuild.2" {
		t.Errorf("vpc-cni v1.19 on 1.35: %v", err)
	}
}
