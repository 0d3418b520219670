package kube

import (
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Install pods: one-off pods running helm in the cluster (no helm or kubectl on the
// Terraform runner), with the chart values mounted from a ConfigMap (and a Secret for
// sensitive values).

const (
	// DefaultInstallNamespace holds the install pods, their values and the installer
	// service account.
	DefaultInstallNamespace = "clusterkit-managed-apps"
	// DefaultInstallerImage is the helm image (Helm 4.3.2 on Alpine); it has helm and a
	// POSIX shell, not kubectl. The pod's script works with Helm 3 images too: it picks
	// its flags from the helm binary it finds.
	DefaultInstallerImage = "alpine/helm:4.3.2"
	// DefaultInstallTimeout is helm's --timeout when the spec sets none.
	DefaultInstallTimeout = 10 * time.Minute
	// InstallDeadlineMargin is added to the helm timeout for the pod's
	// activeDeadlineSeconds: repository fetches and the extra steps run outside helm's
	// own timeout.
	InstallDeadlineMargin = 2 * time.Minute
	// installScheduleGrace is how much longer than the pod's deadline RunInstallPod waits:
	// the deadline only counts once the kubelet has the pod (not while it is unscheduled).
	installScheduleGrace = 2 * time.Minute

	// SharedInstallOwner owns what all managed apps of a cluster share: the install
	// namespace. Any managed app may create it; the last one destroyed removes it.
	SharedInstallOwner = "clusterkit/managed-apps"

	// LabelApp names the app (release) an install pod or its config belongs to.
	LabelApp = "clusterkit.dev/app"
	// LabelAction is "install" or "uninstall" on install pods.
	LabelAction = "clusterkit.dev/action"

	// ValuesFile and SecretValuesFile are the keys of the values ConfigMap and Secret,
	// and the files' names in the pod's config directory.
	ValuesFile       = "values.yaml"
	SecretValuesFile = "secret-values.yaml"
	// RepositoryPasswordFile is the values Secret's key (and the pod's file) holding the
	// chart repository's password.
	RepositoryPasswordFile = "repository-password"
	// RepositoryUsernameFile is the pod's file holding the user name read from the
	// repository credentials Secret (InstallSpec.RepositoryCredentialsSecret).
	RepositoryUsernameFile = "repository-username"
	// RepositoryCAFile is the values ConfigMap's key (and the pod's file) holding the
	// repository's CA certificates (InstallSpec.RepositoryCA), passed to helm's --ca-file.
	RepositoryCAFile = "repository-ca.crt"
	// RepositoryKeyringFile is the values ConfigMap's binary key (and the pod's file)
	// holding the OpenPGP public keyring of InstallSpec.Keyring, passed to helm's --keyring.
	RepositoryKeyringFile = "repository-keyring.gpg"

	// InstallGracePeriod is the install pod's terminationGracePeriodSeconds.
	InstallGracePeriod = 2 * time.Minute

	installContainer = "helm"
	installerUID     = int64(65534) // "nobody"
)

// Action is what an install pod does.
type Action string

const (
	ActionInstall   Action = "install"
	ActionUninstall Action = "uninstall"
)

// InstallSpec describes one managed app's install (or uninstall) pod.
type InstallSpec struct {
	// Namespace holds the pods, the values ConfigMap/Secret and the installer service
	// account (default DefaultInstallNamespace).
	Namespace string
	// Name is the Helm release name (a DNS-1123 label of at most 53 characters).
	Name string
	// ReleaseNamespace is where the release goes (default: a namespace named after the
	// release); never Namespace.
	ReleaseNamespace string
	// Repository is the chart repository: https:// (or http:// when a caller allows it)
	// for a classic repository, oci:// for an OCI registry. Chart is the chart's name in it.
	Repository string
	Chart      string
	// Version is the chart version, always pinned.
	Version string
	// Values (YAML) go to a ConfigMap; SensitiveValues (YAML) to a Secret, never a
	// ConfigMap. Both are passed to helm with -f, sensitive values last.
	Values          string
	SensitiveValues string
	// MoreValues are further YAML documents (ConfigMap keys MoreValuesFile(i)), passed
	// with -f after Values and before SensitiveValues: helm merges them in order, each
	// overriding the ones before (maps merged key by key, anything else replaced).
	MoreValues []string
	// Helm holds helm upgrade --install's switches (zero value: clusterkit's defaults).
	Helm HelmOptions
	// RepositoryUsername and RepositoryPassword authenticate to the chart repository or
	// OCI registry (basic auth). The password goes to the values Secret only, and from
	// there to helm's standard input: never a command line, a ConfigMap or an env var.
	RepositoryUsername string
	RepositoryPassword string
	// RepositoryCredentialsSecret, instead of RepositoryUsername and RepositoryPassword,
	// names a Secret in Namespace (the install namespace) that the user made, with the keys
	// SecretKeyUsername and SecretKeyPassword (a kubernetes.io/basic-auth Secret). The
	// kubelet mounts those two keys into the install pod; neither the provider nor the
	// installer's service account ever reads the Secret (the provider only checks, with a
	// metadata-only request, that it exists and is not one of clusterkit's own).
	RepositoryCredentialsSecret string
	// RepositoryCA holds PEM CA certificates that helm trusts for the chart repository or
	// OCI registry (--ca-file) instead of the image's bundle: for a repository whose TLS
	// certificate a private CA signed. Stored in the values ConfigMap (it is public).
	RepositoryCA string
	// Verify: helm --verify, the chart must have a provenance file (.prov) signed by a key
	// of Keyring and match it, or the install fails before anything is applied.
	Verify bool
	// Keyring holds ASCII-armored OpenPGP public keys (gpg --export --armor); it reaches
	// helm as a binary keyring file (--keyring), which Helm 3 and 4 both read.
	Keyring string
	// ExtraFiles are more files for the config directory (e.g. a cert-manager
	// ClusterIssuer manifest read by a PostInstall step), stored in the ConfigMap.
	ExtraFiles map[string]string
	// Image is the helm image (default DefaultInstallerImage).
	Image string
	// ServiceAccount runs the pods (default InstallerServiceAccountName(Name)).
	ServiceAccount string
	// ExternalServiceAccount: ServiceAccount is the user's own, already in Namespace. It
	// is neither created, bound nor deleted here; the user grants it what the chart needs.
	ExternalServiceAccount bool
	// ClusterAdmin binds the installer service account to cluster-admin (charts with CRDs
	// or other cluster-scoped objects); otherwise it gets the "admin" ClusterRole inside
	// ReleaseNamespace only. The binding is per app, the service account shared, so a
	// pod runs with the union of the rights granted to the apps sharing it.
	ClusterAdmin bool
	// Timeout is helm's --timeout (default DefaultInstallTimeout); the pod's deadline is
	// Timeout + InstallDeadlineMargin.
	Timeout time.Duration
	// PodLabels and PodAnnotations are added to the pod; they cannot replace clusterkit's.
	PodLabels      map[string]string
	PodAnnotations map[string]string
	// Owner names the resource that owns the per-app objects (values, bindings).
	Owner string
	// PreInstall and PostInstall run around helm upgrade --install; PreUninstall before
	// helm uninstall. Each is a POSIX shell script (a file the catalog embeds), stored in
	// the values ConfigMap and run with sh -e; it sees $CONFIG_DIR, $RELEASE_NAME and
	// $RELEASE_NAMESPACE.
	PreInstall   []string
	PostInstall  []string
	PreUninstall []string
	// UninstallOrder: apps destroyed together are uninstalled lowest first (see
	// WaitForEarlierUninstalls).
	UninstallOrder int
	// KeepFailedPod keeps a Failed pod for inspection (kubectl logs) until the next run
	// replaces it; when false a Failed pod is deleted after its logs were read. The
	// provider sets it to true.
	KeepFailedPod bool
	// AllowHTTPRepository permits an http:// chart repository (local testing only).
	AllowHTTPRepository bool

	// Placement and policy of the install and uninstall pods (locked-down clusters). None
	// of them changes what helm does; none can make the pod incompatible with Pod
	// Security "restricted" (no host namespaces, privileges or volume types are offered).
	//
	// NodeSelector: node labels the pods' node must have.
	NodeSelector map[string]string
	// Tolerations let the pods onto nodes with matching taints.
	Tolerations []Toleration
	// Affinity is a Kubernetes affinity (nodeAffinity, podAffinity, podAntiAffinity) as
	// YAML or JSON, decoded strictly: an unknown field is an error, not ignored.
	Affinity string
	// PriorityClassName names an existing PriorityClass.
	PriorityClassName string
	// Resources override the helm container's default requests and limits, name by name.
	Resources Resources
	// ImagePullSecrets name Secrets in Namespace that the node uses to pull Image (a
	// private mirror). Kubernetes then ignores the service account's own pull secrets.
	ImagePullSecrets []string
}

// Toleration lets the install pods onto nodes with a matching taint (Kubernetes'
// toleration, field by field).
type Toleration struct {
	// Key is the taint key; empty (with Operator Exists) matches every taint.
	Key string
	// Operator is TolerationEqual (the default when empty) or TolerationExists.
	Operator string
	// Value is compared with the taint's value (Equal only).
	Value string
	// Effect is the taint effect to tolerate: NoSchedule, PreferNoSchedule, NoExecute, or
	// empty for all.
	Effect string
	// Seconds (NoExecute only) is how long the pod stays on a node after such a taint was
	// added; nil: for ever.
	Seconds *int64
}

// Toleration operators and taint effects.
const (
	TolerationEqual  = "Equal"
	TolerationExists = "Exists"
)

var taintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

// Resources are container requests and limits by resource name (cpu, memory,
// ephemeral-storage) as Kubernetes quantities ("500m", "256Mi").
type Resources struct {
	Requests map[string]string
	Limits   map[string]string
}

// DefaultInstallResources are the helm container's requests and limits; a name given in
// InstallSpec.Resources replaces the default of that name only.
var DefaultInstallResources = Resources{
	Requests: map[string]string{"cpu": "100m", "memory": "128Mi"},
	Limits:   map[string]string{"memory": "1Gi"},
}

// installResourceNames are the resources a user may request or limit.
var installResourceNames = []string{"cpu", "memory", "ephemeral-storage"}

// WithDefaults returns the spec with every unset field at its default.
func (s InstallSpec) WithDefaults() InstallSpec {
	if s.Namespace == "" {
		s.Namespace = DefaultInstallNamespace
	}
	if s.ReleaseNamespace == "" {
		s.ReleaseNamespace = s.Name
	}
	if s.Image == "" {
		s.Image = DefaultInstallerImage
	}
	if s.ServiceAccount == "" {
		s.ServiceAccount = InstallerServiceAccountName(s.Name)
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultInstallTimeout
	}
	if s.Owner == "" {
		s.Owner = "managed_app/" + s.ReleaseNamespace + "/" + s.Name
	}
	s.Helm = s.Helm.WithDefaults()
	return s
}

// Validate checks the spec (after WithDefaults) without talking to a cluster, so bad
// input is reported at plan time and never leaves half-made objects.
func (s InstallSpec) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	add(CheckReleaseName(s.Name))
	add(CheckNamespace(s.Namespace))
	add(CheckReleaseNamespace(s.ReleaseNamespace))
	if s.ReleaseNamespace == s.Namespace && s.Namespace != DefaultInstallNamespace {
		bad("release namespace %q is the install namespace, which holds every app's values, credentials and installers; release into a namespace of the app's own", s.ReleaseNamespace)
	}
	if msgs := validation.IsDNS1123Subdomain(s.ServiceAccount); len(msgs) > 0 {
		bad("service account %q must be a DNS-1123 subdomain", s.ServiceAccount)
	}
	if s.ExternalServiceAccount && s.ServiceAccount == InstallerServiceAccountName(s.Name) {
		bad("service account name %q is the provider's own installer for this app; pick another name", s.ServiceAccount)
	}
	if s.ExternalServiceAccount && s.ClusterAdmin {
		bad("cluster-admin is granted only to the provider's own installer service account, not to %q", s.ServiceAccount)
	}
	add(CheckRepository(s.Repository, s.AllowHTTPRepository))
	add(CheckChartName(s.Chart))
	add(CheckChartVersion(s.Version))
	add(CheckImage(s.Image))
	if s.Timeout < time.Second || s.Timeout > 24*time.Hour {
		bad("timeout %s must be between 1s and 24h", s.Timeout)
	}
	if err := validateValuesYAML(s.Values); err != nil {
		bad("values: %v", err)
	}
	add(checkMoreValues(s.MoreValues))
	add(s.Helm.Check())
	if s.RepositoryPassword != "" && s.RepositoryUsername == "" {
		bad("a repository password needs a repository username")
	}
	if strings.ContainsAny(s.RepositoryUsername, ":\n\r\x00") {
		bad("repository username must not contain ':', line breaks or NUL")
	}
	add(s.checkRepositoryAccess())
	if err := validateValuesYAML(s.SensitiveValues); err != nil {
		// yaml errors quote the offending line; keep sensitive text out of the message.
		bad("sensitive values are not a YAML mapping")
	}
	for name := range s.ExtraFiles {
		if !fileNameRe.MatchString(name) || name == ValuesFile || name == SecretValuesFile || slices.Contains(repositoryFiles, name) ||
			moreValuesFileRe.MatchString(name) || strings.HasPrefix(name, stepFilePrefix) || len(name) > 253 {
			bad("extra file name %q must be a plain file name other than %s, values-<n>.yaml, %s, %s and %s*", name, ValuesFile, SecretValuesFile,
				strings.Join(repositoryFiles, ", "), stepFilePrefix)
		}
	}
	add(CheckPodLabels(s.PodLabels))
	add(CheckPodAnnotations(s.PodAnnotations))
	add(CheckNodeSelector(s.NodeSelector))
	add(CheckTolerations(s.Tolerations))
	add(CheckAffinity(s.Affinity))
	add(CheckPriorityClassName(s.PriorityClassName))
	add(CheckResources(s.Resources))
	add(CheckImagePullSecrets(s.ImagePullSecrets))
	for _, field := range []string{s.Name, s.Namespace, s.ReleaseNamespace, s.Repository, s.Chart, s.Version, s.Image} {
		if strings.ContainsRune(field, 0) {
			bad("a NUL character cannot be passed to a command")
			break
		}
	}
	for _, step := range slices.Concat(s.PreInstall, s.PostInstall, s.PreUninstall) {
		if strings.ContainsRune(step, 0) {
			bad("a NUL character cannot be passed to a shell step")
		}
	}
	return errors.Join(errs...)
}

func validateValuesYAML(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		return fmt.Errorf("not a YAML mapping: %w", err)
	}
	return nil
}

