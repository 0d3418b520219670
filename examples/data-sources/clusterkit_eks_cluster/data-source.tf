# The cluster was made by a clusterkit_eks_cluster in the platform team's workspace; this
# workspace (an application team's) reads it by region and name through the same customer
# role and external ID. No state of the other workspace is needed, and no token is stored.
variable "customer_external_id" {
  type      = string
  sensitive = true
}

data "clusterkit_eks_cluster" "shop" {
  name               = "shop-production"
  region             = "eu-west-1"
  provision_role_arn = "arn:aws:iam::222222222222:role/clusterkit-provisioner"
  external_id        = var.customer_external_id
}

# The connection in the shape clusterkit_eks_cluster exports: EKS tokens are minted through
# the role for every operation.
resource "clusterkit_cluster_integration" "shop_apps" {
  cluster_connection   = data.clusterkit_eks_cluster.shop.cluster_connection
  service_account_name = "shop-apps"
  namespaces = {
    "shop-storefront" = { labels = { team = "storefront" } }
  }
}

resource "clusterkit_managed_app" "cert_manager" {
  cluster_connection = clusterkit_cluster_integration.shop_apps.cluster_connection
  name               = "cert-manager"
  app                = "cert-manager"
}

# What the cluster is, for checks and outputs.
output "shop_cluster" {
  value = {
    kubernetes_version = data.clusterkit_eks_cluster.shop.kubernetes_version
    status             = data.clusterkit_eks_cluster.shop.status
    oidc_issuer_url    = data.clusterkit_eks_cluster.shop.oidc_issuer_url
    private_endpoint   = !data.clusterkit_eks_cluster.shop.endpoint_public_access
  }
}
