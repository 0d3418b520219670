terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

data "clusterkit_catalog" "all" {}

data "clusterkit_catalog" "ingress" {
  name = "ingress-nginx"
}

# What a module does with it: the apps whose installer needs cluster-admin, and the
# notices of the entries it might install.
output "cluster_admin_apps" {
  value = sort([for k, a in data.clusterkit_catalog.all.apps : k if a.installer_cluster_admin])
}

output "notices" {
  value = { for k, a in data.clusterkit_catalog.all.apps : k => a.notice if a.notice != null }
}

output "ingress_version" {
  value = data.clusterkit_catalog.ingress.apps["ingress-nginx"].version
}
