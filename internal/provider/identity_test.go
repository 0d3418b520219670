package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

// Protocol tests: the provider's server in process, as a CLI would call it.

// identityForImport is how an identity attribute may be given in an import block.
func identityForImport(a *tfprotov6.ResourceIdentitySchemaAttribute) string {
	switch {
	case a.RequiredForImport && !a.OptionalForImport:
		return "required"
	case a.OptionalForImport && !a.RequiredForImport:
		return "optional"
	}
	return "invalid"
}

func TestResourceIdentitySchemas(t *testing.T) {
	server := newTestServer(t)
	resp, err := server.GetResourceIdentitySchemas(context.Background(), &tfprotov6.GetResourceIdentitySchemasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Diagnostics) > 0 {
		t.Fatalf("diagnostics: %q", diagStrings(resp.Diagnostics))
	}
	schemas, err := server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"clusterkit_eks_cluster":         {"account_id": "required", "region": "optional", "name": "required"},
		"clusterkit_cluster_integration": {"host": "required", "service_account_namespace": "optional", "service_account_name": "optional"},
		"clusterkit_managed_app":         {"host": "optional", "namespace": "required", "name": "required"},
	}
	for typ, attrs := range want {
		s, ok := resp.IdentitySchemas[typ]
		if !ok {
			t.Errorf("%s has no identity schema", typ)
			continue
		}
		if s.Version != 0 {
			t.Errorf("%s identity schema version %d, want 0", typ, s.Version)
		}
		got := map[string]string{}
		for _, a := range s.IdentityAttributes {
			got[a.Name] = identityForImport(a)
			if !a.Type.Is(tftypes.String) {
				t.Errorf("%s identity %s is %s, want a string", typ, a.Name, a.Type)
			}
			if strings.TrimSpace(a.Description) == "" {
				t.Errorf("%s identity %s has no description", typ, a.Name)
			}
		}
		if strings.Join(sortedKeyValues(got), " ") != strings.Join(sortedKeyValues(attrs), " ") {
			t.Errorf("%s identity attributes %v, want %v", typ, got, attrs)
		}
		// Nothing secret: no identity attribute shares a name with a sensitive attribute,
		// and none is named like a credential.
		for _, a := range schemas.ResourceSchemas[typ].Block.Attributes {
			if _, inIdentity := got[a.Name]; inIdentity && a.Sensitive {
				t.Errorf("%s identity holds %s, which is sensitive", typ, a.Name)
			}
		}
		for name := range got {
			if regexp.MustCompile(`token|secret|password|external_id|key|certificate`).MatchString(name) {
				t.Errorf("%s identity attribute %s looks like a credential", typ, name)
			}
		}
	}
}

