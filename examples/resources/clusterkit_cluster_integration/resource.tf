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

resource "clusterkit_cluster_integration" "this" {
  host                   = var.cluster_host
  cluster_ca_certificate = var.cluster_ca_certificate
  token                  = var.cluster_token

  # One restricted namespace per team or environment, each with its own service account.
  namespaces = {
    "shop-production" = {
      labels = { environment = "production" }
    }
    "shop-review" = {
      role   = "view"
      labels = { environment = "review" }
    }
  }
}

output "namespace_service_accounts" {
  value = { for name, ns in clusterkit_cluster_integration.this.namespaces : name => ns.service_account_name }
}
