terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

# What HCP Terraform / Terraform Cloud sets for a workspace with AWS dynamic provider
# credentials (TFC_AWS_PROVIDER_AUTH, TFC_AWS_RUN_ROLE_ARN): a shared config file per
# provider configuration, with role_arn and web_identity_token_file.
variable "tfc_aws_dynamic_credentials" {
  type = object({
    default = object({ shared_config_file = string })
    aliases = map(object({ shared_config_file = string }))
  })
}
variable "role_arn" { type = string }
variable "external_id" {
  type      = string
  sensitive = true
}
variable "name" { type = string }

provider "clusterkit" {
  shared_config_files = [var.tfc_aws_dynamic_credentials.default.shared_config_file]
}

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