// Names of the objects an app's install uses.

// InstallPodName is "install-<name>" or "uninstall-<name>".
func InstallPodName(name string, action Action) string { return string(action) + "-" + name }

// ValuesConfigMapName holds values.yaml (and extra files).
func ValuesConfigMapName(name string) string { return "values-content-configuration-" + name }

// ValuesSecretName holds secret-values.yaml.
func ValuesSecretName(name string) string { return "values-content-secret-" + name }

// InstallerBindingName names the app's binding of the installer service account: a
// ClusterRoleBinding to cluster-admin, or a RoleBinding to admin in the release namespace.
func InstallerBindingName(spec InstallSpec) string {
	return "clusterkit-installer-" + spec.Namespace + "-" + spec.Name
}

// ConfigDir is where the pod sees its values.
func ConfigDir(name string) string { return "/data/helm/" + name + "/config" }

// LogsCommand is what a user runs to read an install pod's logs.
func LogsCommand(namespace, pod string) string {
	return "kubectl logs -n " + ShellQuote(namespace) + " " + ShellQuote(pod)
}

// ShellQuote quotes s for a POSIX shell: it comes out as one word, taken literally.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

func helmSeconds(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10) + "s"
}

//go:embed installpod.sh
var installScript string

// stepFilePrefix starts the config files that hold catalog steps: the script runs
// step-<phase>-<NN>.sh in order (see installpod.sh).
const stepFilePrefix = "step-"

