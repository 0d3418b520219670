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

variable "annotations" { type = map(string) }

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name = "ck-ma-fail"
  chart = {
    repository = "https://charts.example.com/stable"
    name       = "demo"
    version    = "0.1.0"
  }

  installer_pod_annotations = var.annotations
}
