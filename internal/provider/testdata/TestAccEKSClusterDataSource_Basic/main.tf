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
# What the data source is given: by default the cluster the resource made.
variable "read_name" {
  type    = string
  default = null
}
variable "read_external_id" {
  type      = string
  sensitive = true
  default   = null
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

# The "other workspace": the cluster, as testdata/eks makes it.
resource "clusterkit_eks_cluster" "test" {
  name                            = var.name
  provision_role_arn              = var.role_arn
  external_id                     = var.external_id
  cluster_role_arn                = "arn:aws:iam::222222222222:role/eks-service"
  kubernetes_version              = "1.35"
  vpc_id                          = "vpc-0123456789abcdef0"
  subnet_ids                      = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  control_plane_security_group_id = "sg-0123456789abcdef0"
  node_count                      = 2
  tags                            = { team = "platform" }

  timeouts = {
    create = "10m"
  }
}

# This workspace: the cluster by region and name (no reference to the resource), through the
# customer role and external ID.
data "clusterkit_eks_cluster" "test" {
  region             = "us-east-1"
  name               = coalesce(var.read_name, var.name)
  provision_role_arn = var.role_arn
  external_id        = coalesce(var.read_external_id, var.external_id)
}

resource "clusterkit_cluster_integration" "test" {
  cluster_connection   = data.clusterkit_eks_cluster.test.cluster_connection
  service_account_name = "ck-ds-integration"

  namespaces = {
    "ck-ds-team" = {}
  }
}
