package provider

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// Protocol tests of the clusterkit_eks_cluster data source: its schema, its validation and
// its read, through the provider's protocol server as Terraform calls it; the read against
// the AWS emulator (local, in process: no Kubernetes and no CLI needed).

const eksDataSource = "clusterkit_eks_cluster"

// The data source takes the resource's arguments under the resource's names and rules, and
// exports cluster_connection with exactly the resource's type, so the one can stand in for
// the other wherever a cluster_connection is taken.
func TestEKSClusterDataSource_SchemaMirrorsTheResource(t *testing.T) {
	srv := newTestServer(t)
	resp, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("schema: %v %v", err, resp.Diagnostics)
	}
	ds, ok := resp.DataSourceSchemas[eksDataSource]
	if !ok {
		t.Fatalf("%s missing; data sources: %v", eksDataSource, keys(resp.DataSourceSchemas))
	}
	res := resp.ResourceSchemas[eksDataSource]
	attrs := func(s *tfprotov6.Schema) map[string]*tfprotov6.SchemaAttribute {
		out := map[string]*tfprotov6.SchemaAttribute{}
		for _, a := range s.Block.Attributes {
			out[a.Name] = a
		}
		return out
	}
	dsAttrs, resAttrs := attrs(ds), attrs(res)
	for name, a := range dsAttrs {
		if strings.TrimSpace(a.Description) == "" {
			t.Errorf("%s.%s has no description", eksDataSource, name)
		}
		if a.NestedType != nil {
			for _, n := range a.NestedType.Attributes {
				if strings.TrimSpace(n.Description) == "" {
					t.Errorf("%s.%s.%s has no description", eksDataSource, name, n.Name)
				}
			}
		}
	}
	var args []string
	for name, a := range dsAttrs {
		if a.Required || a.Optional {
			args = append(args, name)
		}
	}
	for _, name := range []string{"name", "region", "provision_role_arn", "external_id", "session_name"} {
		d, r := dsAttrs[name], resAttrs[name]
		if d == nil || r == nil || d.Required != r.Required || d.Optional != r.Optional || d.Sensitive != r.Sensitive || !d.ValueType().Equal(r.ValueType()) {
			t.Errorf("argument %s: data source %+v, resource %+v", name, d, r)
		}
	}
	if len(args) != 5 {
		t.Errorf("arguments %v, want name, region, provision_role_arn, external_id, session_name", args)
	}
	if !dsAttrs["external_id"].Sensitive {
		t.Error("external_id is not sensitive")
	}
	// Results the resource also has: the same names and types.
	for _, name := range []string{"id", "endpoint", "certificate_authority_data", "cluster_arn", "kubernetes_version", "cluster_role_arn", "subnet_ids",
		"endpoint_public_access", "endpoint_private_access", "public_access_cidrs", "enabled_log_types", "secrets_kms_key_arn", "ip_family",
		"service_ipv4_cidr", "tags", "cluster_connection"} {
		d, r := dsAttrs[name], resAttrs[name]
		if d == nil || r == nil || !d.ValueType().Equal(r.ValueType()) {
			t.Errorf("%s: data source %v, resource %v", name, d, r)
			continue
		}
		if !d.Computed || d.Required || d.Optional {
			t.Errorf("%s is not a computed result", name)
		}
	}
	conn := dsAttrs["cluster_connection"].NestedType
	sensitive := map[string]bool{}
	for _, a := range conn.Attributes {
		sensitive[a.Name] = a.Sensitive
		if a.NestedType != nil {
			for _, n := range a.NestedType.Attributes {
				sensitive[a.Name+"."+n.Name] = n.Sensitive
			}
		}
	}
	if !sensitive["token"] || !sensitive["eks.external_id"] || sensitive["host"] || sensitive["eks.role_arn"] {
		t.Errorf("cluster_connection sensitivity %v", sensitive)
	}
}

