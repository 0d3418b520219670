terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

variable "long_release" { type = string }

# Known only after apply: the function's result follows.
resource "terraform_data" "late" {
  input = "late"
}

data "clusterkit_catalog" "prometheus" {
  name = "prometheus"
}

locals {
  prometheus   = data.clusterkit_catalog.prometheus.apps["prometheus"]
  obs_fullname = provider::clusterkit::release_fullname("observability", local.prometheus.chart, { max_length = local.prometheus.fullname_max_length })
}

output "short" {
  value = provider::clusterkit::release_fullname("web", "podinfo")
}

output "contains_chart" {
  value = provider::clusterkit::release_fullname("my-podinfo", "podinfo")
}

output "cut_at_63" {
  value = provider::clusterkit::release_fullname(var.long_release, "kube-prometheus-stack")
}

output "cut_at_26" {
  value = local.obs_fullname
}

output "trailing_dash" {
  value = provider::clusterkit::release_fullname("monitoring-platform1", "kube-prometheus-stack", { max_length = 26 })
}

output "fullname_override" {
  value = provider::clusterkit::release_fullname("web", "podinfo", { fullname_override = "edge" })
}

output "name_override" {
  value = provider::clusterkit::release_fullname("web", "podinfo", { name_override = "api" })
}

# A module's pass-through options: {} (not null) when the caller sets none.
variable "options" {
  type = object({
    fullname_override = optional(string)
    max_length        = optional(number)
  })
  default = {}
}

output "module_options" {
  value = provider::clusterkit::release_fullname("web", "podinfo", var.options)
}

output "null_override" {
  value = provider::clusterkit::release_fullname("web", "podinfo", { fullname_override = null })
}

output "late" {
  value = provider::clusterkit::release_fullname(terraform_data.late.output, "podinfo")
}

output "late_override" {
  value = provider::clusterkit::release_fullname("web", "podinfo", { fullname_override = terraform_data.late.output })
}

# The catalog's pattern with the function's fullname: what clusterkit_managed_app's
# outputs["prometheus_service"] holds for a release called "observability".
output "prometheus_service" {
  value = replace(local.prometheus.outputs["prometheus_service"], "{fullname}", local.obs_fullname)
}
