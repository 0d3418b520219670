variable "release_name" {
  type    = string
  default = "shop"
}

locals {
  # "shop-podinfo": the name chart podinfo gives the objects of release "shop", for
  # example the Service an Ingress or a NetworkPolicy of the module points at.
  podinfo_service = provider::clusterkit::release_fullname(var.release_name, "podinfo")

  # "my-podinfo": a release name that contains the chart's name is used as it is.
  contained = provider::clusterkit::release_fullname("my-podinfo", "podinfo")

  # "edge": the chart value fullnameOverride wins (nameOverride: name_override).
  overridden = provider::clusterkit::release_fullname(var.release_name, "podinfo", { fullname_override = "edge" })
}

# A catalog app's own cut: kube-prometheus-stack keeps 26 characters, so release
# "observability" names its Prometheus Service "observability-kube-prometh-prometheus",
# as clusterkit_managed_app's outputs["prometheus_service"] says once it is planned.
data "clusterkit_catalog" "prometheus" {
  name = "prometheus"
}

locals {
  prometheus = data.clusterkit_catalog.prometheus.apps["prometheus"]
  prometheus_fullname = provider::clusterkit::release_fullname(
    "observability", local.prometheus.chart, { max_length = local.prometheus.fullname_max_length },
  )
  prometheus_service = replace(local.prometheus.outputs["prometheus_service"], "{fullname}", local.prometheus_fullname)
}
