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

variable "override_first" {
  type    = bool
  default = false
}
# More documents after the two (checked at plan time like the others).
variable "extra" {
  type    = list(string)
  default = []
}

locals {
  common   = file("${path.module}/common.yaml")
  # The second document: maps merge key by key (service keeps its type), a null removes
  # the key with what the first document set in it.
  override = yamlencode({
    message        = "from the override"
    service        = { port = 9090 }
    podAnnotations = null
  })
}

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name      = "ck-ma-values"
  namespace = "ck-ma-values-ns"
  chart = {
    repository = var.chart_repo
    name       = "demo"
    version    = "0.1.0"
  }

  # As helm_release takes them: merged in order, later documents win.
  values = concat(var.override_first ? [local.override, local.common] : [local.common, local.override], var.extra)
}
