# <account ID>/<region>/<stack name>, or <region>/<stack name> (then the resource identity's
# account_id stays null). The role and external ID are not readable from AWS: the first apply
# after the import takes them from the configuration and checks the stack matches it.
terraform import clusterkit_eks_cluster.shop 222222222222/eu-west-1/shop-production
