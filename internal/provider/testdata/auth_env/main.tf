terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

variable "role_arn" { type = string }
variable "external_id" {
  type      = string
  sensitive = true
}
variable "name" { type = string }

# Nothing here: AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE (GitHub Actions, GitLab,
# EKS pod identity, Kubernetes service accounts) and AWS_REGION come from the environment.
provider "clusterkit" {}

resource "clusterkit_eks_cluster" "test" {
  name                            = var.name
  provision_role_arn              = var.role_arn
  external_id                     = var.external_id
  cluster_role_arn                = "arn:aws:iam::222222222222:role/eks-service"
  kubernetes_version              = "1.35"
  vpc_id                          = "vpc-0123456789abcdef0"
  subnet_ids                      = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  control_plane_security_group_id = "sg-0123456789abcdef0"
  node_count                      = 1
}
