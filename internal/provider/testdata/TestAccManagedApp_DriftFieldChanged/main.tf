# Three apps of the demo chart, in one release namespace, whose objects the test edits out
# of band: one installed by Helm 3 (client-side apply), two by Helm 4 (server-side apply),
# one of which also gets a configuration change (its message) in the same plan.
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
variable "changed_message" {
  type    = string
  default = "from-terraform"
}

locals {
  apps = {
    "ck-fd-helm3"   = { image = var.helm3_image, message = "from-terraform" }
    "ck-fd-helm4"   = { image = null, message = "from-terraform" }
    "ck-fd-changed" = { image = null, message = var.changed_message }
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
  chart = {
    repository = var.chart_repo
    name       = "demo"
    version    = "0.1.0"
  }
  values = "replicaCount: 2\nmessage: ${each.value.message}\n"
}
