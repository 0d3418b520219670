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

resource "clusterkit_managed_app" "app1" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name = "ck-ma-conc-1"
  chart = {
    repository = "https://charts.example.com/stable"
    name       = "demo"
    version    = "1.0.1"
  }

  installer_pod_annotations = { "testenv.clusterkit.dev/run-time" = "300ms" }
}

resource "clusterkit_managed_app" "app2" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name = "ck-ma-conc-2"
  chart = {
    repository = "https://charts.example.com/stable"
    name       = "demo"
    version    = "1.0.2"
  }

  installer_pod_annotations = { "testenv.clusterkit.dev/run-time" = "300ms" }
}

resource "clusterkit_managed_app" "app3" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name = "ck-ma-conc-3"
  chart = {
    repository = "https://charts.example.com/stable"
    name       = "demo"
    version    = "1.0.3"
  }

  installer_pod_annotations = { "testenv.clusterkit.dev/run-time" = "300ms" }
}

