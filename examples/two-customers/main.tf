# Two customers, two accounts, two roles, two external IDs: each module instance assumes
# its own customer's role. The platform's credentials come from the environment (or
# Terraform Cloud dynamic credentials).

terraform {
  required_version = ">= 1.11"
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

provider "clusterkit" {
  region = "eu-west-1"
}

variable "external_ids" {
  type        = map(string)
  sensitive   = true
  description = "External ID per customer, as agreed with each of them."
}

module "shop" {
  source             = "../modules/eks-platform"
  name               = "shop-production"
  provision_role_arn = "arn:aws:iam::222222222222:role/clusterkit-provisioner"
  external_id        = var.external_ids["shop"]
  cluster_role_arn   = "arn:aws:iam::222222222222:role/eks-cluster-role"
  network = {
    vpc_id                          = "vpc-0a1b2c3d4e5f67890"
    subnet_ids                      = ["subnet-0a1b2c3d4e5f67890", "subnet-0f9e8d7c6b5a43210"]
    control_plane_security_group_id = "sg-0a1b2c3d4e5f67890"
  }
  namespaces = { "shop-production" = {} }
  apps       = ["ingress-nginx", "cert-manager"]
}

module "bank" {
  source             = "../modules/eks-platform"
  name               = "bank-staging"
  region             = "eu-central-1"
  provision_role_arn = "arn:aws:iam::333333333333:role/clusterkit-provisioner"
  external_id        = var.external_ids["bank"]
  cluster_role_arn   = "arn:aws:iam::333333333333:role/eks-cluster-role"
  network = {
    vpc_id                          = "vpc-0123456789abcdef0"
    subnet_ids                      = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    control_plane_security_group_id = "sg-0123456789abcdef0"
  }
  nodes      = { instance_type = "m6i.large", count = 4 }
  namespaces = { "bank-staging" = { role = "view" } }
}

output "endpoints" {
  value = { shop = module.shop.endpoint, bank = module.bank.endpoint }
}
