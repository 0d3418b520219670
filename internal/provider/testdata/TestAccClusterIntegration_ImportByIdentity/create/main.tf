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

resource "clusterkit_cluster_integration" "test" {
  host                   = var.host
  cluster_ca_certificate = var.ca
  token                  = var.token
  service_account_name   = "ck-ident"

  namespaces = {
    "ck-ident-a" = { labels = { team = "a" } }
    "ck-ident-b" = { role = "view" }
  }
}
