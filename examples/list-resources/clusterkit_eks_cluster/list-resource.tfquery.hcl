# query.tfquery.hcl, beside the configuration that holds the provider:
#   terraform query -generate-config-out=generated.tf   (Terraform >= 1.14)
variable "shop_external_id" {
  type      = string
  sensitive = true
}

# The EKS clusters clusterkit created in the customer's account and region.
list "clusterkit_eks_cluster" "shop" {
  provider         = clusterkit
  include_resource = true

  config {
    region             = "eu-west-1"
    provision_role_arn = "arn:aws:iam::222222222222:role/clusterkit-provisioner"
    external_id        = var.shop_external_id
  }
}
