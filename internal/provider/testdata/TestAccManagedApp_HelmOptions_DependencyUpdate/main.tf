terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

variable "chart_mirrors" { type = map(string) }
variable "chart_repo" { type = string }

provider "clusterkit" {
  allow_local_requests     = true
  chart_repository_mirrors = var.chart_mirrors
}

variable "host" { type = string }
variable "ca" { type = string }
variable "token" {
  type      = string
  sensitive = true
}

# The stack's helm-options repository (chartsrc.UmbrellaChart, served without its
# dependency on the public repository's demo chart).
variable "helm_options_repo" { type = string }
variable "name" { type = string }
variable "installer_image" { type = string }
variable "dependency_update" { type = bool }

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name      = var.name
  namespace = "${var.name}-ns"
  chart = {
    repository = var.helm_options_repo
    name       = "umbrella"
    version    = "0.1.0"
  }

  installer_image   = var.installer_image
  dependency_update = var.dependency_update
}