// installInputs are the script's inputs (see installpod.sh).
func installInputs(spec InstallSpec, action Action) []corev1.EnvVar {
	env := []corev1.EnvVar{
		{Name: "CLUSTERKIT_ACTION", Value: string(action)},
		{Name: "CONFIG_DIR", Value: ConfigDir(spec.Name)},
		{Name: "RELEASE_NAME", Value: spec.Name},
		{Name: "RELEASE_NAMESPACE", Value: spec.ReleaseNamespace},
		{Name: "HELM_TIMEOUT", Value: helmSeconds(spec.Timeout)},
	}
	if action == ActionInstall {
		env = append(env,
			corev1.EnvVar{Name: "CHART_REPOSITORY", Value: spec.Repository},
			corev1.EnvVar{Name: "CHART_NAME", Value: spec.Chart},
			corev1.EnvVar{Name: "CHART_VERSION", Value: spec.Version},
			corev1.EnvVar{Name: "REPOSITORY_USERNAME", Value: spec.RepositoryUsername},
			corev1.EnvVar{Name: "REPOSITORY_CREDENTIALS_SECRET", Value: spec.RepositoryCredentialsSecret},
			corev1.EnvVar{Name: "VERIFY", Value: strconv.FormatBool(spec.Verify)},
			// Without cluster rights the installer may not create namespaces; the
			// prerequisites create the release namespace instead.
			corev1.EnvVar{Name: "CREATE_NAMESPACE", Value: strconv.FormatBool(spec.ClusterAdmin)},
			// values-1.yaml ... values-<n>.yaml follow values.yaml.
			corev1.EnvVar{Name: "VALUES_FILES", Value: strconv.Itoa(len(spec.MoreValues))},
		)
		env = append(env, spec.Helm.helmInputs()...)
	}
	return env
}

