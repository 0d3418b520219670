// Command listschemas prints the provider's list resource schemas as `terraform providers
// schema -json` (Terraform >= 1.14) writes them under list_resource_schemas. tools/docs.sh adds
// them to OpenTofu's schema JSON, which has none, so tfplugindocs renders docs/list-resources/.
// The schemas come from the provider itself, served in process over tfprotov6.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/provider"
)

func main() {
	out, err := listSchemasJSON(context.Background(), providerserver.NewProtocol6(provider.New("docs")())())
	if err != nil {
		fmt.Fprintln(os.Stderr, "listschemas:", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}

func listSchemasJSON(ctx context.Context, srv tfprotov6.ProviderServer) ([]byte, error) {
	resp, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		return nil, err
	}
	for _, d := range resp.Diagnostics {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			return nil, fmt.Errorf("GetProviderSchema: %s: %s", d.Summary, d.Detail)
		}
	}
	if len(resp.ListResourceSchemas) == 0 {
		return nil, fmt.Errorf("the provider serves no list resource schemas")
	}
	schemas, err := convertSchemas(resp.ListResourceSchemas)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(schemas, "", "  ")
}
