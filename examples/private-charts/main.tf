# Charts from private sources: an HTTPS chart repository whose credentials come from a Secret
# in the cluster and whose certificate a private CA signed, with verified provenance; and an
# OCI registry with a robot account whose password is write-only. See
# docs/guides/private-charts.md.
terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

provider "clusterkit" {}

variable "cluster_host" {
  type        = string
  description = "API server URL of the cluster."
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

variable "charts_ca_pem" {
  type        = string
  description = "PEM certificate of the CA that signed the chart repository's and registry's TLS certificates, e.g. file(\"charts-ca.pem\")."
}

variable "chart_signers" {
  type        = string
  description = "ASCII-armored public keys of the charts' signers (gpg --export --armor <signer>), e.g. file(\"chart-signers.asc\")."
}

variable "registry_password" {
  type        = string
  sensitive   = true
  ephemeral   = true
  description = "Token of the OCI registry's robot account: write-only, never stored in state or plan."
}

resource "clusterkit_cluster_integration" "this" {
  host                   = var.cluster_host
  cluster_ca_certificate = var.cluster_ca_certificate
  token                  = var.cluster_token
}

# An HTTPS repository with basic auth. The credentials never pass through Terraform: a
# kubernetes.io/basic-auth Secret with the keys username and password, in the install
# namespace clusterkit-managed-apps, kept by whoever owns them (External Secrets, Vault, or
#   kubectl -n clusterkit-managed-apps create secret generic charts-robot \
#     --type=kubernetes.io/basic-auth --from-literal=username=robot --from-literal=password=...
# ). The provider only checks that it exists; the kubelet mounts its two keys into the
# install pod. Rotating the password in the Secret needs no change here.
resource "clusterkit_managed_app" "billing" {
  cluster_connection = clusterkit_cluster_integration.this.cluster_connection

  name      = "billing"
  namespace = "billing"
  chart = {
    repository = "https://charts.internal.example.com/stable"
    name       = "billing"
    version    = "3.1.0"
  }

  repository_credentials_secret = { name = "charts-robot" }

  # The repository's certificate is signed by the company's CA, which the helm image does
  # not trust: helm trusts it for this repository only (--ca-file).
  repository_ca_cert = var.charts_ca_pem

  # helm checks billing-3.1.0.tgz.prov against the signers' keys before installing.
  verify  = true
  keyring = var.chart_signers
}

# An OCI registry with a robot account. The password is write-only: it reaches the install
# pod only through the app's own values Secret, and helm only on its standard input (helm
# registry login --password-stdin). Change repository_password_version to send a rotated
# one. Provenance works for OCI charts too: helm push uploads <chart>.tgz.prov with the chart.
resource "clusterkit_managed_app" "ledger" {
  cluster_connection = clusterkit_cluster_integration.this.cluster_connection

  name      = "ledger"
  namespace = "ledger"
  chart = {
    repository = "oci://registry.internal.example.com/charts"
    name       = "ledger"
    version    = "1.8.2"
  }

  repository_username         = "ci-robot"
  repository_password         = var.registry_password
  repository_password_version = "2026-12"
  repository_ca_cert          = var.charts_ca_pem

  verify  = true
  keyring = var.chart_signers
}

output "releases" {
  value = {
    billing = "${clusterkit_managed_app.billing.status} (chart ${clusterkit_managed_app.billing.chart_version}, revision ${coalesce(clusterkit_managed_app.billing.revision, 0)})"
    ledger  = "${clusterkit_managed_app.ledger.status} (chart ${clusterkit_managed_app.ledger.chart_version}, revision ${coalesce(clusterkit_managed_app.ledger.revision, 0)})"
  }
}
