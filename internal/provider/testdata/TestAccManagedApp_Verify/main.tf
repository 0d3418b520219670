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
variable "repository" { type = string }
variable "chart_version" { type = string }
variable "verify" {
  type    = bool
  default = true
}
# The signers' public keys, ASCII-armored (gpg --export --armor).
variable "keyring" {
  type    = string
  default = null
}

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
  name      = "ck-ma-verify"
  namespace = "ck-ma-verify-ns"
  chart = {
    repository = var.repository
    name       = "demo"
    version    = var.chart_version
  }
  verify  = var.verify
  keyring = var.keyring
}
