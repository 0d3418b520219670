// Package provider is the Terraform side of clusterkit: schemas, plans, state and
// diagnostics. It calls internal/cloud and internal/kube and never an SDK directly.
package provider

import (
	"context"
	"maps"
	"os"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/list"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
)

var (
	_ provider.Provider                       = (*clusterkitProvider)(nil)
	_ provider.ProviderWithEphemeralResources = (*clusterkitProvider)(nil)
	_ provider.ProviderWithValidateConfig     = (*clusterkitProvider)(nil)
	_ provider.ProviderWithFunctions          = (*clusterkitProvider)(nil)
	_ provider.ProviderWithListResources      = (*clusterkitProvider)(nil)
)

// New returns the provider factory for providerserver.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &clusterkitProvider{version: version} }
}

type clusterkitProvider struct {
	version string
}

type providerModel struct {
	Region                    types.String      `tfsdk:"region"`
	Profile                   types.String      `tfsdk:"profile"`
	SharedConfigFiles         types.List        `tfsdk:"shared_config_files"`
	SharedCredentialsFiles    types.List        `tfsdk:"shared_credentials_files"`
	AccessKey                 types.String      `tfsdk:"access_key"`
	SecretKey                 types.String      `tfsdk:"secret_key"`
	Token                     types.String      `tfsdk:"token"`
	RetryMode                 types.String      `tfsdk:"retry_mode"`
	CustomCABundle            types.String      `tfsdk:"custom_ca_bundle"`
	MaxRetries                types.Int64       `tfsdk:"max_retries"`
	AllowLocalRequests        types.Bool        `tfsdk:"allow_local_requests"`
	RepositoryMirrors         types.Map         `tfsdk:"chart_repository_mirrors"`
	KubernetesQPS             types.Int64       `tfsdk:"kubernetes_qps"`
	KubernetesBurst           types.Int64       `tfsdk:"kubernetes_burst"`
	AssumeRole                []assumeRoleModel `tfsdk:"assume_role"`
	AssumeRoleWithWebIdentity *webIdentityModel `tfsdk:"assume_role_with_web_identity"`
	Endpoints                 *endpointsModel   `tfsdk:"endpoints"`
}

type endpointsModel struct {
	STS            types.String `tfsdk:"sts"`
	CloudFormation types.String `tfsdk:"cloudformation"`
	EKS            types.String `tfsdk:"eks"`
}

func (p *clusterkitProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "clusterkit"
	resp.Version = p.version
}

func (p *clusterkitProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	endpoint := func(service, env string) schema.StringAttribute {
		return schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "URL of the " + service + " API, for emulators or other partitions. Also `" + env + "`. " +
				"Must be `https`, on a host that is not loopback, link-local (cloud metadata), private or otherwise local, " +
				"unless `allow_local_requests = true`.",
			Validators: []validator.String{endpointURL{}},
		}
	}
	attrs := authAttributes()
	blocks := authBlocks()
	resp.Schema = schema.Schema{
		MarkdownDescription: "Provision EKS clusters in customer AWS accounts, register Kubernetes clusters with restricted " +
			"namespaces, and install Helm charts through in-cluster install pods. AWS credentials come from the standard " +
			"chain (environment, shared config and `profile`, SSO, web identity for Terraform Cloud dynamic credentials); " +
			"they are only needed by resources that call AWS.",
		Attributes: mergeAttributes(attrs, map[string]schema.Attribute{
			"max_retries": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "Maximum attempts of a throttled or failed AWS call (default 25 as in the AWS provider). Also `AWS_MAX_ATTEMPTS`. " +
					"The SDK waits a random time before each retry, growing to at most 20 seconds, so with the default an endpoint " +
					"that keeps failing holds a call for about 2½ minutes on average (5½ at most) before it fails. Each retry is logged (subsystem `aws`: the call, " +
					"attempt n of m, the HTTP status and the wait), and the error says how many attempts were made.",
				Validators: []validator.Int64{int64validator.Between(1, 100)},
			},
			"allow_local_requests": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Allow cluster URLs that resolve to loopback, link-local (cloud metadata), private, CGNAT, " +
					"unspecified or multicast addresses, and plain `http`. Default `false`: cluster URLs are user input and are " +
					"checked against these classes at plan time and again on every connection. Also `CLUSTERKIT_ALLOW_LOCAL_REQUESTS`.",
			},
			"kubernetes_qps": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "Most Kubernetes API requests per second the provider sends to one cluster (all resources of a run " +
					"share one client per cluster), for small control planes. Default: no limit in the provider; the API server's " +
					"priority and fairness paces it, and a throttled request (HTTP 429) is retried after the server's `Retry-After`.",
				Validators: []validator.Int64{int64validator.Between(1, 100000)},
			},
			"kubernetes_burst": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "Requests above `kubernetes_qps` allowed at once (default twice `kubernetes_qps`). Needs `kubernetes_qps`.",
				Validators: []validator.Int64{int64validator.Between(1, 100000),
					int64validator.AlsoRequires(path.MatchRoot("kubernetes_qps"))},
			},
			"chart_repository_mirrors": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Chart repositories to install from instead of the ones a chart names, for clusters that " +
					"cannot reach the public ones (air-gapped or regulated clusters with Harbor, Artifactory, Nexus, ...): a map " +
					"from a chart repository URL as the catalog or a `chart` block names it (`https://...` or `oci://...`, " +
					"compared without a trailing slash) to the mirror's URL (an `https://` chart repository or an `oci://` " +
					"registry path under which `<chart>` is found). It applies to catalog apps and custom charts alike; the " +
					"chart name and version stay the same, so changing a mirror plans no upgrade. Example: " +
					"`{ \"https://charts.jetstack.io\" = \"oci://harbor.example.com/jetstack\" }`.",
				Validators: []validator.Map{mapFuncValidator{"must map chart repositories to mirrors", kube.CheckRepositoryMirrors}},
			},
		}),
		Blocks: mergeBlocks(blocks, map[string]schema.Block{
			"endpoints": schema.SingleNestedBlock{
				MarkdownDescription: "Custom service endpoints (null: the AWS ones). The same rule applies to `AWS_ENDPOINT_URL` " +
					"and `AWS_ENDPOINT_URL_<SERVICE>`, checked when the provider is configured. Every AWS call honours the proxy " +
					"variables `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (Kubernetes connections never use a proxy): with a proxy " +
					"set, an `https` endpoint is reached through a CONNECT tunnel, so the proxy sees its host name but not the " +
					"signed request; a plain `http` endpoint (with `allow_local_requests`) is sent to the proxy in clear text, " +
					"session token header included. The address checks apply to the endpoint's host as written, not to the proxy. " +
					"Hosts in `NO_PROXY`, `localhost` and loopback addresses are reached directly.",
				Attributes: map[string]schema.Attribute{
					"sts":            endpoint("STS", "AWS_ENDPOINT_URL_STS"),
					"cloudformation": endpoint("CloudFormation", "AWS_ENDPOINT_URL_CLOUDFORMATION"),
					"eks":            endpoint("EKS", "AWS_ENDPOINT_URL_EKS"),
				},
			},
		}),
	}
}

