terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

variable "chart_mirrors" { type = map(string) }
variable "chart_repo" { type = string }

provider "clusterkit" {
  allow_local_requests     = true
  chart_repository_mirrors = var.chart_mirrors
}

variable "host" { type = string }
variable "ca" { type = string }
variable "token" {
  type      = string
  sensitive = true
}

# The stack's helm-options repository (chartsrc.JobsChart).
variable "helm_options_repo" { type = string }
# How long the release's Job runs on the stack's node.
variable "run_time" { type = string }
variable "wait_for_jobs" { type = bool }
variable "atomic" {
  type    = bool
  default = true
}
variable "update_timeout" {
  type    = string
  default = "20m"
}

resource "clusterkit_managed_app" "test" {
  cluster_connection = {
    host                   = var.host
    cluster_ca_certificate = var.ca
    token                  = var.token
  }

  name      = "ck-ho-jobs"
  namespace = "ck-ho-jobs-ns"
  chart = {
    repository = var.helm_options_repo
    name       = "jobs"
    version    = "0.1.0"
  }

  values        = yamlencode({ runTime = var.run_time })
  wait_for_jobs = var.wait_for_jobs
  atomic        = var.atomic
  timeouts      = { update = var.update_timeout }
}
