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
variable "subnet_ids" {
  type    = list(string)
  default = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
}
variable "authentication_mode" {
  type    = string
  default = null
}
variable "node_count" {
  type    = number
  default = null
}
variable "web_desired" {
  type    = number
  default = 2
}
variable "web_max" {
  type    = number
  default = 4
}
variable "web_instance_type" {
  type    = string
  default = "t3.large"
}
variable "web_ami_type" {
  type    = string
  default = "AL2023_x86_64_STANDARD"
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

locals {
  web = {
    web = {
      instance_types = [var.web_instance_type]
      capacity_type  = "SPOT"
      ami_type       = var.web_ami_type
      min_size       = 1
      max_size       = var.web_max
      desired_size   = var.web_desired
      disk_size      = 30
      labels         = { role = "web", "example.com/tier" = "front" }
      taints         = [{ key = "dedicated", value = "web", effect = "NO_SCHEDULE" }]
    }
  }
  arm = {
    arm = {
      instance_types = ["m7g.large"]
      ami_type       = "BOTTLEROCKET_ARM_64"
      max_size       = 2
      desired_size   = 1
    }
  }
}

resource "clusterkit_eks_cluster" "test" {
  name                            = var.name
  provision_role_arn              = var.role_arn
  external_id                     = var.external_id
  cluster_role_arn                = "arn:aws:iam::222222222222:role/eks-service"
  kubernetes_version              = "1.35"
  vpc_id                          = "vpc-0123456789abcdef0"
  subnet_ids                      = var.subnet_ids
  control_plane_security_group_id = "sg-0123456789abcdef0"
  node_count                      = var.node_count
  authentication_mode             = var.authentication_mode
  node_groups                     = merge(local.web, local.arm)
}