func mergeAttributes(a, b map[string]schema.Attribute) map[string]schema.Attribute {
	maps.Copy(a, b)
	return a
}

func mergeBlocks(a, b map[string]schema.Block) map[string]schema.Block {
	maps.Copy(a, b)
	return a
}

// ValidateConfig checks, at plan time, what no single attribute's validator sees.
func (p *clusterkitProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var w *webIdentityModel
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("assume_role_with_web_identity"), &w)...)
	if resp.Diagnostics.HasError() || w == nil || w.RoleARN.IsUnknown() || w.WebIdentityToken.IsUnknown() || w.WebIdentityTokenFile.IsUnknown() {
		return
	}
	validateWebIdentity(w, &resp.Diagnostics)
}

func (p *clusterkitProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	allowLocal := m.AllowLocalRequests.ValueBool()
	if m.AllowLocalRequests.IsNull() {
		if v := os.Getenv("CLUSTERKIT_ALLOW_LOCAL_REQUESTS"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				resp.Diagnostics.AddAttributeError(path.Root("allow_local_requests"), "Invalid CLUSTERKIT_ALLOW_LOCAL_REQUESTS",
					"The environment variable CLUSTERKIT_ALLOW_LOCAL_REQUESTS must be true or false.")
				return
			}
			allowLocal = b
		}
	}
	checkEndpoints(&resp.Diagnostics, m.Endpoints, allowLocal)
	checkCABundle(m.CustomCABundle, &resp.Diagnostics)
	validateWebIdentity(m.AssumeRoleWithWebIdentity, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	awsCfg := awsConfig(ctx, m)
	// The region is needed at plan time (eks_cluster plans it); a profile's region counts.
	region, regionSource, err := cloud.ResolveRegion(ctx, awsCfg)
	if err != nil {
		if !m.Profile.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("profile"), "Invalid AWS profile", cloud.Sanitize(err).Error())
			return
		}
		// A profile named only in the environment: resources that call AWS report it.
		resp.Diagnostics.AddWarning("AWS profile could not be read", cloud.Sanitize(err).Error()+
			" Resources that call AWS will fail; Kubernetes-only resources are not affected.")
	}
	awsCtx := withLogging(ctx)
	logAWSSettings(awsCtx, awsCfg, region, regionSource)
	policy := netguard.Policy{AllowLocal: allowLocal}
	data := &providerData{
		policy: policy,
		kube: kube.NewFactory(kube.FactoryOptions{
			Policy:    policy,
			UserAgent: "terraform-provider-clusterkit/" + p.version,
			Log:       logKubernetesCall,
			QPS:       float32(m.KubernetesQPS.ValueInt64()),
			Burst:     int(m.KubernetesBurst.ValueInt64()),
		}),
		cloud:   cloud.NewFactory(awsCfg),
		region:  region,
		mirrors: stringMap(ctx, m.RepositoryMirrors),
	}
	resp.ResourceData = data
	resp.EphemeralResourceData = data
	resp.DataSourceData = data
	resp.ListResourceData = data
}

func (p *clusterkitProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newClusterIntegrationResource,
		newManagedAppResource,
		newEKSClusterResource,
	}
}

func (p *clusterkitProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{newCatalogDataSource, newEKSClusterDataSource}
}

// Functions need Terraform 1.8 or OpenTofu 1.7; older CLIs ignore them.
func (p *clusterkitProvider) Functions(context.Context) []func() function.Function {
	return []func() function.Function{newReleaseFullnameFunction}
}

// List resources (`terraform query`) need Terraform 1.14; other CLIs ignore them.
func (p *clusterkitProvider) ListResources(context.Context) []func() list.ListResource {
	return []func() list.ListResource{newManagedAppList, newEKSClusterList}
}

func (p *clusterkitProvider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{newEKSTokenEphemeral}
}
