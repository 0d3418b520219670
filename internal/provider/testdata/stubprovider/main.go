// Command stubprovider stands in, for `init` and `validate` of examples/ only, for the
// third-party providers two examples use and that no registry can give these machines
// (examples_test.go): hashicorp/aws (examples/customer-role) and hashicorp/kubernetes (the
// consumer in examples/ephemeral-resources/clusterkit_eks_token). Which one it is comes
// from its file name (terraform-provider-aws or terraform-provider-kubernetes). It declares
// only the types and attributes those examples use, with the real providers' names, types
// and required-ness, so validate checks the examples' own syntax, references and types and
// every clusterkit part fully, but not these names against the real providers' schemas.
package main

import (
	"context"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	pschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
)

type stub struct {
	name        string
	config      map[string]pschema.Attribute
	resources   map[string]map[string]rschema.Attribute
	dataSources map[string]map[string]dschema.Attribute
}

var stubs = map[string]stub{
	// hashicorp/aws: aws_iam_role, aws_iam_role_policy and data.aws_partition.
	"aws": {name: "aws",
		resources: map[string]map[string]rschema.Attribute{
			"aws_iam_role": {
				"name":                 rschema.StringAttribute{Optional: true, Computed: true},
				"assume_role_policy":   rschema.StringAttribute{Required: true},
				"max_session_duration": rschema.Int64Attribute{Optional: true, Computed: true},
				"arn":                  rschema.StringAttribute{Computed: true},
				"id":                   rschema.StringAttribute{Computed: true},
			},
			"aws_iam_role_policy": {
				"role":   rschema.StringAttribute{Required: true},
				"policy": rschema.StringAttribute{Required: true},
				"id":     rschema.StringAttribute{Computed: true},
			},
		},
		dataSources: map[string]map[string]dschema.Attribute{
			"aws_partition": {
				"partition": dschema.StringAttribute{Computed: true},
				"id":        dschema.StringAttribute{Computed: true},
			},
		},
	},
	// hashicorp/kubernetes: the provider block's connection attributes.
	"kubernetes": {name: "kubernetes",
		config: map[string]pschema.Attribute{
			"host":                   pschema.StringAttribute{Optional: true},
			"cluster_ca_certificate": pschema.StringAttribute{Optional: true},
			"token":                  pschema.StringAttribute{Optional: true, Sensitive: true},
		},
	},
}

func main() {
	name := strings.TrimPrefix(filepath.Base(os.Args[0]), "terraform-provider-")
	s, ok := stubs[name]
	if !ok {
		log.Fatalf("stubprovider: no stub named %q (from the file name %s)", name, os.Args[0])
	}
	if err := providerserver.Serve(context.Background(), func() provider.Provider { return s },
		providerserver.ServeOpts{Address: "registry.terraform.io/hashicorp/" + name}); err != nil {
		log.Fatal(err)
	}
}

func (s stub) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = s.name
}

func (s stub) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = pschema.Schema{Attributes: s.config}
}

func (stub) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {}

func (s stub) Resources(context.Context) []func() resource.Resource {
	var out []func() resource.Resource
	for typ, attrs := range s.resources {
		out = append(out, func() resource.Resource { return stubResource{typ, attrs} })
	}
	return out
}

func (s stub) DataSources(context.Context) []func() datasource.DataSource {
	var out []func() datasource.DataSource
	for typ, attrs := range s.dataSources {
		out = append(out, func() datasource.DataSource { return stubDataSource{typ, attrs} })
	}
	return out
}

// stubResource only has a schema: validate never creates, reads or deletes.
type stubResource struct {
	typ   string
	attrs map[string]rschema.Attribute
}

func (r stubResource) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = r.typ
}

func (r stubResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = rschema.Schema{Attributes: r.attrs}
}

func (r stubResource) Create(_ context.Context, _ resource.CreateRequest, resp *resource.CreateResponse) {
	resp.Diagnostics.AddError("stub provider", "this stub only serves validate")
}

func (r stubResource) Read(_ context.Context, _ resource.ReadRequest, resp *resource.ReadResponse) {
	resp.Diagnostics.AddError("stub provider", "this stub only serves validate")
}

func (r stubResource) Update(_ context.Context, _ resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.Diagnostics.AddError("stub provider", "this stub only serves validate")
}

func (r stubResource) Delete(_ context.Context, _ resource.DeleteRequest, resp *resource.DeleteResponse) {
	resp.Diagnostics.AddError("stub provider", "this stub only serves validate")
}

type stubDataSource struct {
	typ   string
	attrs map[string]dschema.Attribute
}

func (d stubDataSource) Metadata(_ context.Context, _ datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = d.typ
}

func (d stubDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = dschema.Schema{Attributes: d.attrs}
}

func (d stubDataSource) Read(_ context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	resp.Diagnostics.AddError("stub provider", "this stub only serves validate")
}
