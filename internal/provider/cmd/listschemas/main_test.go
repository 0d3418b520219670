package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/zclconf/go-cty/cty"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/provider"
)

// The JSON reads back through terraform-json (as tfplugindocs reads it) with both list
// resources, their arguments, types, flags and markdown descriptions.
func TestListSchemasJSON(t *testing.T) {
	out, err := listSchemasJSON(context.Background(), providerserver.NewProtocol6(provider.New("test")())())
	if err != nil {
		t.Fatal(err)
	}
	var ps tfjson.ProviderSchema
	if err := json.Unmarshal([]byte(`{"list_resource_schemas":`+string(out)+`}`), &ps); err != nil {
		t.Fatal(err)
	}
	if len(ps.ListResourceSchemas) != 2 {
		t.Fatalf("list resources: got %d, want clusterkit_managed_app and clusterkit_eks_cluster", len(ps.ListResourceSchemas))
	}
	app := ps.ListResourceSchemas["clusterkit_managed_app"].Block
	conn := app.Attributes["cluster_connection"]
	if !conn.Required || conn.AttributeNestedType.NestingMode != tfjson.SchemaNestingModeSingle || conn.DescriptionKind != tfjson.SchemaDescriptionKindMarkdown {
		t.Errorf("cluster_connection: %+v", conn)
	}
	host := conn.AttributeNestedType.Attributes["host"]
	if host.AttributeType != cty.String || !host.Optional || host.Description != "API server URL; also the `host` of every identity listed." {
		t.Errorf("cluster_connection.host: %+v", host)
	}
	if eks := conn.AttributeNestedType.Attributes["eks"].AttributeNestedType; len(eks.Attributes) != 5 || eks.Attributes["external_id"] == nil {
		t.Errorf("cluster_connection.eks: %+v", eks)
	}
	if ns := app.Attributes["namespaces"]; ns.AttributeType != cty.List(cty.String) || !ns.Optional {
		t.Errorf("namespaces: %+v", ns)
	}
	if !strings.HasPrefix(app.Description, "Every helm release of a cluster") {
		t.Errorf("managed_app description: %q", app.Description)
	}
	eks := ps.ListResourceSchemas["clusterkit_eks_cluster"].Block
	for name, required := range map[string]bool{"provision_role_arn": true, "external_id": true, "region": false, "session_name": false} {
		a := eks.Attributes[name]
		if a == nil || a.Required != required || a.Optional == required || a.AttributeType != cty.String {
			t.Errorf("eks_cluster %s: %+v, want required=%v", name, a, required)
		}
	}
	if len(eks.Attributes) != 4 {
		t.Errorf("eks_cluster arguments: got %d, want 4", len(eks.Attributes))
	}
}

// Blocks, sets and counts convert the way Terraform writes them (our list schemas have none yet).
func TestConvertBlock(t *testing.T) {
	got, err := convertBlock(&tfprotov6.SchemaBlock{
		DescriptionKind: tfprotov6.StringKindPlain,
		BlockTypes: []*tfprotov6.SchemaNestedBlock{{
			TypeName: "filter", Nesting: tfprotov6.SchemaNestedBlockNestingModeSet, MinItems: 1, MaxItems: 3,
			Block: &tfprotov6.SchemaBlock{Attributes: []*tfprotov6.SchemaAttribute{
				{Name: "tags", Type: tftypes.Map{ElementType: tftypes.String}, Optional: true, Sensitive: true},
			}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"block_types":{"filter":{"nesting_mode":"set","block":{"attributes":{"tags":{"type":["map","string"],"description_kind":"plain","optional":true,"sensitive":true}},"description_kind":"plain"},"min_items":1,"max_items":3}},"description_kind":"plain"}`
	if string(raw) != want {
		t.Errorf("got  %s\nwant %s", raw, want)
	}
	_, err = convertBlock(&tfprotov6.SchemaBlock{BlockTypes: []*tfprotov6.SchemaNestedBlock{{TypeName: "x", Nesting: 9}}})
	if err == nil || err.Error() != "block x: unknown nesting mode 9" {
		t.Errorf("unknown nesting: %v", err)
	}
}
