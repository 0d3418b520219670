terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

provider "clusterkit" {
  allow_local_requests = true
}

variable "host" { type = string }
variable "ca" { type = string }
variable "token" {
  type      = string
  sensitive = true
}

variable "secret_values" {
  type      = string
  sensitive = true
}
variable "secret_version" { type = string }

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name      = "ck-ma-chart"
  namespace = "ck-ma-chart-ns"
  chart = {
    repository = "https://charts.example.com/stable"
    name       = "demo"
    version    = "1.2.3"
  }

  values                   = "replicaCount: 2\nimage:\n  tag: \"1.0\"\n"
  sensitive_values         = var.secret_values
  sensitive_values_version = var.secret_version

  installer_pod_annotations = { "testenv.clusterkit.dev/run-time" = "300ms" }
}
