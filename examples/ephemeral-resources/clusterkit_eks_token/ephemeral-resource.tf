# A short-lived token for the official kubernetes provider, minted through the customer's
# role. Ephemeral: it is never written to state or plan.
ephemeral "clusterkit_eks_token" "shop" {
  cluster_name       = clusterkit_eks_cluster.shop.cluster_connection.eks.cluster_name
  region             = clusterkit_eks_cluster.shop.cluster_connection.eks.region
  provision_role_arn = clusterkit_eks_cluster.shop.cluster_connection.eks.role_arn
  external_id        = clusterkit_eks_cluster.shop.cluster_connection.eks.external_id
}

provider "kubernetes" {
  host                   = ephemeral.clusterkit_eks_token.shop.host
  cluster_ca_certificate = ephemeral.clusterkit_eks_token.shop.cluster_ca_certificate
  token                  = ephemeral.clusterkit_eks_token.shop.token
}
