package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
)

var _ datasource.DataSource = (*catalogDataSource)(nil)

func newCatalogDataSource() datasource.DataSource { return &catalogDataSource{} }

// catalogDataSource publishes internal/apps' catalog as it is compiled into this
// provider build: no cluster, no network, the same answer on every read.
type catalogDataSource struct{}

type catalogDataSourceModel struct {
	Name            types.String               `tfsdk:"name"`
	Names           []string                   `tfsdk:"names"`
	SupportReviewed string                     `tfsdk:"support_reviewed"`
	Apps            map[string]catalogAppModel `tfsdk:"apps"`
}

type catalogAppModel struct {
	Name                  string            `tfsdk:"name"`
	Description           string            `tfsdk:"description"`
	Notice                types.String      `tfsdk:"notice"`
	Chart                 string            `tfsdk:"chart"`
	Repository            string            `tfsdk:"repository"`
	Version               string            `tfsdk:"version"`
	Namespace             string            `tfsdk:"namespace"`
	InstallerClusterAdmin bool              `tfsdk:"installer_cluster_admin"`
	UninstallOrder        int64             `tfsdk:"uninstall_order"`
	Outputs               map[string]string `tfsdk:"outputs"`
	FullnameMaxLength     int64             `tfsdk:"fullname_max_length"`
	DefaultValues         string            `tfsdk:"default_values"`
	Support               string            `tfsdk:"support"`
}

func (d *catalogDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_catalog"
}

func (d *catalogDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The managed-app catalog of this provider version: the apps `clusterkit_managed_app` installs by `app`, with " +
			"their chart, repository, pinned version, default namespace and values, the rights their installer needs, the outputs " +
			"they offer and notices such as a retired project. Read from the provider itself: no cluster or network is needed, " +
			"and the entries change only with a provider release.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Only this entry (one of `" + strings.Join(apps.Names(), "`, `") + "`); a name that is not in the " +
					"catalog is an error. Default: every entry.",
				Validators: []validator.String{funcValidator{"must name a catalog entry", checkCatalogName}},
			},
			"names": schema.ListAttribute{
				ElementType:         types.StringType,
				Computed:            true,
				MarkdownDescription: "The keys of `apps`, sorted.",
			},
			"support_reviewed": computed("The date (`YYYY-MM-DD`) the entries' `support` texts were last checked against their projects' release records."),
			"apps": schema.MapNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The entries, keyed by catalog name (the value `app` takes).",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":        computed("Catalog name, the value of `app`, and the default release name."),
					"description": computed("What the app is, in a sentence."),
					"notice": computed("A warning about the entry (e.g. a project retired upstream), shown at plan time to " +
						"configurations that install it; null when there is none."),
					"chart":      computed("The chart's name in its repository."),
					"repository": computed("The chart repository (`https://`) the chart comes from (unless `chart_repository_mirrors` redirects it)."),
					"version":    computed("The pinned chart version installed unless `version` is set on the resource."),
					"namespace":  computed("The namespace the release goes into unless `namespace` is set on the resource."),
					"installer_cluster_admin": schema.BoolAttribute{
						Computed: true,
						MarkdownDescription: "Whether the install pods need `cluster-admin` (the chart makes CRDs or other cluster-scoped " +
							"objects): the default of the resource's `installer_cluster_admin`. `false`: the `admin` role in the release " +
							"namespace suffices.",
					},
					"uninstall_order": schema.Int64Attribute{
						Computed: true,
						MarkdownDescription: "When several apps are destroyed together, higher numbers are uninstalled later " +
							"(a custom chart has 0).",
					},
					"outputs": schema.MapAttribute{
						ElementType: types.StringType,
						Computed:    true,
						MarkdownDescription: "The keys of the resource's `outputs` for this app, each with the pattern of its value: " +
							"`{fullname}` stands for the release's fullname (`provider::clusterkit::release_fullname(<name>, chart, " +
							"{ max_length = fullname_max_length })`), `{fullname:<subchart>}` for a subchart's " +
							"(`release_fullname(<name>, \"<subchart>\")`). The resource adds `endpoint` to apps with a `service` output once " +
							"its load balancer has an address. Empty when the app offers none.",
					},
					"fullname_max_length": schema.Int64Attribute{
						Computed: true,
						MarkdownDescription: "How long the chart lets its fullname get (63 for most charts): the `max_length` to pass to " +
							"`provider::clusterkit::release_fullname` for this app.",
					},
					"default_values": computed("The chart values (YAML) the resource's `values` are merged over, key by key."),
					"support":        computed("Why the pinned version is on a release line its project still maintains (or that none is), with sources, as of `support_reviewed`."),
				}},
			},
		},
	}
}

func (d *catalogDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	// Only name comes from the configuration; the model's plain Go fields are all computed.
	m := catalogDataSourceModel{}
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("name"), &m.Name)...)
	if resp.Diagnostics.HasError() {
		return
	}
	names := apps.Names()
	if !m.Name.IsNull() {
		// The validator refuses such a name first; this keeps Read from ever panicking on one.
		if err := checkCatalogName(m.Name.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Invalid name", "must name a catalog entry: "+err.Error()+".")
			return
		}
		names = []string{m.Name.ValueString()}
	}
	m.Names = names
	m.SupportReviewed = apps.SupportReviewed
	m.Apps = make(map[string]catalogAppModel, len(names))
	for _, n := range names {
		a, _ := apps.Lookup(n)
		m.Apps[n] = catalogApp(a)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// catalogApp is one entry as the data source shows it; the install steps stay internal
// (they are the install pod's business, not a module's).
func catalogApp(a apps.App) catalogAppModel {
	notice := types.StringNull()
	if a.Notice != "" {
		notice = types.StringValue(a.Notice)
	}
	outputs := a.Outputs
	if outputs == nil {
		outputs = map[string]string{} // empty, not null: keys() and length() work on every entry
	}
	return catalogAppModel{
		Name:                  a.Name,
		Description:           a.Description,
		Notice:                notice,
		Chart:                 a.Chart,
		Repository:            a.Repository,
		Version:               a.Version,
		Namespace:             a.Namespace,
		InstallerClusterAdmin: a.NeedsClusterAdmin,
		UninstallOrder:        int64(a.UninstallOrder),
		Outputs:               outputs,
		FullnameMaxLength:     int64(a.FullnameLimit()),
		DefaultValues:         a.DefaultValues,
		Support:               a.Support,
	}
}

// checkCatalogName is the resource's app check without its advice on chart blocks, which a
// reader of the catalog has no use for.
func checkCatalogName(s string) error {
	if _, ok := apps.Lookup(s); !ok {
		return fmt.Errorf("%q is not in the catalog; valid names are: %s", s, strings.Join(apps.Names(), ", "))
	}
	return nil
}
