import {
  to = clusterkit_eks_cluster.shop
  identity = {
    account_id = "222222222222" # the account of provision_role_arn
    region     = "eu-west-1"    # optional: default the provider's region
    name       = "shop-production"
  }
}
