terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

variable "aws_endpoint" { type = string }
variable "access_key" { type = string }
variable "secret_key" {
  type      = string
  sensitive = true
}
variable "role_arn" { type = string }
variable "external_id" {
  type      = string
  sensitive = true
}
variable "name" { type = string }
variable "node_count" {
  type    = number
  default = 2
}
variable "create_timeout" {
  type    = string
  default = "10m"
}

provider "clusterkit" {
  region               = "us-east-1"
  access_key           = var.access_key
  secret_key           = var.secret_key
  allow_local_requests = true # the emulated EKS endpoint is the local kube-apiserver

  endpoints {
    sts            = var.aws_endpoint
    cloudformation = var.aws_endpoint
    eks            = var.aws_endpoint
  }
}

# The resource leaves the state; its stack stays in AWS for the import that follows.
removed {
  from = clusterkit_eks_cluster.test
  lifecycle {
    destroy = false
  }
}
