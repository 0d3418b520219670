import {
  to = clusterkit_eks_cluster.shop
  id = "222222222222/eu-west-1/shop-production" # or "eu-west-1/shop-production"
}
