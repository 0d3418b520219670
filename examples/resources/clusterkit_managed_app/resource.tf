variable "cluster_host" {
  type        = string
  description = "API server URL of an existing cluster."
}

variable "cluster_ca_certificate" {
  type        = string
  description = "PEM CA bundle of the API server."
}

variable "cluster_token" {
  type        = string
  sensitive   = true
  description = "A cluster-admin bearer token."
}

variable "registry_password" {
  type        = string
  sensitive   = true
  ephemeral   = true
  description = "Pull secret password for the custom chart's image (never stored in state)."
}

variable "internal_ca_pem" {
  description = "PEM certificate of the CA that signed the internal chart repository's TLS certificate, e.g. file(\"internal-ca.pem\")."
  type        = string
}

variable "chart_signers_keyring" {
  description = "ASCII-armored public keys of those who sign the internal charts (gpg --export --armor <signer>), e.g. file(\"chart-signers.asc\")."
  type        = string
}

variable "chart_registry_password" {
  type        = string
  sensitive   = true
  ephemeral   = true
  description = "Password or token of the private chart registry's robot account (never stored in state)."
}

resource "clusterkit_cluster_integration" "this" {
  host                   = var.cluster_host
  cluster_ca_certificate = var.cluster_ca_certificate
  token                  = var.cluster_token
}

# A catalog app: pinned chart version and production-leaning defaults; your values are
# merged over them key by key.
resource "clusterkit_managed_app" "ingress" {
  cluster_connection = clusterkit_cluster_integration.this.cluster_connection

  name = "ingress-nginx"
  app  = "ingress-nginx" # installed into namespace "ingress-nginx" unless `namespace` says otherwise

  values = yamlencode({
    controller = {
      replicaCount = 3
      service      = { annotations = { "service.beta.kubernetes.io/aws-load-balancer-type" = "nlb" } }
    }
  })
}

# Any chart, by repository, name and pinned version.
resource "clusterkit_managed_app" "podinfo" {
  cluster_connection = clusterkit_cluster_integration.this.cluster_connection

  name      = "podinfo"
  namespace = "demo"
  chart = {
    repository = "https://stefanprodan.github.io/podinfo"
    name       = "podinfo"
    version    = "6.7.1"
  }

  # Several documents, merged in order as helm_release takes them (helm merges them: a
  # later one wins key by key, a null removes a key): e.g. what every environment shares,
  # then this environment's overrides. One string works too.
  values = [
    yamlencode({
      replicaCount = 2
      ingress = {
        enabled   = true
        className = clusterkit_managed_app.ingress.outputs["ingress_class"]
        hosts     = [{ host = "podinfo.example.com", paths = [{ path = "/", pathType = "Prefix" }] }]
      }
    }),
    yamlencode({ replicaCount = 3 }),
  ]

  # helm's switches. The defaults are wait, atomic (roll back a failed upgrade) and
  # cleanup_on_fail on, max_history 10; changing one alone runs no pod.
  wait_for_jobs = true # the chart's migration Job must finish before the apply does
  max_history   = 5

  # Write-only: passed to helm from a Secret, never written to state or plan. Bump the
  # version to apply a new value.
  sensitive_values         = yamlencode({ registryCredentials = { password = var.registry_password } })
  sensitive_values_version = "1"

  installer_pod_labels = { "policy.example.com/tier" = "platform" }

  timeouts = {
    create = "15m"
  }
}

# A chart from a private OCI registry (the same for a private HTTP repository: repository =
# "https://charts.example.com/internal"), with a robot account. The password is write-only:
# it reaches the install pod only through the app's values Secret, and helm reads it on its
# standard input (helm registry login, or helm repo add, --password-stdin). Change the
# version to use a rotated password.
resource "clusterkit_managed_app" "internal_api" {
  cluster_connection = clusterkit_cluster_integration.this.cluster_connection

  name      = "internal-api"
  namespace = "internal"
  chart = {
    repository = "oci://registry.example.com/charts"
    name       = "internal-api"
    version    = "2.4.0"
  }

  repository_username         = "ci-robot"
  repository_password         = var.chart_registry_password
  repository_password_version = "2026-12"
}

# A chart from the company's private HTTPS repository, whose TLS certificate the company's own
# CA signed, with credentials that never pass through Terraform: a kubernetes.io/basic-auth
# Secret (keys username and password) that the platform team keeps in the install namespace
# clusterkit-managed-apps (e.g. synced by External Secrets). The kubelet mounts just those two
# keys into the install pod; the provider only checks that the Secret exists, and rotating the
# password in the Secret needs no change here. helm trusts the CA for this repository only
# (--ca-file) and verifies the chart's provenance file against the signers' public keys.
resource "clusterkit_managed_app" "billing" {
  cluster_connection = clusterkit_cluster_integration.this.cluster_connection

  name      = "billing"
  namespace = "billing"
  chart = {
    repository = "https://charts.internal.example.com/stable"
    name       = "billing"
    version    = "3.1.0"
  }

  repository_credentials_secret = { name = "internal-charts-robot" }
  repository_ca_cert            = var.internal_ca_pem

  verify  = true
  keyring = var.chart_signers_keyring
}

# A locked-down cluster: the install pods run only on the tainted platform nodes, with a
# priority class, requests and limits that fit the namespace's LimitRange, and a private
# mirror of the helm image whose pull secret you created in clusterkit-managed-apps. None of
# this changes the release: changing it later runs no pod, the next one uses it.
resource "clusterkit_managed_app" "cert_manager" {
  cluster_connection = clusterkit_cluster_integration.this.cluster_connection

  name = "cert-manager"
  app  = "cert-manager"

  installer_image              = "registry.example.com/mirror/alpine/helm:4.3.2"
  installer_image_pull_secrets = ["mirror-pull"]

  installer_node_selector = { "node-role.example.com/platform" = "true" }
  installer_tolerations = [
    { key = "dedicated", operator = "Equal", value = "platform", effect = "NoSchedule" },
  ]
  installer_affinity = yamlencode({
    nodeAffinity = {
      requiredDuringSchedulingIgnoredDuringExecution = {
        nodeSelectorTerms = [{ matchExpressions = [{ key = "kubernetes.io/arch", operator = "In", values = ["amd64", "arm64"] }] }]
      }
    }
  })
  installer_priority_class_name = "platform-critical"
  installer_resources = {
    requests = { cpu = "200m", memory = "256Mi" }
    limits   = { memory = "512Mi" }
  }
}

output "podinfo_status" {
  value = "${clusterkit_managed_app.podinfo.status} (revision ${coalesce(clusterkit_managed_app.podinfo.revision, 0)}, chart ${clusterkit_managed_app.podinfo.chart_version})"
}
