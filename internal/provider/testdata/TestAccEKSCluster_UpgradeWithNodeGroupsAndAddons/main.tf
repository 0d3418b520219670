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
variable "kubernetes_version" { type = string }

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

# addons left out: the four EKS add-ons at EKS's defaults, which follow the upgrades.
resource "clusterkit_eks_cluster" "test" {
  name                            = var.name
  provision_role_arn              = var.role_arn
  external_id                     = var.external_id
  cluster_role_arn                = "arn:aws:iam::222222222222:role/eks-service"
  kubernetes_version              = var.kubernetes_version
  vpc_id                          = "vpc-0123456789abcdef0"
  subnet_ids                      = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  control_plane_security_group_id = "sg-0123456789abcdef0"

  node_groups = {
    web = {
      max_size     = 2
      desired_size = 1
    }
  }
}
