package cloud

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cfn-lint on each variant of the embedded template: with --parameter-files it resolves
// the parameters, the conditions and Fn::If, and checks the resulting properties against
// the resource schemas, so every combination the provider can pass is linted, not only
// the defaults (make lint runs it on the defaults).

// lintVariants are parameter sets the provider can send, beyond the required ones.
var lintVariants = map[string]map[string]any{
	"defaults": {},
	"private endpoint only": {
		"EndpointPublicAccess": "false", "EndpointPrivateAccess": "true",
	},
	"public and private, CIDRs, every log type": {
		"EndpointPrivateAccess": "true", "PublicAccessCidrs": []string{"203.0.113.0/24", "198.51.100.7/32"},
		"LogApi": "true", "LogAudit": "true", "LogAuthenticator": "true", "LogControllerManager": "true", "LogScheduler": "true",
	},
	"secrets encryption": {
		"SecretsKmsKeyArn": "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	},
	"ipv6": {"IpFamily": "ipv6"},
	// An IPv6 cluster's default blocks (dual-stack public endpoint), and EKS's 40 at most.
	"ipv6, dual-stack public blocks": {"IpFamily": "ipv6", "PublicAccessCidrs": []string{"0.0.0.0/0", "::/0", "2001:db8:1234::/48"}},
	"40 public blocks":               {"PublicAccessCidrs": fortyBlocks()},
	// What the provider sends a new cluster: API mode, the provisioning role's admin entry.
	"access entries, API":         {"AuthenticationMode": "API", "ClusterAdminRoleArn": "arn:aws:iam::222222222222:role/clusterkit-provisioner"},
	"access entries and aws-auth": {"AuthenticationMode": "API_AND_CONFIG_MAP", "ClusterAdminRoleArn": "arn:aws:iam::222222222222:role/clusterkit-provisioner"},
	"aws-auth only":               {"AuthenticationMode": "CONFIG_MAP"},
	"no self-managed nodes":       {"NodeCount": "0", "AuthenticationMode": "API"},
	"everything": {
		"EndpointPublicAccess": "false", "EndpointPrivateAccess": "true", "LogAudit": "true",
		"SecretsKmsKeyArn": "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"IpFamily":         "ipv6", "KeyName": "ops", "NodeCount": "1",
		"AuthenticationMode": "API", "ClusterAdminRoleArn": "arn:aws:iam::222222222222:role/path/clusterkit-provisioner",
	},
}

func fortyBlocks() []string {
	out := make([]string, MaxPublicAccessCIDRs)
	for i := range out {
		out[i] = "198.51.100." + strconv.Itoa(i+1) + "/32"
	}
	return out
}

func lintParams(extra map[string]any) []map[string]any {
	p := map[string]any{
		"ClusterName": "ck-lint", "ClusterRoleArn": "arn:aws:iam::222222222222:role/eks-service",
		"VpcId": "vpc-0123456789abcdef0", "SubnetIds": []string{"subnet-0123456789abcdef0", "subnet-0123456789abcdef1"},
		"ControlPlaneSecurityGroupId": "sg-0123456789abcdef0",
		// CloudFormation resolves the SSM path before the launch template sees it; cfn-lint
		// checks the value it is given, so it gets an AMI ID.
		"NodeImageId": "ami-0123456789abcdef0",
	}
	for k, v := range extra {
		p[k] = v
	}
	var out []map[string]any
	for k, v := range p {
		out = append(out, map[string]any{"ParameterKey": k, "ParameterValue": v})
	}
	return out
}

// runCFNLint lints template once with every parameter set (one file each, named after
// its variant): cfn-lint checks each set in the same run.
func runCFNLint(t *testing.T, template string, variants map[string][]map[string]any) (string, error) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--parameter-files"}
	for name, params := range variants {
		pf := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		b, err := json.Marshal(params)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pf, b, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, pf)
	}
	out, err := exec.Command(filepath.Join(pytoolsVenv(t), "bin", "cfn-lint"), append(args, "--", template)...).CombinedOutput()
	return string(out), err
}

func TestEKSClusterTemplate_CFNLintVariants(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("needs cfn-lint from tools/pytools (a Python venv): set TF_ACC=1, as make test and CI do")
	}
	tpl := filepath.Join(t.TempDir(), "eks-cluster.yaml")
	if err := os.WriteFile(tpl, []byte(EKSClusterTemplate()), 0o600); err != nil {
		t.Fatal(err)
	}
	variants := map[string][]map[string]any{}
	for name, extra := range lintVariants {
		variants[name] = lintParams(extra)
	}
	if out, err := runCFNLint(t, tpl, variants); err != nil {
		t.Errorf("cfn-lint on the variants: %v\n%s", err, out)
	}
	// The template with managed node groups (every AMI type, both capacity types, labels
	// and taints), under each parameter variant too, and without the self-managed group.
	groups := testGroups()
	for i, ami := range NodeGroupAMITypes() {
		g := testGroups()[i%2]
		g.Name, g.AMIType = "pool-"+strings.ToLower(ami), ami
		if AMIArch(ami) == "arm64" {
			g.InstanceTypes = []string{"m7g.large", "c7g.large"}
		} else {
			g.InstanceTypes = []string{"t3.large"}
		}
		groups = append(groups, g)
	}
	body, err := RenderEKSClusterTemplate(groups)
	if err != nil {
		t.Fatal(err)
	}
	ngTpl := filepath.Join(t.TempDir(), "eks-cluster-nodegroups.yaml")
	if err := os.WriteFile(ngTpl, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ngVariants := map[string][]map[string]any{"managed node groups only": lintParams(map[string]any{"NodeCount": "0", "AuthenticationMode": "API"})}
	for k, v := range variants {
		ngVariants[k] = v
	}
	if out, err := runCFNLint(t, ngTpl, ngVariants); err != nil {
		t.Errorf("cfn-lint on the template with node groups: %v\n%s", err, out)
	}
	// The template with add-ons: next to the node groups (CoreDNS depends on them), and
	// alone (CoreDNS's conditional wait on the self-managed group), under every variant.
	for name, body := range map[string]func() (string, error){
		"node groups and add-ons": func() (string, error) { return RenderEKSClusterTemplate(groups, testAddons()...) },
		"add-ons only":            func() (string, error) { return RenderEKSClusterTemplate(nil, testAddons()...) },
	} {
		text, err := body()
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "eks-cluster-addons.yaml")
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := runCFNLint(t, f, ngVariants); err != nil {
			t.Errorf("cfn-lint on the template with %s: %v\n%s", name, err, out)
		}
	}
	// The linter does look at the values: a bad one is a finding.
	out, err := runCFNLint(t, tpl, map[string][]map[string]any{"bad ip family": lintParams(map[string]any{"IpFamily": "ipv5"})})
	if err == nil || !strings.Contains(out, "'ipv5' is not one of ['ipv4', 'ipv6']") {
		t.Errorf("cfn-lint on IpFamily=ipv5: %v\n%s", err, out)
	}
}
