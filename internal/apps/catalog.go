package apps

// The catalog. Bump a version here (one row per app) after checking the repository's
// index.yaml and the chart's upgrade notes against DefaultValues.
//
// Reviewed 2026-11-24 against public release records (no chart repository is reachable
// from CI): every pinned version is a published release, moved to the latest patch of
// its line where that line had security fixes (cert-manager v1.19.6 for
// GHSA-8rvj-mm4h-c258, jupyterhub 4.3.3, ingress-nginx 4.13.5, knative-operator
// v1.19.6). Newer minor or major lines exist for most entries (kube-prometheus-stack 91,
// cert-manager 1.21, cilium 1.20, crossplane 2.4, eck-operator 3.5, fluent-bit 0.58,
// gitlab-runner 0.92); moving to them needs a review of their breaking values changes.

func init() {
	register(App{
		Name:        "ingress-nginx",
		Description: "NGINX Ingress controller (kubernetes/ingress-nginx): an IngressClass \"nginx\" behind a LoadBalancer Service.",
		Notice: "The kubernetes/ingress-nginx project was retired by Kubernetes SIG Network in March 2026: it gets no further releases " +
			"or security fixes. It stays in the catalog for existing clusters; for a new one prefer a maintained controller " +
			"(a Gateway API implementation, or another ingress controller as a custom chart).",
		Repository:        "https://kubernetes.github.io/ingress-nginx",
		Chart:             "ingress-nginx",
		Version:           "4.13.5",
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
		Name:              "cert-manager",
		Description:       "cert-manager (jetstack): X.509 certificates from ACME (Let's Encrypt) and other issuers; optionally a ClusterIssuer (see CertManagerClusterIssuer).",
		Repository:        "https://charts.jetstack.io",
		Chart:             "cert-manager",
		Version:           "v1.19.6",
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
		Name:              "prometheus",
		Description:       "kube-prometheus-stack: Prometheus Operator, Prometheus, Alertmanager, Grafana, node-exporter and kube-state-metrics.",
		Repository:        "https://prometheus-community.github.io/helm-charts",
		Chart:             "kube-prometheus-stack",
		Version:           "77.0.0",
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
		Repository:  "https://charts.gitlab.io",
		Chart:       "gitlab-runner",
		Version:     "0.80.0",
		Namespace:   "gitlab-runner",
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
		Name:              "jupyterhub",
		Description:       "JupyterHub (Zero to JupyterHub): multi-user Jupyter notebooks, served by the proxy-public Service.",
		Repository:        "https://hub.jupyter.org/helm-chart/",
		Chart:             "jupyterhub",
		Version:           "4.3.3",
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
		Name:              "knative-operator",
		Description:       "Knative Operator: installs and upgrades Knative Serving and Eventing from KnativeServing / KnativeEventing resources.",
		Repository:        "https://knative.github.io/operator",
		Chart:             "knative-operator",
		Version:           "v1.19.6",
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
		Name:              "crossplane",
		Description:       "Crossplane: manage cloud infrastructure through Kubernetes APIs (providers and compositions installed separately).",
		Repository:        "https://charts.crossplane.io/stable",
		Chart:             "crossplane",
		Version:           "2.0.2",
		Namespace:         "crossplane-system",
		NeedsClusterAdmin: true,
		UninstallOrder:    30,
		DefaultValues: `replicas: 1
metrics:
  enabled: true
`,
	})

	register(App{
		Name:              "eck-operator",
		Description:       "Elastic Cloud on Kubernetes operator: runs Elasticsearch, Kibana and other Elastic Stack resources.",
		Repository:        "https://helm.elastic.co",
		Chart:             "eck-operator",
		Version:           "3.1.0",
		Namespace:         "elastic-system",
		NeedsClusterAdmin: true, // CRDs, webhook, cluster-wide operator
		UninstallOrder:    30,
		DefaultValues: `installCRDs: true
`,
	})

	register(App{
		Name:              "fluent-bit",
		Description:       "Fluent Bit log processor as a DaemonSet; ships container logs to stdout until outputs are configured.",
		Repository:        "https://fluent.github.io/helm-charts",
		Chart:             "fluent-bit",
		Version:           "0.52.0",
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
		Name:              "cilium",
		Description:       "Cilium CNI with Hubble; replaces the cluster's pod networking, so review the values for your platform before installing.",
		Repository:        "https://helm.cilium.io/",
		Chart:             "cilium",
		Version:           "1.18.2",
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