// secretData is the content of the app's values Secret: sensitive values and the
// repository password (nil when there is neither).
func secretData(spec InstallSpec) map[string][]byte {
	data := map[string][]byte{}
	if spec.SensitiveValues != "" {
		data[SecretValuesFile] = []byte(spec.SensitiveValues)
	}
	if spec.RepositoryPassword != "" {
		data[RepositoryPasswordFile] = []byte(spec.RepositoryPassword)
	}
	if len(data) == 0 {
		return nil
	}
	return data
}

// secretItems mounts each key of the values Secret as a file of its own.
func secretItems(spec InstallSpec, mode *int32) []corev1.KeyToPath {
	var items []corev1.KeyToPath
	for _, key := range []string{SecretValuesFile, RepositoryPasswordFile} {
		if _, ok := secretData(spec)[key]; ok {
			items = append(items, corev1.KeyToPath{Key: key, Path: key, Mode: mode})
		}
	}
	return items
}

// configFiles is the content of the app's values ConfigMap: the values, extra files and
// the catalog steps as step-<phase>-<NN>.sh.
func configFiles(spec InstallSpec) map[string]string {
	data := maps.Clone(spec.ExtraFiles)
	if data == nil {
		data = map[string]string{}
	}
	data[ValuesFile] = spec.Values
	if spec.RepositoryCA != "" {
		data[RepositoryCAFile] = spec.RepositoryCA
	}
	for i, doc := range spec.MoreValues {
		data[MoreValuesFile(i)] = doc
	}
	for _, phase := range []struct {
		name  string
		steps []string
	}{{"pre-install", spec.PreInstall}, {"post-install", spec.PostInstall}, {"pre-uninstall", spec.PreUninstall}} {
		for i, step := range phase.steps {
			data[fmt.Sprintf("%s%s-%02d.sh", stepFilePrefix, phase.name, i+1)] = step
		}
	}
	return data
}

