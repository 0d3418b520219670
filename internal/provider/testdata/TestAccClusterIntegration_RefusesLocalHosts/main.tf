terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

# The provider keeps its default: allow_local_requests = false.
provider "clusterkit" {}

variable "host" { type = string }
variable "ca" { type = string }
variable "token" {
  type      = string
  sensitive = true
}

resource "clusterkit_cluster_integration" "test" {
  host                   = var.host
  cluster_ca_certificate = var.ca
  token                  = var.token
}
