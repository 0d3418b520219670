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
  service_account_name   = "ck-lifecycle"

  namespaces = {
    "ck-life-a" = { labels = { team = "a" } }
    "ck-life-b" = { role = "view", labels = { team = "b" } }
  }
}

output "team_a_service_account" {
  value = clusterkit_cluster_integration.test.namespaces["ck-life-a"].service_account_name
}