// InstallPod builds the pod for action. The spec should have been validated.
func InstallPod(spec InstallSpec, action Action) *corev1.Pod {
	spec = spec.WithDefaults()
	labels := maps.Clone(spec.PodLabels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelApp] = spec.Name
	labels[LabelAction] = string(action)
	meta := ownedMeta(InstallPodName(spec.Name, action), spec.Namespace, spec.Owner, labels)
	for k, v := range spec.PodAnnotations {
		if k != AnnotationOwner {
			meta.Annotations[k] = v
		}
	}
	deadline := int64(math.Ceil((spec.Timeout + InstallDeadlineMargin).Seconds()))
	grace := int64(InstallGracePeriod.Seconds())
	yes, no := true, false
	uid := installerUID
	cfg := ConfigDir(spec.Name)
	mode, secretMode := int32(0o444), int32(0o440)
	sources := []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{
		LocalObjectReference: corev1.LocalObjectReference{Name: ValuesConfigMapName(spec.Name)},
		// An uninstall must work even when the values are already gone.
		Optional: &[]bool{action == ActionUninstall}[0],
	}}}
	if items := secretItems(spec, &secretMode); len(items) > 0 && action == ActionInstall {
		sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: ValuesSecretName(spec.Name)},
			Items:                items,
		}})
	}
	if spec.RepositoryCredentialsSecret != "" && action == ActionInstall {
		sources = append(sources, credentialsProjection(spec.RepositoryCredentialsSecret, &secretMode))
	}
	tmpLimit := resource.MustParse("1Gi")
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: meta,
		Spec: corev1.PodSpec{
			RestartPolicy:         corev1.RestartPolicyNever,
			ActiveDeadlineSeconds: &deadline,
			// Placement and policy (all optional); none of them touches the security context.
			NodeSelector:      maps.Clone(spec.NodeSelector),
			Tolerations:       podTolerations(spec.Tolerations),
			Affinity:          podAffinity(spec.Affinity),
			PriorityClassName: spec.PriorityClassName,
			ImagePullSecrets:  pullSecrets(spec.ImagePullSecrets),
			// A deleted pod's helm gets SIGTERM (the script passes it on) and this long to
			// roll back before the kubelet kills it.
			TerminationGracePeriodSeconds: &grace,
			ServiceAccountName:            spec.ServiceAccount,
			AutomountServiceAccountToken:  &yes,
			EnableServiceLinks:            &no,
			// alpine/helm runs as root by default, but helm needs no privilege at all: it
			// only talks to the API server. It runs as nobody with a read-only root
			// filesystem, its home and caches on an emptyDir at /tmp (Pod Security
			// "restricted" compatible). Extra steps therefore cannot apk add anything.
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   &yes,
				RunAsUser:      &uid,
				RunAsGroup:     &uid,
				FSGroup:        &uid,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:            installContainer,
				Image:           spec.Image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				// One fixed script; everything it acts on comes in as environment variables.
				Command: []string{"/bin/sh", "-c", installScript},
				Env: append(installInputs(spec, action),
					corev1.EnvVar{Name: "HOME", Value: "/tmp"},
					corev1.EnvVar{Name: "TMPDIR", Value: "/tmp"},
					corev1.EnvVar{Name: "HELM_CACHE_HOME", Value: "/tmp/helm/cache"},
					corev1.EnvVar{Name: "HELM_CONFIG_HOME", Value: "/tmp/helm/config"},
					corev1.EnvVar{Name: "HELM_DATA_HOME", Value: "/tmp/helm/data"},
				),
				VolumeMounts: []corev1.VolumeMount{
					{Name: "configuration-volume", MountPath: cfg, ReadOnly: true},
					{Name: "tmp", MountPath: "/tmp"},
				},
				Resources: containerResources(spec.Resources),
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no,
					ReadOnlyRootFilesystem:   &yes,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				// helm writes its error last: the termination message carries it.
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			}},
			Volumes: []corev1.Volume{
				{Name: "configuration-volume", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: sources, DefaultMode: &mode,
				}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &tmpLimit}}},
			},
		},
	}
}

// InstallerServiceAccountName is the app's own installer service account: one per app, so
// an app's install pod never holds the rights another app's installer was granted.
func InstallerServiceAccountName(app string) string { return installerPrefix + app }

const installerPrefix = "installer-"
