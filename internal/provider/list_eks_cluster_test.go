package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// Protocol tests of the list resources (`terraform query` needs Terraform >= 1.14, which
// no machine here has): the provider's server in process, called as the CLI calls it.

// listed is one ListResource result: display name, identity and (with include_resource)
// the resource object, as strings or values.
type listed struct {
	display       string
	identity      map[string]string
	identityValue tftypes.Value // the same, as the object the CLI receives
	resource      map[string]tftypes.Value
	diags         []string
}

// resourceSchema is typ's resource schema as the server reports it.
func resourceSchema(t *testing.T, srv tfprotov6.ProviderServer, typ string) *tfprotov6.Schema {
	t.Helper()
	schemas, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s, ok := schemas.ResourceSchemas[typ]
	if !ok {
		t.Fatalf("no resource %s", typ)
	}
	return s
}

// callList validates the list config, then lists, as the CLI does for a list block.
func callList(t *testing.T, srv tfprotov6.ProviderServer, typ string, attrs map[string]tftypes.Value, include bool, limit int64) (validation []string, results []listed) {
	t.Helper()
	ctx := context.Background()
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ls, ok := schemas.ListResourceSchemas[typ]
	if !ok {
		t.Fatalf("no list resource %s", typ)
	}
	ids, err := srv.GetResourceIdentitySchemas(ctx, &tfprotov6.GetResourceIdentitySchemasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	lsrv, ok := srv.(tfprotov6.ListResourceServer)
	if !ok {
		t.Fatal("the provider server does not serve list resources")
	}
	cfg, err := tfprotov6.NewDynamicValue(ls.ValueType(), objectOf(t, ls, attrs))
	if err != nil {
		t.Fatal(err)
	}
	incl, _ := tfprotov6.NewDynamicValue(tftypes.Bool, tftypes.NewValue(tftypes.Bool, include))
	lim, _ := tfprotov6.NewDynamicValue(tftypes.Number, tftypes.NewValue(tftypes.Number, limit))
	v, err := lsrv.ValidateListResourceConfig(ctx, &tfprotov6.ValidateListResourceConfigRequest{TypeName: typ, Config: &cfg, IncludeResourceObject: &incl, Limit: &lim})
	if err != nil {
		t.Fatal(err)
	}
	if validation = diagStrings(v.Diagnostics); len(validation) > 0 {
		return validation, nil
	}
	stream, err := lsrv.ListResource(ctx, &tfprotov6.ListResourceRequest{TypeName: typ, Config: &cfg, IncludeResource: include, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	resType := schemas.ResourceSchemas[typ].ValueType()
	idType := ids.IdentitySchemas[typ].ValueType()
	for r := range stream.Results {
		l := listed{display: r.DisplayName, diags: diagStrings(r.Diagnostics), identityValue: tftypes.NewValue(idType, nil)}
		if r.Identity != nil && r.Identity.IdentityData != nil {
			var names []string
			for name := range idType.(tftypes.Object).AttributeTypes {
				names = append(names, name)
			}
			l.identity = objectStrings(t, r.Identity.IdentityData, idType, names)
			if l.identityValue, err = r.Identity.IdentityData.Unmarshal(idType); err != nil {
				t.Fatal(err)
			}
		}
		if r.Resource != nil {
			v, err := r.Resource.Unmarshal(resType)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.As(&l.resource); err != nil {
				t.Fatal(err)
			}
		}
		results = append(results, l)
	}
	return nil, results
}

// TestProtocolListEKSCluster_TaggedStacks: the emulator's account holds a stack clusterkit
// created (tagged) and one it did not; the list returns only the first, with its
// identity, display name and the inputs the stack records, and no external ID.
func TestProtocolListEKSCluster_TaggedStacks(t *testing.T) {
	ctx := context.Background()
	emu, srv, _, sess := emulatorProvider(t)
	const role, extID = "arn:aws:iam::222222222222:role/provisioner", "ext-unit-1"
	ami, _ := cloud.NodeAMIParameter("1.35")
	params := func(name string) map[string]string {
		return map[string]string{
			"ClusterName": name, "ClusterRoleArn": "arn:aws:iam::222222222222:role/eks-service", "KubernetesVersion": "1.35",
			"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
			"ControlPlaneSecurityGroupId": "sg-0123456789abcdef0", "NodeImageId": ami, "NodeCount": "2", "NodeVolumeSize": "30",
			"NodeInstanceType": "t3.large", "ServiceIpv4Cidr": "172.20.0.0/16", "LogAudit": "true",
			"AuthenticationMode": "API",
		}
	}
	for name, tags := range map[string]map[string]string{
		"ck-list-shop":  {stackTagManagedBy: "clusterkit", stackTagResource: "us-east-1/ck-list-shop", "team": "shop"},
		"ck-list-other": {"team": "other"}, // not clusterkit's
	} {
		emu.SetStackScript(name, awsemu.StackScript{StepDelay: 5 * time.Millisecond})
		id, err := sess.CreateStack(ctx, cloud.StackSpec{Name: name, TemplateBody: cloud.EKSClusterTemplate(), Parameters: params(name), Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sess.WaitStack(ctx, id, cloud.OpCreate, cloud.WaitOptions{Backoff: cloud.Backoff{First: 10 * time.Millisecond, Max: 50 * time.Millisecond, Factor: 2}}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := map[string]tftypes.Value{"provision_role_arn": str(role), "external_id": str(extID)}

	t.Run("with resource", func(t *testing.T) {
		diags, got := callList(t, srv, "clusterkit_eks_cluster", cfg, true, 100)
		if len(diags) > 0 || len(got) != 1 {
			t.Fatalf("validation %q, %d results %+v, want 1", diags, len(got), got)
		}
		r := got[0]
		if len(r.diags) > 0 {
			t.Fatalf("diagnostics %q", r.diags)
		}
		if want := "ck-list-shop (us-east-1, account 222222222222): Kubernetes 1.35, CREATE_COMPLETE"; r.display != want {
			t.Errorf("display name %q, want %q", r.display, want)
		}
		if want := map[string]string{"account_id": "222222222222", "region": "us-east-1", "name": "ck-list-shop"}; !sameStrings(r.identity, want) {
			t.Errorf("identity %v, want %v", r.identity, want)
		}
		for attr, want := range map[string]string{
			"id": "us-east-1/ck-list-shop", "name": "ck-list-shop", "region": "us-east-1", "provision_role_arn": role,
			"external_id": "<null>", "status": "CREATE_COMPLETE", "cluster_role_arn": "arn:aws:iam::222222222222:role/eks-service",
			"kubernetes_version": "1.35", "vpc_id": "vpc-0123456789abcdef0", "control_plane_security_group_id": "sg-0123456789abcdef0",
			"node_instance_type": "t3.large", "service_ipv4_cidr": "172.20.0.0/16", "ip_family": "ipv4", "key_name": "<null>",
			"authentication_mode": "API",
		} {
			if got := tfString(t, r.resource[attr]); got != want {
				t.Errorf("%s = %q, want %q", attr, got, want)
			}
		}
		for attr, want := range map[string]tftypes.Value{
			"subnet_ids":        strList("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
			"node_count":        tftypes.NewValue(tftypes.Number, 2),
			"node_volume_size":  tftypes.NewValue(tftypes.Number, 30),
			"enabled_log_types": tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, []tftypes.Value{str("audit")}),
			"tags":              tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, map[string]tftypes.Value{"team": str("shop")}),
		} {
			if !r.resource[attr].Equal(want) {
				t.Errorf("%s = %s, want %s", attr, r.resource[attr], want)
			}
		}
		if !strings.HasPrefix(tfString(t, r.resource["stack_id"]), "arn:aws:cloudformation:us-east-1:222222222222:stack/ck-list-shop/") {
			t.Errorf("stack_id %s", r.resource["stack_id"])
		}
		if strings.Contains(r.resource["tags"].String()+r.display, extID) {
			t.Error("a result holds the external ID")
		}
	})

	t.Run("identity only", func(t *testing.T) {
		_, got := callList(t, srv, "clusterkit_eks_cluster", cfg, false, 100)
		if len(got) != 1 || got[0].resource != nil || got[0].identity["name"] != "ck-list-shop" {
			t.Fatalf("results %+v, want one identity without resource", got)
		}
	})

	t.Run("wrong external ID", func(t *testing.T) {
		_, got := callList(t, srv, "clusterkit_eks_cluster", map[string]tftypes.Value{"provision_role_arn": str(role), "external_id": str("ext-wrong-1")}, false, 100)
		if len(got) != 1 || len(got[0].diags) != 1 || !strings.HasPrefix(got[0].diags[0], "Cannot assume the provisioning role | ") ||
			got[0].identity != nil || strings.Contains(got[0].diags[0], "ext-wrong-1") {
			t.Fatalf("results %+v, want one error that does not repeat the external ID", got)
		}
	})

	t.Run("bad config", func(t *testing.T) {
		diags, _ := callList(t, srv, "clusterkit_eks_cluster", map[string]tftypes.Value{
			"provision_role_arn": str("arn:aws:iam::2222:user/x"), "external_id": str("ext-unit-1"), "region": str("Europe"),
		}, false, 100)
		if len(diags) != 2 || !strings.Contains(strings.Join(diags, "\n"), "must be an AWS region such as eu-west-1") {
			t.Fatalf("validation %q, want the role and the region refused", diags)
		}
	})
}
