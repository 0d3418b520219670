# One custom-chart app, applied by the OpenTofu CLI and interrupted with SIGINT.
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
variable "name" { type = string }
variable "replicas" {
  type    = number
  default = 1
}
# The first apply's pods never become ready, so helm's install stays pending until the
# interrupt (the demo chart is ready within a second otherwise: the interrupt would race it).
variable "never_ready" {
  type    = bool
  default = true
}

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name = var.name
  chart = {
    repository = var.chart_repo
    name       = "demo"
    version    = "0.1.0"
  }
  values = yamlencode({
    replicaCount   = var.replicas
    podAnnotations = var.never_ready ? { "testenv.clusterkit.dev/never-ready" = "true" } : {}
  })
}
