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
variable "control_plane_security_group_id" {
  type    = string
  default = "sg-0123456789abcdef0"
}
variable "public_access_cidrs" {
  type    = list(string)
  default = null
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

resource "clusterkit_eks_cluster" "test" {
  name                            = var.name
  provision_role_arn              = var.role_arn
  external_id                     = var.external_id
  cluster_role_arn                = "arn:aws:iam::222222222222:role/eks-service"
  kubernetes_version              = "1.35"
  vpc_id                          = "vpc-0123456789abcdef0"
  subnet_ids                      = var.subnet_ids
  control_plane_security_group_id = var.control_plane_security_group_id
  node_count                      = 1

  ip_family           = "ipv6"
  public_access_cidrs = var.public_access_cidrs
}
