# <region>/<stack name>. The role and external ID are not readable from AWS: the first apply
# after the import takes them from the configuration and checks the stack matches it.
terraform import clusterkit_eks_cluster.shop eu-west-1/shop-production
