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

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name = "ck-ma-life"
  app  = "ingress-nginx"

  values = yamlencode({
    controller = { replicaCount = 3 }
  })

  installer_pod_labels = { team = "platform" }
}

output "ingress_class" {
  value = clusterkit_managed_app.test.outputs["ingress_class"]
}
