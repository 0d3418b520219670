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

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name = "ck-ma-life"
  app  = "ingress-nginx"

  values = yamlencode({
    controller = { replicaCount = 1 }
  })

  installer_pod_labels      = { team = "platform" }
  installer_pod_annotations = { "testenv.clusterkit.dev/run-time" = "300ms" }
}

output "ingress_class" {
  value = clusterkit_managed_app.test.outputs["ingress_class"]
}
