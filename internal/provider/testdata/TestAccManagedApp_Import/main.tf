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

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name      = "ck-ma-import"
  namespace = "ck-ma-import-ns"
  chart = {
    repository = "oci://registry.example.com/charts"
    name       = "demo"
    version    = "3.1.0"
  }
  values = "replicaCount: 1\n"

  installer_pod_annotations = { "testenv.clusterkit.dev/run-time" = "300ms" }
}