func sortedKeyValues(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// importServer is a provider server configured with region eu-west-1 (the default of an
// identity without region), and the resource type's state and identity types.
func importServer(t *testing.T, typ string) (tfprotov6.ProviderServer, tftypes.Type, tftypes.Type) {
	t.Helper()
	server := newTestServer(t)
	resp, err := server.ConfigureProvider(context.Background(), &tfprotov6.ConfigureProviderRequest{
		Config: providerConfig(t, server, map[string]tftypes.Value{"region": tftypes.NewValue(tftypes.String, "eu-west-1")}, nil)})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("configure: %v %q", err, diagStrings(resp.Diagnostics))
	}
	schemas, err := server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := server.GetResourceIdentitySchemas(context.Background(), &tfprotov6.GetResourceIdentitySchemasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return server, schemas.ResourceSchemas[typ].ValueType(), ids.IdentitySchemas[typ].ValueType()
}

// importResult is what one ImportResourceState call gave: chosen state attributes and the
// identity, as strings ("<null>" for null), or the diagnostics.
type importResult struct {
	state    map[string]string
	identity map[string]string
	diags    []string
}

func callImport(t *testing.T, server tfprotov6.ProviderServer, typ string, stateType, identityType tftypes.Type, id string, identity map[string]any, stateAttrs ...string) importResult {
	t.Helper()
	req := &tfprotov6.ImportResourceStateRequest{TypeName: typ, ID: id}
	if identity != nil {
		vals := map[string]tftypes.Value{}
		for name := range identityType.(tftypes.Object).AttributeTypes {
			vals[name] = tftypes.NewValue(tftypes.String, identity[name]) // nil: null
		}
		dv, err := tfprotov6.NewDynamicValue(identityType, tftypes.NewValue(identityType, vals))
		if err != nil {
			t.Fatal(err)
		}
		req.Identity = &tfprotov6.ResourceIdentityData{IdentityData: &dv}
	}
	resp, err := server.ImportResourceState(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	res := importResult{diags: diagStrings(resp.Diagnostics)}
	if len(resp.Diagnostics) > 0 {
		return res
	}
	if len(resp.ImportedResources) != 1 {
		t.Fatalf("%d imported resources, want 1", len(resp.ImportedResources))
	}
	r := resp.ImportedResources[0]
	res.state = objectStrings(t, r.State, stateType, stateAttrs)
	if r.Identity == nil || r.Identity.IdentityData == nil {
		t.Fatal("the import returned no identity")
	}
	var names []string
	for name := range identityType.(tftypes.Object).AttributeTypes {
		names = append(names, name)
	}
	res.identity = objectStrings(t, r.Identity.IdentityData, identityType, names)
	return res
}

func objectStrings(t *testing.T, dv *tfprotov6.DynamicValue, typ tftypes.Type, names []string) map[string]string {
	t.Helper()
	v, err := dv.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]tftypes.Value
	if err := v.As(&obj); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, name := range names {
		var s *string
		if err := obj[name].As(&s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = "<null>"
		if s != nil {
			out[name] = *s
		}
	}
	return out
}

func sameStrings(a, b map[string]string) bool {
	return strings.Join(sortedKeyValues(a), " ") == strings.Join(sortedKeyValues(b), " ")
}

// importCase is one ImportResourceState call: by id or identity, and either the state
// attributes and identity it gives or its diagnostic.
type importCase struct {
	name         string
	id           string
	identity     map[string]any
	state        map[string]string
	wantIdentity map[string]string
	diag         string
}

// runImportCases imports each case into a fresh call and compares stateAttrs and the
// identity, or the diagnostics.
func runImportCases(t *testing.T, typ string, cases []importCase, stateAttrs ...string) {
	t.Helper()
	server, stateType, identityType := importServer(t, typ)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := callImport(t, server, typ, stateType, identityType, c.id, c.identity, stateAttrs...)
			if c.diag != "" {
				if strings.Join(got.diags, "\n") != c.diag {
					t.Fatalf("diagnostics %q, want %q", got.diags, c.diag)
				}
				return
			}
			if len(got.diags) > 0 {
				t.Fatalf("diagnostics %q", got.diags)
			}
			if !sameStrings(got.state, c.state) {
				t.Errorf("state %v, want %v", got.state, c.state)
			}
			if !sameStrings(got.identity, c.wantIdentity) {
				t.Errorf("identity %v, want %v", got.identity, c.wantIdentity)
			}
		})
	}
}

func TestEKSClusterImport_IdentityAndID(t *testing.T) {
	const typ = "clusterkit_eks_cluster"
	cases := []importCase{
		{name: "identity", identity: map[string]any{"account_id": "222222222222", "region": "us-east-1", "name": "shop-production"},
			state:        map[string]string{"id": "us-east-1/shop-production", "region": "us-east-1", "name": "shop-production", "provision_role_arn": "<null>"},
			wantIdentity: map[string]string{"account_id": "222222222222", "region": "us-east-1", "name": "shop-production"}},
		{name: "identity without region takes the provider's", identity: map[string]any{"account_id": "222222222222", "name": "shop-production"},
			state:        map[string]string{"id": "eu-west-1/shop-production", "region": "eu-west-1", "name": "shop-production", "provision_role_arn": "<null>"},
			wantIdentity: map[string]string{"account_id": "222222222222", "region": "eu-west-1", "name": "shop-production"}},
		{name: "ID with the account", id: "222222222222/us-east-1/shop-production",
			state:        map[string]string{"id": "us-east-1/shop-production", "region": "us-east-1", "name": "shop-production", "provision_role_arn": "<null>"},
			wantIdentity: map[string]string{"account_id": "222222222222", "region": "us-east-1", "name": "shop-production"}},
		{name: "ID without the account", id: "us-east-1/shop-production",
			state:        map[string]string{"id": "us-east-1/shop-production", "region": "us-east-1", "name": "shop-production", "provision_role_arn": "<null>"},
			wantIdentity: map[string]string{"account_id": "<null>", "region": "us-east-1", "name": "shop-production"}},
		{name: "bad identity", identity: map[string]any{"account_id": "2222", "region": "Europe", "name": "shop_production"},
			diag: `Invalid import identity | account_id must be a 12-digit AWS account ID, got "2222"; region must be an AWS region such as eu-west-1, got "Europe"; name must be an EKS cluster name (a letter, then letters, digits and hyphens), got "shop_production".`},
		{name: "bad ID", id: "2222/us-east-1/shop-production",
			diag: `Invalid import ID | Expected <region>/<stack name> or <account ID>/<region>/<stack name>, e.g. eu-west-1/shop-production or 222222222222/eu-west-1/shop-production; got "2222/us-east-1/shop-production".`},
	}
	runImportCases(t, typ, cases, "id", "region", "name", "provision_role_arn")
}

