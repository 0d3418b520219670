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

variable "import_host" { type = string }

# Adopts the release the first step made, by its identity.
import {
  to = clusterkit_managed_app.test
  identity = {
    host      = var.import_host
    namespace = "ck-ma-ident-ns"
    name      = "ck-ma-ident"
  }
}

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name      = "ck-ma-ident"
  namespace = "ck-ma-ident-ns"
  chart = {
    repository = var.chart_repo
    name       = "demo"
    version    = "0.1.0"
  }

  values = "message: by-identity\n"
}
