package provider

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// configureDirect runs the provider's Configure on a configuration of attrs (string
// values, or a map of them for the assume_role_with_web_identity block and a list of such
// maps for assume_role), and returns what resources would get.
func configureDirect(t *testing.T, attrs map[string]any) (*providerData, []string) {
	t.Helper()
	ctx := context.Background()
	p := &clusterkitProvider{version: "test"}
	var sr provider.SchemaResponse
	p.Schema(ctx, provider.SchemaRequest{}, &sr)
	typ, ok := sr.Schema.Type().TerraformType(ctx).(tftypes.Object)
	if !ok {
		t.Fatal("schema is not an object")
	}
	raw := tftypes.NewValue(typ, objectValues(t, typ, attrs))
	var resp provider.ConfigureResponse
	p.Configure(ctx, provider.ConfigureRequest{Config: tfsdk.Config{Schema: sr.Schema, Raw: raw}}, &resp)
	var diags []string
	for _, d := range resp.Diagnostics {
		diags = append(diags, d.Severity().String()+": "+d.Summary()+" | "+d.Detail())
	}
	data, _ := resp.ResourceData.(*providerData)
	return data, diags
}

func objectValues(t *testing.T, typ tftypes.Object, attrs map[string]any) map[string]tftypes.Value {
	t.Helper()
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		vals[name] = tftypes.NewValue(at, nil)
		v, ok := attrs[name]
		if !ok {
			continue
		}
		switch v := v.(type) {
		case string:
			vals[name] = tftypes.NewValue(tftypes.String, v)
		case bool:
			vals[name] = tftypes.NewValue(tftypes.Bool, v)
		case []string:
			var elems []tftypes.Value
			for _, s := range v {
				elems = append(elems, tftypes.NewValue(tftypes.String, s))
			}
			vals[name] = tftypes.NewValue(at, elems)
		case map[string]any:
			ot := at.(tftypes.Object)
			vals[name] = tftypes.NewValue(ot, objectValues(t, ot, v))
		case []map[string]any:
			ot := at.(tftypes.List).ElementType.(tftypes.Object)
			var elems []tftypes.Value
			for _, m := range v {
				elems = append(elems, tftypes.NewValue(ot, objectValues(t, ot, m)))
			}
			vals[name] = tftypes.NewValue(at, elems)
		default:
			t.Fatalf("unsupported value for %s: %T", name, v)
		}
	}
	return vals
}

func clearAWSEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			_ = os.Unsetenv(k)
		}
	}
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "credentials"))
	return home
}

func writeAuthFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The region eks_cluster plans with comes from the profile when region is unset (before:
// only region, AWS_REGION and AWS_DEFAULT_REGION counted, and a plan failed with "No AWS
// region"); each source in the AWS provider's order.
func TestProviderAuth_RegionSource(t *testing.T) {
	home := clearAWSEnv(t)
	writeAuthFile(t, filepath.Join(home, "config"), "[default]\nregion = eu-central-1\n[profile ops]\nregion = ap-south-1\n")
	tfc := writeAuthFile(t, filepath.Join(home, "tfc"), "[default]\nregion = sa-east-1\n")
	cases := []struct {
		name  string
		attrs map[string]any
		env   map[string]string
		want  string
	}{
		{"region wins", map[string]any{"region": "us-west-2", "profile": "ops"}, map[string]string{"AWS_REGION": "eu-west-1"}, "us-west-2"},
		{"AWS_REGION over the profile", map[string]any{"profile": "ops"}, map[string]string{"AWS_REGION": "eu-west-1"}, "eu-west-1"},
		{"AWS_DEFAULT_REGION over the profile", map[string]any{"profile": "ops"}, map[string]string{"AWS_DEFAULT_REGION": "eu-north-1"}, "eu-north-1"},
		{"profile's region", map[string]any{"profile": "ops"}, nil, "ap-south-1"},
		{"AWS_PROFILE's region", nil, map[string]string{"AWS_PROFILE": "ops"}, "ap-south-1"},
		{"default profile's region", nil, nil, "eu-central-1"},
		{"shared_config_files", map[string]any{"shared_config_files": []string{tfc}}, nil, "sa-east-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			data, diags := configureDirect(t, c.attrs)
			if len(diags) != 0 || data == nil || data.region != c.want {
				t.Fatalf("region %v, diagnostics %q; want %q", data, diags, c.want)
			}
		})
	}
	t.Run("profile that does not exist", func(t *testing.T) {
		_, diags := configureDirect(t, map[string]any{"profile": "nope"})
		if len(diags) != 1 || !strings.HasPrefix(diags[0], "Error: Invalid AWS profile | the provider's AWS credentials could not be obtained: loading profile nope of the shared configuration failed: it is in none of the shared configuration files (") {
			t.Fatalf("diagnostics %q", diags)
		}
	})
	t.Run("AWS_PROFILE that does not exist only warns", func(t *testing.T) {
		t.Setenv("AWS_PROFILE", "nope")
		data, diags := configureDirect(t, nil)
		if data == nil || len(diags) != 1 || !strings.HasPrefix(diags[0], "Warning: AWS profile could not be read") {
			t.Fatalf("diagnostics %q", diags)
		}
	})
}

