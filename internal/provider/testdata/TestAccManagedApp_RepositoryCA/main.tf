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
# A repository whose TLS certificate a private CA signed, which the installer image does
# not trust.
variable "repository" { type = string }
variable "repository_ca" {
  type    = string
  default = null
}

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name      = "ck-ma-repo-ca"
  namespace = "ck-ma-repo-ca-ns"
  chart = {
    repository = var.repository
    name       = "demo"
    version    = "0.1.0"
  }
  repository_ca_cert = var.repository_ca
}
