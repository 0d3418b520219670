# Many custom-chart apps, each in its own namespace, for a refresh under 429 bursts.
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
variable "prefix" { type = string }
variable "apps" { type = number }
variable "replicas" {
  type    = number
  default = 1
}

resource "clusterkit_managed_app" "test" {
  count = var.apps

  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name = "${var.prefix}-${count.index}"
  chart = {
    repository = var.chart_repo
    name       = "demo"
    version    = "0.1.0"
  }
  values = yamlencode({ replicaCount = var.replicas })
}