func TestClusterIntegrationImport_IdentityAndID(t *testing.T) {
	const typ = "clusterkit_cluster_integration"
	const host = "https://k8s.example.com:6443"
	cases := []importCase{
		{name: "identity", identity: map[string]any{"host": host, "service_account_namespace": "platform", "service_account_name": "ci"},
			state:        map[string]string{"id": "platform/ci@" + host, "host": host, "service_account_namespace": "platform", "service_account_name": "ci", "token": "<null>"},
			wantIdentity: map[string]string{"host": host, "service_account_namespace": "platform", "service_account_name": "ci"}},
		{name: "identity with the defaults", identity: map[string]any{"host": host},
			state:        map[string]string{"id": "kube-system/clusterkit@" + host, "host": host, "service_account_namespace": "kube-system", "service_account_name": "clusterkit", "token": "<null>"},
			wantIdentity: map[string]string{"host": host, "service_account_namespace": "kube-system", "service_account_name": "clusterkit"}},
		{name: "ID", id: "platform/ci@" + host,
			state:        map[string]string{"id": "platform/ci@" + host, "host": host, "service_account_namespace": "platform", "service_account_name": "ci", "token": "<null>"},
			wantIdentity: map[string]string{"host": host, "service_account_namespace": "platform", "service_account_name": "ci"}},
		{name: "bad identity", identity: map[string]any{"host": "k8s.example.com", "service_account_namespace": "Platform", "service_account_name": "ci"},
			diag: `Invalid import identity | host: invalid cluster URL: scheme is missing; use "https://host[:port]"; service_account_namespace: "Platform" is not a DNS-1123 label (lower case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters).`},
		{name: "bad ID", id: "clusterkit@" + host,
			diag: `Invalid import ID | Expected <service_account_namespace>/<service_account_name>@<host>, e.g. kube-system/clusterkit@https://k8s.example.com:6443; got "clusterkit@https://k8s.example.com:6443".`},
	}
	runImportCases(t, typ, cases, "id", "host", "service_account_namespace", "service_account_name", "token")
}

func TestRoleAccount(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:iam::222222222222:role/clusterkit-provisioner":     "222222222222",
		"arn:aws-cn:iam::123456789012:role/path/to/role":            "123456789012",
		"arn:aws:iam::22222222222:role/short":                       "",
		"arn:aws:sts::222222222222:assumed-role/clusterkit/session": "",
		"222222222222": "",
		"":             "",
		"arn:aws:eks:us-east-1:222222222222:cluster/shop-production/x": "",
	} {
		if got := roleAccount(arn); got != want {
			t.Errorf("roleAccount(%q) = %q, want %q", arn, got, want)
		}
	}
}

// The import-by-identity acceptance tests need a CLI with resource identity: OpenTofu >=
// 1.12 or Terraform >= 1.12. CI's Terraform is 1.11, so they skip under it (saying so,
// through tfversion.SkipBelow) and must run under OpenTofu, which is 1.12.6 here: this
// checks that no OpenTofu lane leaves them out and that the pinned OpenTofu has identity.
var identityAccTests = []string{"TestAccEKSCluster_ImportByIdentity", "TestAccClusterIntegration_ImportByIdentity", "TestAccManagedApp_ImportByIdentity"}

func TestImportByIdentityTestsRunUnderOpenTofu(t *testing.T) {
	mk, err := os.ReadFile("../../GNUmakefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"FAULT_TESTS", "TOFU_SKIP"} {
		m := regexp.MustCompile(`(?m)^` + v + ` \?*:?= *(.*)$`).FindSubmatch(mk)
		if m == nil {
			t.Fatalf("GNUmakefile sets no %s", v)
		}
		pattern := strings.TrimSpace(string(m[1]))
		if pattern == "" {
			continue
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			t.Fatalf("%s = %q: %v", v, pattern, err)
		}
		for _, name := range identityAccTests {
			if re.MatchString(name) {
				t.Errorf("%s (%s) leaves %s out of the OpenTofu run (testacc-tofu-main), the only CI run with resource identity", v, pattern, name)
			}
		}
	}
	mod, err := os.ReadFile("../../tools/tofu/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github\.com/opentofu/opentofu v1\.(\d+)\.`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("tools/tofu/go.mod pins no OpenTofu v1.x")
	}
	if minor, _ := strconv.Atoi(string(m[1])); minor < 12 {
		t.Errorf("tools/tofu builds OpenTofu 1.%d; import blocks by identity need 1.12", minor)
	}
}

