# One custom-chart app, applied by the CLI while the test kills helm mid-operation.
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
variable "installer_image" { type = string }
variable "chart_version" {
  type    = string
  default = "0.1.0"
}
# never_ready keeps the chart's pods unready, so helm --wait stays in its pending operation
# until the test kills it.
variable "never_ready" {
  type    = bool
  default = false
}

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name            = var.name
  installer_image = var.installer_image
  chart = {
    repository = var.chart_repo
    name       = "demo"
    version    = var.chart_version
  }
  values = var.never_ready ? yamlencode({ podAnnotations = { "testenv.clusterkit.dev/never-ready" = "true" } }) : null
}