// assume_role_with_web_identity: each attribute wins over its variable, the variables
// fill what the block leaves out, and a block without role or token is one diagnostic each.
func TestProviderAuth_WebIdentitySettings(t *testing.T) {
	clearAWSEnv(t)
	ctx := context.Background()
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::111111111111:role/from-env")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/env/token")
	t.Setenv("AWS_ROLE_SESSION_NAME", "env-session")
	m := providerModel{AssumeRoleWithWebIdentity: &webIdentityModel{}}
	c := awsConfig(ctx, m)
	if w := c.WebIdentity; w == nil || w.RoleARN != "arn:aws:iam::111111111111:role/from-env" || w.TokenFile != "/env/token" || w.SessionName != "env-session" {
		t.Fatalf("from the environment: %+v", c.WebIdentity)
	}
	data, diags := configureDirect(t, map[string]any{"region": "us-east-1", "assume_role_with_web_identity": map[string]any{
		"role_arn": "arn:aws:iam::111111111111:role/from-config", "web_identity_token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "session_name": "cfg"}})
	if len(diags) != 0 || data == nil {
		t.Fatalf("diagnostics %q", diags)
	}
	t.Setenv("AWS_ROLE_ARN", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
	_, diags = configureDirect(t, map[string]any{"assume_role_with_web_identity": map[string]any{}})
	want := []string{
		"Error: Missing web identity role | assume_role_with_web_identity needs role_arn, or AWS_ROLE_ARN in the environment.",
		"Error: Missing web identity token | assume_role_with_web_identity needs web_identity_token or web_identity_token_file, or AWS_WEB_IDENTITY_TOKEN_FILE in the environment.",
	}
	if strings.Join(diags, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diagnostics\n got %q\nwant %q", diags, want)
	}
}

// Chained assume_role blocks reach cloud.Config in order with every option; role_arn is
// required in each block (an empty block is Terraform's "Missing required argument").
func TestProviderAuth_AssumeRoleChain(t *testing.T) {
	clearAWSEnv(t)
	data, diags := configureDirect(t, map[string]any{"region": "us-east-1", "assume_role": []map[string]any{
		{"role_arn": "arn:aws:iam::111111111111:role/a", "session_name": "one", "duration": "30m", "source_identity": "alice",
			"policy": `{"Version":"2012-10-17","Statement":[]}`, "policy_arns": []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}},
		{"role_arn": "arn:aws:iam::222222222222:role/b", "external_id": "ext-1"},
	}})
	if len(diags) != 0 || data == nil {
		t.Fatalf("diagnostics %q", diags)
	}
	var sr provider.SchemaResponse
	(&clusterkitProvider{}).Schema(context.Background(), provider.SchemaRequest{}, &sr)
	if a := sr.Schema.Blocks["assume_role"].GetNestedObject().GetAttributes()["role_arn"]; !a.IsRequired() {
		t.Fatal("assume_role.role_arn is not required: an empty assume_role block would be ignored")
	}
	for _, name := range []string{"secret_key", "token", "access_key"} {
		if !sr.Schema.Attributes[name].IsSensitive() {
			t.Errorf("%s is not sensitive", name)
		}
	}
	if !sr.Schema.Blocks["assume_role_with_web_identity"].GetNestedObject().GetAttributes()["web_identity_token"].IsSensitive() {
		t.Error("web_identity_token is not sensitive")
	}
}
