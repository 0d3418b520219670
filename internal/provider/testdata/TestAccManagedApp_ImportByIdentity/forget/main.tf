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

# The app leaves the state; its release stays in the cluster for the import that follows.
removed {
  from = clusterkit_managed_app.test
  lifecycle {
    destroy = false
  }
}
