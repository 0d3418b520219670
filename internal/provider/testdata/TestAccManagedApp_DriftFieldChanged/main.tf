# Three apps of the demo chart, in one release namespace, whose objects the test edits out
# of band: one installed by Helm 3 (client-side apply), one by Helm 4 (server-side apply)
# with take_ownership (its upgrades force conflicts), one by Helm 4 without.
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
variable "helm3_image" { type = string }

locals {
  apps = {
    "ck-fd-helm3"  = { image = var.helm3_image, take_ownership = false }
    "ck-fd-forced" = { image = null, take_ownership = true }
    "ck-fd-plain"  = { image = null, take_ownership = false }
  }
}

resource "clusterkit_managed_app" "test" {
  for_each = local.apps
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name            = each.key
  namespace       = "ck-drift-fields"
  installer_image = each.value.image
  take_ownership  = each.value.take_ownership
  chart = {
    repository = var.chart_repo
    name       = "demo"
    version    = "0.1.0"
  }
  values = "replicaCount: 2\nmessage: from-terraform\n"
}
