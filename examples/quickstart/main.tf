# Quickstart: register a cluster and prepare two restricted namespaces.
# `make demo` applies this against the local stack (allow_local_requests = true there).

terraform {
  required_providers {
    clusterkit = {
      source = "clusterkit-dev/clusterkit"
    }
  }
}

variable "allow_local_requests" {
  type        = bool
  default     = false
  description = "Only for clusters on private or local addresses, such as the local test stack."
}

variable "cluster_host" {
  type = string
}

variable "cluster_ca_certificate" {
  type = string
}

variable "cluster_token" {
  type      = string
  sensitive = true
}

provider "clusterkit" {
  allow_local_requests = var.allow_local_requests
}

resource "clusterkit_cluster_integration" "this" {
  host                   = var.cluster_host
  cluster_ca_certificate = var.cluster_ca_certificate
  token                  = var.cluster_token

  namespaces = {
    "demo-production" = { labels = { environment = "production" } }
    "demo-review"     = { role = "view", labels = { environment = "review" } }
  }
}

output "service_accounts" {
  description = "Service account of each restricted namespace."
  value       = { for name, ns in clusterkit_cluster_integration.this.namespaces : name => ns.service_account_name }
}

output "integration_id" {
  value = clusterkit_cluster_integration.this.id
}
