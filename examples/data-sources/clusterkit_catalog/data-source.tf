# The catalog compiled into this provider version: no cluster or network is read.
data "clusterkit_catalog" "all" {}

# One entry; a name the catalog does not hold fails the plan with the valid names.
data "clusterkit_catalog" "ingress" {
  name = "ingress-nginx"
}

locals {
  ingress = data.clusterkit_catalog.ingress.apps["ingress-nginx"]
}

# What a platform module reports about what it installs: "ingress-nginx <pin> from https://...".
output "ingress_chart" {
  value = "${local.ingress.chart} ${local.ingress.version} from ${local.ingress.repository}"
}

# Entries with a notice, such as a project retired upstream.
output "catalog_notices" {
  value = { for name, app in data.clusterkit_catalog.all.apps : name => app.notice if app.notice != null }
}

# The apps whose installer needs cluster-admin, for a review of a team's request.
output "cluster_admin_apps" {
  value = sort([for name, app in data.clusterkit_catalog.all.apps : name if app.installer_cluster_admin])
}
