package provider

import (
	"context"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

func (r *managedAppResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Version: managedAppSchemaVersion,
		MarkdownDescription: "Installs a Helm chart into a cluster without helm or kubectl on the Terraform runner: a one-off " +
			"install pod (`install-<name>`, running helm as a non-root user) in namespace `" + kube.DefaultInstallNamespace + "` runs " +
			"`helm upgrade --install --wait` with rollback on failure (the defaults of `wait`, `atomic` and the other helm switches), the values mounted from ConfigMap `values-content-configuration-<name>` " +
			"(and the write-only `sensitive_values` from Secret `values-content-secret-<name>`). The provider waits for the pod with a " +
			"watch and reports its outcome; a failed pod is kept for `kubectl logs` until the next apply. Changes to the chart, " +
			"version or values run the same pod again (an upgrade); destroy runs `uninstall-<name>`.\n\n" +
			"Install either an entry of the catalog (`app`) with its pinned chart version and default values, or any chart " +
			"(`chart`).",
		Attributes: withAttributes(helmOptionAttributes(), map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<namespace>/<name>`; also the import ID.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"cluster_connection": connectionInputAttribute("How to reach the cluster: pass `clusterkit_cluster_integration.<name>.cluster_connection` " +
				"or `clusterkit_eks_cluster.<name>.cluster_connection` (or an object with `host`, `cluster_ca_certificate` and `token`). " +
				"The credential needs rights to create namespaces, service accounts, RBAC bindings, ConfigMaps, Secrets and pods."),
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Helm release name: a DNS-1123 label of at most 53 characters. It also names the install pod " +
					"and the values ConfigMap, so it must be unique among the cluster's managed apps. Changing it replaces the resource.",
				Validators:    []validator.String{funcValidator{"must be a DNS-1123 label of at most 53 characters", kube.CheckReleaseName}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"app": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Catalog entry to install, with its pinned chart version and default values: `" +
					strings.Join(apps.Names(), "`, `") + "`. Exactly one of `app` and `chart` must be set.",
				Validators: []validator.String{funcValidator{"must name a catalog entry", checkCatalogApp}},
			},
			"cluster_issuer": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Only with `app = \"cert-manager\"`: also create an ACME ClusterIssuer that solves HTTP-01 challenges through an ingress class. " +
					"The same install pod installs it after cert-manager (as release `<name>-cluster-issuer`) and removes it before uninstalling.",
				Attributes: map[string]schema.Attribute{
					"email":         schema.StringAttribute{Required: true, MarkdownDescription: "Contact address of the ACME account."},
					"name":          schema.StringAttribute{Optional: true, MarkdownDescription: "Name of the ClusterIssuer (default `letsencrypt-prod`)."},
					"server":        schema.StringAttribute{Optional: true, MarkdownDescription: "ACME directory URL (default Let's Encrypt production; `" + apps.LetsEncryptStaging + "` for staging)."},
					"ingress_class": schema.StringAttribute{Optional: true, MarkdownDescription: "Ingress class that answers the HTTP-01 challenges (default `nginx`)."},
				},
			},
			"chart": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "Any chart, by repository, name and pinned version. Exactly one of `app` and `chart` must be set.",
				Attributes: map[string]schema.Attribute{
					"repository": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "Chart repository: an `https://` URL (classic repository with an `index.yaml`) or an `oci://` registry reference.",
						Validators:          []validator.String{funcValidator{"must be an https:// or oci:// chart repository", checkChartRepository}},
					},
					"name": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "Chart name in the repository.",
						Validators:          []validator.String{funcValidator{"must be a chart name", kube.CheckChartName}},
					},
					"version": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "Pinned chart version, such as `1.2.3` (no ranges).",
						Validators:          []validator.String{funcValidator{"must be a pinned chart version", kube.CheckChartVersion}},
					},
				},
			},
			"version": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Chart version overriding the catalog's pinned one (only with `app`). Changing it runs an upgrade.",
				Validators:          []validator.String{funcValidator{"must be a pinned chart version", kube.CheckChartVersion}},
			},
			"namespace": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "Namespace of the release. Default: the catalog app's namespace (e.g. `ingress-nginx`), or the " +
					"release `name` for a custom chart. Created if missing. Changing it replaces the resource. It cannot be the install " +
					"namespace `" + kube.DefaultInstallNamespace + "`: an installer's rights there would reach every app's values, " +
					"credentials and installers.",
				Validators:    []validator.String{funcValidator{"must be a namespace of the app's own", kube.CheckReleaseNamespace}},
				PlanModifiers: []planmodifier.String{releaseNamespaceDefault{}, stringplanmodifier.RequiresReplace()},
			},
			"values": valuesAttribute(),
			"sensitive_values": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				WriteOnly: true,
				MarkdownDescription: "Write-only chart values (YAML mapping) for secrets: never stored in state, plan or a ConfigMap; " +
					"they reach the pod from Secret `values-content-secret-<name>` and are passed to helm after `values`. Terraform " +
					"cannot see changes to a write-only value: change `sensitive_values_version` to apply new ones.",
				Validators: []validator.String{yamlValuesValidator{sensitive: true}},
			},
			"sensitive_values_version": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Any string (e.g. `\"1\"` or a hash); changing it runs an upgrade with the current `sensitive_values`.",
			},
			"repository_username": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "User name for a chart repository or OCI registry (or its mirror, see the provider's " +
					"`chart_repository_mirrors`) that needs basic authentication; requires `repository_password`.",
				Validators: []validator.String{funcValidator{"must be 1 to 256 characters without ':' or line breaks", checkRepositoryUsername}},
			},
			"repository_password": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				WriteOnly: true,
				MarkdownDescription: "Write-only password or token for `repository_username`: never stored in state, plan or a ConfigMap. " +
					"It reaches the install pod from Secret `values-content-secret-<name>` and helm only on its standard input " +
					"(`helm repo add --password-stdin`, or `helm registry login --password-stdin` for `oci://`). Change " +
					"`repository_password_version` to use a new one.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"repository_password_version": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Any string; changing it runs an upgrade with the current `repository_password` (a rotated credential).",
			},
			"repository_credentials_secret": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Credentials for the chart repository or OCI registry (or its mirror) from a Secret you made in the install namespace `" +
					kube.DefaultInstallNamespace + "`, with the keys `" + kube.SecretKeyUsername + "` and `" + kube.SecretKeyPassword + "` (a `kubernetes.io/basic-auth` Secret; " +
					"e.g. one that External Secrets or Vault keeps up to date). The kubelet mounts just those two keys into the install pod, which passes the " +
					"password to helm on its standard input; neither the provider nor the installer's service account reads the Secret (the provider " +
					"checks with a metadata-only request that it exists), so the password is in no state, plan, log or ConfigMap. It must be in the " +
					"install namespace because a pod can mount only Secrets of its own namespace; create that namespace first (a namespace the provider did " +
					"not create is never deleted). A missing key fails the install pod with a message naming it. The Secret is read anew by every " +
					"install or upgrade pod: rotate the password in the Secret, no attribute needs to change. Changing `name` runs an upgrade. " +
					"Conflicts with `repository_username` and `repository_password`.",
				Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "Name of the Secret in the install namespace; not one of clusterkit's own `values-content-secret-<name>` Secrets.",
						Validators:          []validator.String{funcValidator{"must name a Secret of your own", kube.CheckRepositoryCredentialsSecret}},
					},
				},
			},
			"repository_ca_cert": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "PEM CA certificate(s) of an `https://` chart repository or `oci://` registry (or its mirror) whose TLS certificate a " +
					"private CA signed, e.g. `file(\"repo-ca.pem\")`. helm trusts these instead of the installer image's CA bundle (`--ca-file`, for " +
					"`helm repo add`, `helm registry login` and the chart's download). Checked at plan time: only `CERTIFICATE` blocks, never a key. " +
					"It is public: it is stored in state and in the values ConfigMap. Changing it alone runs no pod; the next one uses it.",
				Validators: []validator.String{funcValidator{"must be PEM CA certificates", kube.CheckRepositoryCA}},
			},
			"verify": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Verify the chart's provenance before installing it (helm `--verify`, as `helm_release` has): an `https://` repository must serve " +
					"a provenance file (`<chart>-<version>.tgz.prov`), an `oci://` registry must hold it with the chart (`helm push` sends the " +
					"`.prov` file next to the chart's `.tgz` as a layer of the chart's manifest; Helm 3 and 4 read it), signed by a key of " +
					"`keyring` whose checksum matches the chart; an unsigned, " +
					"tampered or foreign-signed chart fails the install pod before anything is applied, with helm's reason. Requires `keyring`. " +
					"Default `false`. Changing it runs an upgrade, which fetches and verifies the chart again.",
			},
			"keyring": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "With `verify = true`: the public keys of the chart's signers, ASCII-armored as `gpg --export --armor <key>` writes them " +
					"(several blocks may be concatenated), e.g. `file(\"chart-signers.asc\")`. The provider hands them to helm as a binary keyring " +
					"(`--keyring`), which Helm 3 and 4 both read. A private key is refused at plan time. Changing it runs an upgrade.",
				Validators: []validator.String{funcValidator{"must be ASCII-armored OpenPGP public keys", kube.CheckKeyring}},
			},
			"installer_image": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(kube.DefaultInstallerImage),
				MarkdownDescription: "Image of the install pods: it needs helm (3 or 4) and a POSIX shell; the pod's script picks helm's flags from " +
					"the helm it finds. Default `" + kube.DefaultInstallerImage + "` (pinned). Changing it (or a provider upgrade changing the " +
					"default) never upgrades an installed release by itself: the next install, upgrade or uninstall pod uses the new image.",
				Validators: []validator.String{funcValidator{"must be a container image reference", kube.CheckImage}},
			},
			"installer_cluster_admin": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "Run the install pods as `cluster-admin` (needed by charts with CRDs or other cluster-scoped objects). " +
					"Default: what the catalog entry says, `false` for a custom chart, in which case the installer service account " +
					"gets the `admin` ClusterRole inside the release namespace only. Either binding exists only while an install, upgrade " +
					"or uninstall pod runs.",
			},
			"installer_service_account": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Run the install pods as this existing service account in the install namespace `" + kube.DefaultInstallNamespace + "` " +
					"instead of the app's own `installer-<name>`, which the provider creates and binds. The provider grants this one nothing " +
					"and never deletes it: give it what the chart needs (cluster-admin for charts with CRDs). Use it when your own RBAC " +
					"policy or admission policies define who installs charts. Create the namespace and the " +
					"service account first; a namespace the provider did not create is used and never deleted. Conflicts with `installer_cluster_admin`.",
				Validators: []validator.String{funcValidator{"must be a service account name", kube.CheckServiceAccountName}},
			},
			"installer_pod_labels": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "Extra labels of the install pods (e.g. for admission policies). clusterkit's own labels cannot be overridden.",
				Validators:          []validator.Map{mapFuncValidator{"must be valid Kubernetes labels", kube.CheckPodLabels}},
			},
			"installer_pod_annotations": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "Extra annotations of the install pods. `" + kube.AnnotationOwner + "` is set by clusterkit.",
				Validators:          []validator.Map{mapFuncValidator{"must be valid Kubernetes annotations", kube.CheckPodAnnotations}, mapvalidator.SizeAtMost(64)},
			},
			"installer_node_selector": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Node labels the install pods' node must have (the pod's `nodeSelector`), e.g. " +
					"`{ \"node-role.example.com/platform\" = \"true\" }`. " + placementNote,
				Validators: []validator.Map{mapFuncValidator{"must be node labels (label keys and values)", kube.CheckNodeSelector}},
			},
			"installer_tolerations": schema.ListNestedAttribute{
				Optional: true,
				MarkdownDescription: "Tolerations of the install pods, for clusters whose nodes are tainted (e.g. dedicated " +
					"platform nodes): without a matching toleration the pod stays `Pending` (the scheduler reports an " +
					"untolerated taint) until the operation's timeout, then the apply fails and the pod is deleted. " + placementNote,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"key":      schema.StringAttribute{Optional: true, MarkdownDescription: "Taint key to tolerate; unset (with `operator = \"Exists\"`) tolerates every taint."},
					"operator": schema.StringAttribute{Optional: true, MarkdownDescription: "`Equal` (the default: the taint's value must be `value`) or `Exists` (any value)."},
					"value":    schema.StringAttribute{Optional: true, MarkdownDescription: "Taint value to match (only with `Equal`)."},
					"effect":   schema.StringAttribute{Optional: true, MarkdownDescription: "Taint effect to tolerate: `NoSchedule`, `PreferNoSchedule` or `NoExecute`; unset tolerates all effects."},
					"toleration_seconds": schema.Int64Attribute{Optional: true, MarkdownDescription: "Only with `effect = \"NoExecute\"`: how long the pod stays " +
						"on a node after such a taint appears (unset: for ever)."},
				}},
				Validators: []validator.List{tolerationsValidator{}},
			},
			"installer_affinity": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Affinity of the install pods (the pod's `affinity`: `nodeAffinity`, `podAffinity`, `podAntiAffinity`) as " +
					"YAML or JSON with Kubernetes' own field names, e.g. `yamlencode({ nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution = " +
					"{ nodeSelectorTerms = [{ matchExpressions = [{ key = \"kubernetes.io/arch\", operator = \"In\", values = [\"amd64\"] }] }] } } })`. " +
					"A string rather than nested attributes so that affinities copied from charts' values or manifests work as they are, " +
					"whatever Kubernetes version added a field. It is checked strictly at plan time: a misspelt or unknown field is an " +
					"error, never silently ignored. " + placementNote,
				Validators: []validator.String{funcValidator{"must be a Kubernetes affinity in YAML or JSON", kube.CheckAffinity}},
			},
			"installer_priority_class_name": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "PriorityClass of the install pods (the pod's `priorityClassName`), so that they are scheduled " +
					"(or preempt other pods) on a full cluster. The class must exist: the API server refuses the pod otherwise. " + placementNote,
				Validators: []validator.String{funcValidator{"must be a PriorityClass name", kube.CheckPriorityClassName}},
			},
			"installer_resources": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Requests and limits of the helm container, by resource name (`cpu`, `memory`, `ephemeral-storage`) " +
					"as Kubernetes quantities (`\"500m\"`, `\"256Mi\"`), e.g. to satisfy a namespace's LimitRange or ResourceQuota. " +
					"Each one given replaces the default of that name only; the defaults are requests `cpu = \"100m\"`, " +
					"`memory = \"128Mi\"` and limit `memory = \"1Gi\"`. A request above its limit is refused at plan time. " + placementNote,
				Attributes: map[string]schema.Attribute{
					"requests": schema.MapAttribute{ElementType: types.StringType, Optional: true, MarkdownDescription: "Resource requests, e.g. `{ cpu = \"250m\" }`."},
					"limits":   schema.MapAttribute{ElementType: types.StringType, Optional: true, MarkdownDescription: "Resource limits, e.g. `{ memory = \"512Mi\" }`."},
				},
				Validators: []validator.Object{resourcesValidator{}},
			},
			"installer_image_pull_secrets": schema.ListAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Secrets (type `kubernetes.io/dockerconfigjson`) in the install namespace `" + kube.DefaultInstallNamespace + "` " +
					"that the nodes use to pull `installer_image` from a private registry or mirror (the pod's `imagePullSecrets`). " +
					"Create them yourself (create the namespace first too; a namespace the provider did not create is never deleted). " +
					"Kubernetes does not check that they exist: a missing one shows as an image pull error. When set, the pull " +
					"secrets of the service account (`installer_service_account`) are not added to the pod. " + placementNote,
				Validators: []validator.List{stringListFuncValidator{"must be Secret names, each once", kube.CheckImagePullSecrets}},
			},
			"keep_failed_pod": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(true),
				MarkdownDescription: "Keep a failed install pod for `kubectl logs` until the next apply replaces it (default `true`). With `false` it is deleted once its last log lines were read into the debug log.",
			},
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{Create: true, Update: true, Delete: true},
				"Defaults: 20m each. helm's own `--timeout` is the operation's timeout less 2 minutes (the pod's deadline adds them back for fetching the chart); when it runs out helm rolls the operation back; when the operation's own timeout runs out first, the pod is deleted (helm gets SIGTERM and rolls back)."),
			"status": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Release status: helm's (`deployed`, `failed`, `pending-install`, `pending-upgrade`, ...) from its " +
					"release record; `failed` when the install pod failed. A failed release, a pending one whose install or " +
					"uninstall pod ended without finishing it (helm was killed: a stuck release, with a warning), or one " +
					"pending for longer than `timeouts.update`, shows up in the plan as an update that recovers it: the " +
					"install pod uninstalls a stuck first install, or rolls a stuck upgrade back to the last deployed " +
					"revision, then runs the planned operation.",
			},
			"revision": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "Helm release revision, from helm's release record; null after a first install that failed.",
			},
			"chart_version": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Chart version installed, from helm's release record.",
			},
			"app_version": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The version of the application the chart deploys (the chart's `appVersion`), from helm's release record; null when the chart gives none.",
			},
			"installed_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When the release was last deployed (RFC 3339).",
			},
			"outputs": schema.MapAttribute{
				ElementType:         types.StringType,
				Computed:            true,
				MarkdownDescription: "Facts a module can compose with, for catalog apps (e.g. `service` and `ingress_class` of `ingress-nginx`; object names follow `name` and a `fullnameOverride` in the values, as the chart names them), plus `endpoint`: the load balancer address of that Service once the cloud assigned one (read on every refresh). Empty for custom charts.",
			},
		}),
	}
}

// withAttributes adds more to attrs (names are unique across them).
func withAttributes(more, attrs map[string]schema.Attribute) map[string]schema.Attribute {
	for k, a := range more {
		attrs[k] = a
	}
	return attrs
}

// placementNote ends the description of each installer placement attribute.
const placementNote = "It applies to the install, upgrade and uninstall pods alike. Changing it alone runs no pod and " +
	"never touches the release (an in-place update of state only); the next pod uses it. None of the placement settings can " +
	"make the pods incompatible with Pod Security `restricted`: the pods' security context stays as it is."