// Bad arguments are refused at validation with the resource's own diagnostic, one each, and
// a sensitive value is never repeated.
func TestEKSClusterDataSource_Validation(t *testing.T) {
	ctx := context.Background()
	srv := newTestServer(t)
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || len(schemas.Diagnostics) > 0 {
		t.Fatalf("schema: %v %v", err, schemas.Diagnostics)
	}
	valid := map[string]tftypes.Value{
		"name": str("shop"), "provision_role_arn": str("arn:aws:iam::222222222222:role/p"), "external_id": str("ext-123"),
	}
	validate := func(kind string, attrs map[string]tftypes.Value) []*tfprotov6.Diagnostic {
		if kind == "data" {
			resp, err := srv.ValidateDataResourceConfig(ctx, &tfprotov6.ValidateDataResourceConfigRequest{TypeName: eksDataSource,
				Config: sweepConfig(t, schemas.DataSourceSchemas[eksDataSource], attrs)})
			if err != nil {
				t.Fatal(err)
			}
			return resp.Diagnostics
		}
		resp, err := srv.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: eksDataSource,
			Config: sweepConfig(t, schemas.ResourceSchemas[eksDataSource], attrs)})
		if err != nil {
			t.Fatal(err)
		}
		var own []*tfprotov6.Diagnostic // the resource's other required attributes are null here
		for _, d := range resp.Diagnostics {
			if d.Attribute != nil && attrs[string(d.Attribute.Steps()[0].(tftypes.AttributeName))].Type() != nil {
				own = append(own, d)
			}
		}
		return own
	}
	if d := validate("data", valid); len(d) != 0 {
		t.Fatalf("a valid configuration: %q", diagStrings(d))
	}
	for _, tc := range []struct {
		attr, value, mustSay string
		secret               bool
	}{
		{"name", "1-bad", "start with a letter", false},
		{"name", "", "name", false},
		{"region", "mars", "must be an AWS region such as eu-west-1", false},
		{"provision_role_arn", "arn:aws:iam::1:user/x", "IAM role ARN", false},
		{"external_id", "Z", "external_id", true},
		{"external_id", "s3cr3t value!", "external_id", true},
		{"session_name", "has spaces", "session_name", false},
	} {
		t.Run(tc.attr+"="+tc.value, func(t *testing.T) {
			attrs := map[string]tftypes.Value{}
			for k, v := range valid {
				attrs[k] = v
			}
			attrs[tc.attr] = str(tc.value)
			got := validate("data", attrs)
			if len(got) != 1 {
				t.Fatalf("%d diagnostics, want 1: %q", len(got), diagStrings(got))
			}
			text := diagStrings(got)[0]
			if !strings.Contains(text, tc.mustSay) || got[0].Severity != tfprotov6.DiagnosticSeverityError {
				t.Errorf("diagnostic %q does not say %q", text, tc.mustSay)
			}
			if tc.secret && strings.Contains(text, tc.value) {
				t.Errorf("diagnostic %q repeats the external ID", text)
			}
			// The resource says the same of the same value: the rules are the resource's.
			want := validate("resource", map[string]tftypes.Value{tc.attr: str(tc.value)})
			if len(want) != 1 || diagStrings(want)[0] != text {
				t.Errorf("the resource says %q, the data source %q", diagStrings(want), text)
			}
		})
	}
}

// emulatorProvider is a configured protocol server on the emulator, and a cloud session on
// the emulator's customer role for making clusters "in another workspace".
func emulatorProvider(t *testing.T) (*awsemu.Emulator, tfprotov6.ProviderServer, *tfprotov6.Schema, *cloud.Session) {
	t.Helper()
	ctx := context.Background()
	emu, err := awsemu.Start(awsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	key, secret := emu.AddUser("111111111111", "platform")
	emu.AddRole(awsemu.Role{ARN: "arn:aws:iam::222222222222:role/provisioner", TrustedAccounts: []string{"111111111111"}, ExternalID: "ext-unit-1"})
	srv := newTestServer(t)
	resp, err := srv.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: providerConfig(t, srv, map[string]tftypes.Value{
		"region": str("us-east-1"), "access_key": str(key), "secret_key": str(secret), "allow_local_requests": tftypes.NewValue(tftypes.Bool, true),
	}, map[string]string{"sts": emu.URL(), "cloudformation": emu.URL(), "eks": emu.URL()})})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("configure: %v %q", err, diagStrings(resp.Diagnostics))
	}
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	f := cloud.NewFactory(cloud.Config{Region: "us-east-1", AccessKey: key, SecretKey: secret,
		Endpoints: cloud.Endpoints{STS: emu.URL(), CloudFormation: emu.URL(), EKS: emu.URL()}})
	sess, err := f.Session(ctx, cloud.Target{RoleARN: "arn:aws:iam::222222222222:role/provisioner", ExternalID: "ext-unit-1", SessionName: "other-workspace"})
	if err != nil {
		t.Fatal(err)
	}
	return emu, srv, schemas.DataSourceSchemas[eksDataSource], sess
}

