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

# The resource leaves the state; its objects stay in the cluster for the import that follows.
removed {
  from = clusterkit_cluster_integration.test
  lifecycle {
    destroy = false
  }
}
