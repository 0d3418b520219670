package apps

// The catalog. Bump a version here (one row per app) after checking the repository's
// index.yaml and the chart's upgrade notes against DefaultValues, and rewrite the entry's
// Support (the evidence that the pinned line is maintained) in the same change.
//
// Reviewed SupportReviewed (2026-12-01) against public release records and support
// policies (no chart repository is reachable from CI, so nothing here was pulled): every
// entry is on a line its project still maintains, except ingress-nginx, whose project was
// retired in March 2026 and has no maintained line at all; it is pinned to 4.13.9, the
// final release. Entries whose projects publish no support window (kube-prometheus-stack,
// jupyterhub, eck-operator) are on the newest release. The defaults were checked against
// the breaking changes known for each new line: none removes or renames a key they set
// (gitlab-runner's and kube-prometheus-stack's defaults were not compared with the new
// charts' values files; their Support says so).
// Changing a pin plans an upgrade of every installed release of the entry (the resource
// compares the installed chart version with the pin); `version` on the resource holds
// one back.

// SupportReviewed is the date the entries' Support texts were last checked.
const SupportReviewed = "2026-12-01"

func init() {
	register(App{
		Name:        "ingress-nginx",
		Description: "NGINX Ingress controller (kubernetes/ingress-nginx): an IngressClass \"nginx\" behind a LoadBalancer Service.",
		Notice: "The kubernetes/ingress-nginx project was retired by Kubernetes SIG Network in March 2026: it gets no further releases " +
			"or security fixes. It stays in the catalog for existing clusters; for a new one prefer a maintained controller " +
			"(a Gateway API implementation, or another ingress controller as a custom chart).",
		Support: "No maintained line: Kubernetes SIG Network retired the project in March 2026 and archived the repository, so no release line gets fixes any more. " +
			"4.13.9 is the final release of the 4.13 line, its last patch; nothing later will come, so the pin stays out of support. " +
			"Sources: kubernetes/org#6231 (retirement and archival); kubernetes/ingress-nginx tag helm-chart-4.13.9.",
		Repository:        "https://kubernetes.github.io/ingress-nginx",
		Chart:             "ingress-nginx",
		Version:           "4.13.9",
		Namespace:         "ingress-nginx",
		NeedsClusterAdmin: true, // IngressClass, ClusterRole, validating webhook
		UninstallOrder:    100,  // last but the CNI: other apps are reached through it
		DefaultValues: `controller:
  replicaCount: 2
  ingressClassResource:
    name: nginx
    default: false
  metrics:
    enabled: true
  podAnnotations:
    prometheus.io/scrape: "true"
    prometheus.io/port: "10254"
  service:
    externalTrafficPolicy: Local
`,
		Outputs: map[string]string{
			"service":       "{fullname}-controller",
			"ingress_class": "nginx",
		},
	})

	register(App{
		Name:        "cert-manager",
		Description: "cert-manager (jetstack): X.509 certificates from ACME (Let's Encrypt) and other issuers; optionally a ClusterIssuer (see CertManagerClusterIssuer).",
		Support: "Policy: a cert-manager release is maintained until the second minor after it ships, so the two newest minors are supported. " +
			"v1.21.3 is on 1.21, supported as of the review (1.19 went out of support when 1.21 was released on 2026-07-08); the patch includes the eMudhra root fix. " +
			"1.21 removed prometheus.servicemonitor.targetPort, prometheus.servicemonitor.path and prometheus.podmonitor.path and renamed the metrics port to http-metrics; " +
			"the defaults here (crds.enabled, crds.keep, prometheus.enabled) are not affected, but ServiceMonitors or scrape configs of your own that name the old port need updating. " +
			"Sources: cert-manager/website content/docs/releases/README.md; sylva-core MR !9897 (v1.21.3).",
		Repository:        "https://charts.jetstack.io",
		Chart:             "cert-manager",
		Version:           "v1.21.3",
		Namespace:         "cert-manager",
		NeedsClusterAdmin: true, // CRDs, webhooks, ClusterRoles
		UninstallOrder:    50,
		DefaultValues: `crds:
  enabled: true
  keep: true
prometheus:
  enabled: true
`,
		PostInstall:  []string{clusterIssuerInstallStep},
		PreUninstall: []string{clusterIssuerUninstallStep},
		Outputs: map[string]string{
			"webhook_service": "{fullname}-webhook",
		},
	})

	register(App{
		Name:        "prometheus",
		Description: "kube-prometheus-stack: Prometheus Operator, Prometheus, Alertmanager, Grafana, node-exporter and kube-state-metrics.",
		Support: "Policy: kube-prometheus-stack publishes no support window; fixes land only in the newest release. " +
			"91.5.0 was the newest release known at the review, so it is the supported one until the next release. " +
			"Helm does not upgrade CRDs: moving an installed release from an older major needs the Prometheus Operator CRDs applied by hand first, as the chart's UPGRADE.md describes for each major. " +
			"Since 79.x the chart ships no default Grafana admin password: set one (grafana.adminPassword, best through sensitive_values). " +
			"The default keys (prometheus.prometheusSpec.retention, serviceMonitorSelectorNilUsesHelmValues and its podMonitor and rule siblings, alertmanager.enabled, grafana.enabled) are long-standing, but were not checked against the 91.5.0 values file. " +
			"Sources: prometheus-community/helm-charts charts/kube-prometheus-stack/UPGRADE.md; ocf/kubernetes#166 (91.5.0, 2026-09-13).",
		Repository:        "https://prometheus-community.github.io/helm-charts",
		Chart:             "kube-prometheus-stack",
		Version:           "91.5.0",
		Namespace:         "monitoring",
		NeedsClusterAdmin: true, // CRDs, ClusterRoles, node-exporter DaemonSet
		UninstallOrder:    20,   // keep monitoring while the apps it watches go
		DefaultValues: `prometheus:
  prometheusSpec:
    retention: 10d
    serviceMonitorSelectorNilUsesHelmValues: false
    podMonitorSelectorNilUsesHelmValues: false
    ruleSelectorNilUsesHelmValues: false
alertmanager:
  enabled: true
grafana:
  enabled: true
`,
		FullnameMax: 26, // kube-prometheus-stack cuts its fullname short
		Outputs: map[string]string{
			"prometheus_service":   "{fullname}-prometheus",
			"alertmanager_service": "{fullname}-alertmanager",
			"grafana_service":      "{fullname:grafana}",
		},
	})

	register(App{
		Name:        "gitlab-runner",
		Description: "GitLab Runner with the Kubernetes executor; set runnerToken (a glrt- token) through sensitive values.",
		Support: "Policy: GitLab maintains the current monthly release and the two before it. " +
			"Chart 0.94.1 ships GitLab Runner 19.5.1, inside that window as of the review. " +
			"The default values were not verified against the 0.94.1 chart's values file. " +
			"Sources: GitLab (gitlabhq) doc/policy/maintenance.md; gitlab-org/charts/gitlab MR !5507 (chart 0.94.1 = Runner 19.5.1).",
		Repository: "https://charts.gitlab.io",
		Chart:      "gitlab-runner",
		Version:    "0.94.1",
		Namespace:  "gitlab-runner",
		// Namespaced Role and RoleBinding only: the namespaced "admin" role suffices.
		NeedsClusterAdmin: false,
		UninstallOrder:    10,
		DefaultValues: `gitlabUrl: https://gitlab.com/
concurrent: 4
checkInterval: 3
rbac:
  create: true
runners:
  config: |
    [[runners]]
      [runners.kubernetes]
        namespace = "{{.Release.Namespace}}"
        image = "alpine:3.22"
`,
	})

	register(App{
		Name:        "jupyterhub",
		Description: "JupyterHub (Zero to JupyterHub): multi-user Jupyter notebooks, served by the proxy-public Service.",
		Support: "Policy: Zero to JupyterHub has no formal support window; fixes are released on the newest version. " +
			"4.4.0 (2026-06-10) is the newest release known at the review and fixes GHSA-p43p-whwx-q52h (4.3.4 had fixed CVE-2026-40864). " +
			"The default values are unchanged by this line. " +
			"Sources: jupyterhub/zero-to-jupyterhub-k8s docs/source/changelog.md.",
		Repository:        "https://hub.jupyter.org/helm-chart/",
		Chart:             "jupyterhub",
		Version:           "4.4.0",
		Namespace:         "jupyterhub",
		NeedsClusterAdmin: true, // user-scheduler ClusterRole and binding
		UninstallOrder:    10,
		DefaultValues: `proxy:
  service:
    type: ClusterIP
ingress:
  enabled: false
singleuser:
  defaultUrl: /lab
`,
		Outputs: map[string]string{
			"proxy_service": "proxy-public",
		},
	})

	register(App{
		Name:        "knative-operator",
		Description: "Knative Operator: installs and upgrades Knative Serving and Eventing from KnativeServing / KnativeEventing resources.",
		Support: "Policy: Knative releases quarterly, and a release reaches end of life one week after the release two minors later ships. " +
			"v1.23.1 is on 1.23, supported until 2027-02-02. Knative 1.23 needs Kubernetes 1.34 or newer. " +
			"Sources: knative/community mechanics/RELEASE-SCHEDULE.md; linode/apl-core#3613.",
		Repository:        "https://knative.github.io/operator",
		Chart:             "knative-operator",
		Version:           "v1.23.1",
		Namespace:         "knative-operator",
		NeedsClusterAdmin: true, // CRDs and cluster-wide reconcilers
		UninstallOrder:    30,
		DefaultValues: `knative_operator:
  knative_operator:
    resources:
      requests:
        cpu: 100m
        memory: 100Mi
`,
	})

	register(App{
		Name:        "crossplane",
		Description: "Crossplane: manage cloud infrastructure through Kubernetes APIs (providers and compositions installed separately).",
		Support: "Policy: the three newest Crossplane minors are maintained, each for about nine months. " +
			"2.4.3 is on 2.4, the newest minor, supported as of the review. The default values are unchanged by this line. " +
			"Sources: crossplane/docs learn/release-cycle.md; sylva-core MR !9882.",
		Repository:        "https://charts.crossplane.io/stable",
		Chart:             "crossplane",
		Version:           "2.4.3",
		Namespace:         "crossplane-system",
		NeedsClusterAdmin: true,
		UninstallOrder:    30,
		DefaultValues: `replicas: 1
metrics:
  enabled: true
`,
	})

	register(App{
		Name:        "eck-operator",
		Description: "Elastic Cloud on Kubernetes operator: runs Elasticsearch, Kibana and other Elastic Stack resources.",
		Support: "Policy: none found; the evidence is weak (a release tag and a catalog listing, no published support window). " +
			"3.5.0 (tagged 2026-08-04) is the newest release known at the review. " +
			"Upgrading across 3.4.0 restarts the Elasticsearch and Kibana pods the operator manages and raises Kibana's default memory limit. " +
			"Sources: elastic/cloud-on-k8s docs/release-notes/breaking-changes.md; OperatorHub PR #8938 (3.5.0).",
		Repository:        "https://helm.elastic.co",
		Chart:             "eck-operator",
		Version:           "3.5.0",
		Namespace:         "elastic-system",
		NeedsClusterAdmin: true, // CRDs, webhook, cluster-wide operator
		UninstallOrder:    30,
		DefaultValues: `installCRDs: true
`,
	})

	register(App{
		Name:        "fluent-bit",
		Description: "Fluent Bit log processor as a DaemonSet; ships container logs to stdout until outputs are configured.",
		Support: "Policy: Fluent Bit publishes an end date for each major.minor line (4.0 ended 2025-12-23, 5.0 ended 2026-11-30); 5.1 is the active line. " +
			"Chart 0.58.1 ships Fluent Bit 5.1.1, supported as of the review. " +
			"The chart's health and metrics endpoints moved to /api/v2; the defaults here only set the outputs, so they are not affected, but probes or scrape configs of your own that use the old path need updating. " +
			"Sources: fluent/fluent-bit SECURITY.md.",
		Repository:        "https://fluent.github.io/helm-charts",
		Chart:             "fluent-bit",
		Version:           "0.58.1",
		Namespace:         "logging",
		NeedsClusterAdmin: true, // ClusterRole to read pod metadata
		UninstallOrder:    10,
		DefaultValues: `config:
  outputs: |
    [OUTPUT]
        Name   stdout
        Match  *
        Format json_lines
`,
	})

	register(App{
		Name:        "cilium",
		Description: "Cilium CNI with Hubble; replaces the cluster's pod networking, so review the values for your platform before installing.",
		Support: "Policy: Cilium maintains its three newest minor releases. " +
			"1.18.14 is on 1.18, which stays supported until 1.21 is released. The default values are unchanged by this line. " +
			"Sources: cilium/cilium README, \"Stable Releases\".",
		Repository:        "https://helm.cilium.io/",
		Chart:             "cilium",
		Version:           "1.18.14",
		Namespace:         "kube-system",
		NeedsClusterAdmin: true,
		UninstallOrder:    1000, // the network goes last
		DefaultValues: `operator:
  replicas: 1
hubble:
  relay:
    enabled: true
  ui:
    enabled: false
`,
	})
}