func readEKSDataSource(t *testing.T, srv tfprotov6.ProviderServer, s *tfprotov6.Schema, attrs map[string]tftypes.Value) (map[string]tftypes.Value, []*tfprotov6.Diagnostic) {
	t.Helper()
	typ := s.ValueType()
	cfg, err := tfprotov6.NewDynamicValue(typ, objectOf(t, s, attrs))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.ReadDataSource(context.Background(), &tfprotov6.ReadDataSourceRequest{TypeName: eksDataSource, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	if resp.State == nil {
		return nil, resp.Diagnostics
	}
	v, err := resp.State.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tftypes.Value{}
	if v.IsNull() {
		return nil, resp.Diagnostics
	}
	if err := v.As(&out); err != nil {
		t.Fatal(err)
	}
	return out, resp.Diagnostics
}

func tfString(t *testing.T, v tftypes.Value) string {
	t.Helper()
	var s *string
	if err := v.As(&s); err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return "<null>"
	}
	return *s
}

func TestEKSClusterDataSource_Read(t *testing.T) {
	ctx := context.Background()
	emu, srv, s, sess := emulatorProvider(t)
	const name = "ck-ds-unit"
	emu.SetStackScript(name, awsemu.StackScript{StepDelay: 5 * time.Millisecond})
	ami, _ := cloud.NodeAMIParameter("1.35")
	id, err := sess.CreateStack(ctx, cloud.StackSpec{Name: name, TemplateBody: cloud.EKSClusterTemplate(), Parameters: map[string]string{
		"ClusterName": name, "ClusterRoleArn": "arn:aws:iam::222222222222:role/eks-service", "KubernetesVersion": "1.35",
		"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
		"ControlPlaneSecurityGroupId": "sg-0123456789abcdef0", "NodeImageId": ami,
		"EndpointPrivateAccess": "true", "PublicAccessCidrs": "203.0.113.0/24", "LogAudit": "true", "LogApi": "true",
	}, Tags: map[string]string{"team": "platform"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.WaitStack(ctx, id, cloud.OpCreate, cloud.WaitOptions{Backoff: cloud.Backoff{First: 10 * time.Millisecond, Max: 50 * time.Millisecond, Factor: 2}}); err != nil {
		t.Fatal(err)
	}
	want, err := sess.FindCluster(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]tftypes.Value{"name": str(name), "provision_role_arn": str("arn:aws:iam::222222222222:role/provisioner"), "external_id": str("ext-unit-1")}

	t.Run("found", func(t *testing.T) {
		st, diags := readEKSDataSource(t, srv, s, args)
		if len(diags) != 0 {
			t.Fatalf("diagnostics %q", diagStrings(diags))
		}
		for attr, value := range map[string]string{
			"id": "us-east-1/" + name, "region": "us-east-1", "session_name": "clusterkit-" + name,
			"endpoint": want.Endpoint, "certificate_authority_data": base64.StdEncoding.EncodeToString(want.CAPEM),
			"cluster_arn": "arn:aws:eks:us-east-1:222222222222:cluster/" + name, "kubernetes_version": "1.35", "status": "ACTIVE",
			"platform_version": "eks.1", "oidc_issuer_url": want.OIDCIssuer, "cluster_role_arn": "arn:aws:iam::222222222222:role/eks-service",
			"secrets_kms_key_arn": "<null>", "ip_family": "ipv4", "service_ipv4_cidr": "172.20.0.0/16", "service_ipv6_cidr": "<null>",
		} {
			if got := tfString(t, st[attr]); got != value {
				t.Errorf("%s = %q, want %q", attr, got, value)
			}
		}
		if ts, err := time.Parse(time.RFC3339, tfString(t, st["created_at"])); err != nil || time.Since(ts) > time.Minute {
			t.Errorf("created_at %s (%v)", st["created_at"], err)
		}
		for attr, value := range map[string]tftypes.Value{
			"endpoint_public_access":  tftypes.NewValue(tftypes.Bool, true),
			"endpoint_private_access": tftypes.NewValue(tftypes.Bool, true),
			"public_access_cidrs":     strList("203.0.113.0/24"),
			"subnet_ids":              strList("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
			"security_group_ids":      strList("sg-0123456789abcdef0"),
			"enabled_log_types":       tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, []tftypes.Value{str("api"), str("audit")}),
		} {
			if !st[attr].Equal(value) {
				t.Errorf("%s = %s, want %s", attr, st[attr], value)
			}
		}
		var tags map[string]tftypes.Value
		if err := st["tags"].As(&tags); err != nil || tfString(t, tags["team"]) != "platform" || tfString(t, tags["aws:cloudformation:stack-name"]) != name {
			t.Errorf("tags %s (%v)", st["tags"], err)
		}
		// cluster_connection: the resource's shape, the EKS path, no token.
		var conn, eks map[string]tftypes.Value
		if err := st["cluster_connection"].As(&conn); err != nil {
			t.Fatal(err)
		}
		if err := conn["eks"].As(&eks); err != nil {
			t.Fatal(err)
		}
		if tfString(t, conn["host"]) != want.Endpoint || tfString(t, conn["cluster_ca_certificate"]) != string(want.CAPEM) || !conn["token"].IsNull() {
			t.Errorf("cluster_connection %s", st["cluster_connection"])
		}
		for attr, value := range map[string]string{"region": "us-east-1", "cluster_name": name, "role_arn": "arn:aws:iam::222222222222:role/provisioner",
			"external_id": "ext-unit-1", "session_name": "clusterkit-" + name} {
			if got := tfString(t, eks[attr]); got != value {
				t.Errorf("cluster_connection.eks.%s = %q, want %q", attr, got, value)
			}
		}
		// Nothing STS issued is in the state.
		b, err := tfprotov6.NewDynamicValue(s.ValueType(), tftypes.NewValue(s.ValueType(), st))
		if err != nil {
			t.Fatal(err)
		}
		issued := emu.IssuedSecrets()
		if len(issued) < 2 {
			t.Fatalf("the emulator issued %d secrets; the scan would prove nothing", len(issued))
		}
		for _, secret := range issued {
			if strings.Contains(string(b.MsgPack), secret) {
				t.Fatalf("the state holds a secret (%.8s…)", secret)
			}
		}
		if m := secretPatterns.Find(b.MsgPack); m != nil {
			t.Fatalf("the state holds a credential or token (%.12s…)", m)
		}
	})

	t.Run("session name", func(t *testing.T) {
		a := map[string]tftypes.Value{"region": str("us-east-1"), "session_name": str("platform-reader")}
		for k, v := range args {
			a[k] = v
		}
		// (The emulator signs and checks for its one region, us-east-1, so another region is
		// not tried here.) The session name given is the one the connection carries.
		st, diags := readEKSDataSource(t, srv, s, a)
		if len(diags) != 0 {
			t.Fatalf("diagnostics %q", diagStrings(diags))
		}
		var conn, eks map[string]tftypes.Value
		if err := st["cluster_connection"].As(&conn); err != nil {
			t.Fatal(err)
		}
		if err := conn["eks"].As(&eks); err != nil {
			t.Fatal(err)
		}
		if tfString(t, st["session_name"]) != "platform-reader" || tfString(t, eks["session_name"]) != "platform-reader" || tfString(t, eks["region"]) != "us-east-1" {
			t.Errorf("session_name %s, connection %s", st["session_name"], st["cluster_connection"])
		}
		found := false
		for _, c := range emu.Calls() {
			found = found || (c.Action == "DescribeCluster" && strings.HasSuffix(c.Principal, "/platform-reader"))
		}
		if !found {
			t.Error("no DescribeCluster was made in the session platform-reader")
		}
	})

	t.Run("not ready", func(t *testing.T) {
		// The cluster exists, and its stack is still making the nodes: EKS says CREATING.
		const creating = "ck-ds-creating"
		emu.SetStackScript(creating, awsemu.StackScript{StepDelay: 5 * time.Millisecond, ResourceDelays: map[string]time.Duration{"NodeInstanceRole": time.Hour}})
		spec := cloud.StackSpec{Name: creating, TemplateBody: cloud.EKSClusterTemplate(), Parameters: map[string]string{
			"ClusterName": creating, "ClusterRoleArn": "arn:aws:iam::222222222222:role/eks-service", "KubernetesVersion": "1.35",
			"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
			"ControlPlaneSecurityGroupId": "sg-0123456789abcdef0", "NodeImageId": ami,
		}}
		if _, err := sess.CreateStack(ctx, spec); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := sess.FindCluster(ctx, creating); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("the cluster never appeared: %v", err)
			}
		}
		a := map[string]tftypes.Value{}
		for k, v := range args {
			a[k] = v
		}
		a["name"] = str(creating)
		st, diags := readEKSDataSource(t, srv, s, a)
		got := diagStrings(diags)
		want := "EKS cluster ck-ds-creating is not ready | EKS reports cluster ck-ds-creating in us-east-1 as CREATING, without a reachable API server: " +
			"cluster_connection has no host, and resources that take it fail until the cluster is active."
		if len(got) != 1 || got[0] != want || diags[0].Severity != tfprotov6.DiagnosticSeverityWarning {
			t.Fatalf("diagnostics %q, want the warning %q", got, want)
		}
		var conn, eks map[string]tftypes.Value
		if err := st["cluster_connection"].As(&conn); err != nil {
			t.Fatal(err)
		}
		if err := conn["eks"].As(&eks); err != nil {
			t.Fatal(err)
		}
		if tfString(t, st["status"]) != "CREATING" || !conn["host"].IsNull() || !conn["cluster_ca_certificate"].IsNull() || tfString(t, eks["cluster_name"]) != creating {
			t.Errorf("status %s, connection %s", st["status"], st["cluster_connection"])
		}
	})

	t.Run("not found", func(t *testing.T) {
		a := map[string]tftypes.Value{}
		for k, v := range args {
			a[k] = v
		}
		a["name"] = str("ck-ds-missing")
		_, diags := readEKSDataSource(t, srv, s, a)
		got := diagStrings(diags)
		want := "EKS cluster not found | EKS has no cluster named ck-ds-missing in us-east-1 that the role arn:aws:iam::222222222222:role/provisioner can see. " +
			"Check name and region: the cluster must be in the account of provision_role_arn."
		if len(got) != 1 || got[0] != want {
			t.Fatalf("diagnostics %q, want %q", got, want)
		}
		if p := diags[0].Attribute; p == nil || !p.Equal(tftypes.NewAttributePath().WithAttributeName("name")) {
			t.Errorf("diagnostic on %v, want name", p)
		}
		if strings.Contains(got[0], "ResourceNotFoundException") || strings.Contains(got[0], "No cluster found") {
			t.Errorf("diagnostic %q holds AWS's own text", got[0])
		}
	})

	t.Run("wrong external ID", func(t *testing.T) {
		a := map[string]tftypes.Value{}
		for k, v := range args {
			a[k] = v
		}
		a["external_id"] = str("not-the-external-id")
		_, diags := readEKSDataSource(t, srv, s, a)
		got := diagStrings(diags)
		want := "Cannot assume the provisioning role | assuming role arn:aws:iam::222222222222:role/provisioner was refused (AccessDenied): " +
			"check that the role trusts the platform account and that external_id matches the role's sts:ExternalId condition"
		if len(got) != 1 || got[0] != want {
			t.Fatalf("diagnostics %q, want %q", got, want)
		}
		if p := diags[0].Attribute; p == nil || !p.Equal(tftypes.NewAttributePath().WithAttributeName("provision_role_arn")) {
			t.Errorf("diagnostic on %v, want provision_role_arn", p)
		}
	})
}
