# A custom-chart app written as a helm_release of hashicorp/helm would be moved to: the same
# chart, version and values list, and helm's switches at helm_release's defaults (atomic,
# cleanup_on_fail false, max_history 0). The test installs it with this configuration, swaps
# the state for a helm_release one (helm_release.tfstate.tmpl), adds moved.tf and plans.
terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

variable "chart_mirrors" { type = map(string) }
variable "chart_repo" { type = string }
variable "host" { type = string }
variable "ca" { type = string }
variable "token" {
  type      = string
  sensitive = true
}
variable "name" { type = string }

provider "clusterkit" {
  allow_local_requests     = true
  chart_repository_mirrors = var.chart_mirrors
}

resource "clusterkit_managed_app" "web" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name      = var.name
  namespace = var.name
  chart = {
    repository = var.chart_repo
    name       = "demo"
    version    = "0.1.0"
  }
  values = [
    yamlencode({ replicaCount = 1 }),
    yamlencode({ podAnnotations = { "example.com/moved" = "from-helm-release" } }),
  ]

  atomic          = false
  cleanup_on_fail = false
  max_history     = 0
}