// needsResourceIdentity is the TerraformVersionChecks of the import-by-identity acceptance
// tests: import blocks with identity need OpenTofu >= 1.12 (this suite's 1.12.6) or
// Terraform >= 1.12. Under CI's Terraform 1.11 (only with TERRAFORM_RUN=., since the
// Terraform run's allow-list does not name them) they skip saying so; the OpenTofu run
// always runs them (TestImportByIdentityTestsRunUnderOpenTofu).
var needsResourceIdentity = []tfversion.TerraformVersionCheck{identityCLICheck{}}

type identityCLICheck struct{}

func (identityCLICheck) CheckTerraformVersion(_ context.Context, req tfversion.CheckTerraformVersionRequest, resp *tfversion.CheckTerraformVersionResponse) {
	if req.TerraformVersion.Core().LessThan(tfversion.Version1_12_0) {
		resp.Skip = fmt.Sprintf("import blocks by identity need OpenTofu or Terraform >= 1.12, and this run's CLI is %s; the OpenTofu run (make testacc-tofu-main, OpenTofu 1.12.6) runs this test", accCLI)
	}
}

// The import examples of the docs import through the provider: the ID of
// import-by-string-id.tf and the identity of import-by-identity.hcl (not a .tf file, as
// Terraform 1.11 would not validate it) are accepted and name the same object.
func TestImportExamples(t *testing.T) {
	for typ, state := range map[string][]string{
		"clusterkit_eks_cluster":         {"id", "region", "name"},
		"clusterkit_cluster_integration": {"id", "host", "service_account_namespace", "service_account_name"},
		"clusterkit_managed_app":         {"id", "namespace", "name"},
	} {
		t.Run(typ, func(t *testing.T) {
			dir := "../../examples/resources/" + typ + "/"
			server, stateType, identityType := importServer(t, typ)
			byID, err := os.ReadFile(dir + "import-by-string-id.tf")
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`(?m)^\s*to\s*=\s*` + typ + `\.\w+\s*\n\s*id\s*=\s*"([^"]+)"`).FindSubmatch(byID)
			if m == nil {
				t.Fatalf("import-by-string-id.tf has no import block to %s with an id:\n%s", typ, byID)
			}
			fromID := callImport(t, server, typ, stateType, identityType, string(m[1]), nil, state...)
			byIdentity, err := os.ReadFile(dir + "import-by-identity.hcl")
			if err != nil {
				t.Fatal(err)
			}
			block := regexp.MustCompile(`(?s)to\s*=\s*` + typ + `\.\w+\s*\n\s*identity\s*=\s*\{(.*?)\n\s*\}`).FindSubmatch(byIdentity)
			if block == nil {
				t.Fatalf("import-by-identity.hcl has no import block to %s with an identity:\n%s", typ, byIdentity)
			}
			identity := map[string]any{}
			for _, kv := range regexp.MustCompile(`(?m)^\s*(\w+)\s*=\s*"([^"]*)"`).FindAllSubmatch(block[1], -1) {
				if _, ok := identityType.(tftypes.Object).AttributeTypes[string(kv[1])]; !ok {
					t.Errorf("import-by-identity.hcl sets %s, which is not an identity attribute", kv[1])
				}
				identity[string(kv[1])] = string(kv[2])
			}
			fromIdentity := callImport(t, server, typ, stateType, identityType, "", identity, state...)
			if len(fromID.diags)+len(fromIdentity.diags) > 0 {
				t.Fatalf("diagnostics: by ID %q, by identity %q", fromID.diags, fromIdentity.diags)
			}
			if !sameStrings(fromID.state, fromIdentity.state) || !sameStrings(fromID.identity, fromIdentity.identity) {
				t.Errorf("the examples import different objects:\nby ID       %v %v\nby identity %v %v", fromID.state, fromID.identity, fromIdentity.state, fromIdentity.identity)
			}
		})
	}
}
