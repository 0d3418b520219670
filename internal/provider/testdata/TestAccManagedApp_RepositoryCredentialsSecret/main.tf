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
variable "private_repo" { type = string }
variable "private_registry" { type = string }
# The Secret the platform team keeps in the install namespace (keys username, password).
variable "secret" { type = string }

locals {
  connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }
}

resource "clusterkit_managed_app" "http" {
  cluster_connection = local.connection
  name               = "ck-ma-secret-http"
  namespace          = "ck-ma-secret-ns"
  chart = {
    repository = var.private_repo
    name       = "demo"
    version    = "0.1.0"
  }
  repository_credentials_secret = { name = var.secret }
}

resource "clusterkit_managed_app" "oci" {
  cluster_connection = local.connection
  name               = "ck-ma-secret-oci"
  namespace          = "ck-ma-secret-ns"
  chart = {
    repository = var.private_registry
    name       = "demo"
    version    = "0.2.0"
  }
  repository_credentials_secret = { name = var.secret }
}
