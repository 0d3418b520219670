# Quickstart: ONE apply from nothing to installed apps.
#
#   clusterkit_eks_cluster          -> an EKS cluster in the customer's account (CloudFormation)
#   clusterkit_cluster_integration  -> its integration service account + two restricted namespaces
#   clusterkit_managed_app (x3)     -> two catalog apps and one custom chart, by install pods
#
# The cluster's connection flows between resources as an attribute, so nothing has to be
# configured before the cluster exists. `destroy` removes the apps, then the namespaces and
# service accounts, then the stack (with the nodes' and the provisioning role's access entries).
#
# `make demo` applies this file unchanged against the local stack (emulated AWS + a real
# kube-apiserver, install pods running real helm); see demo.auto.tfvars written by
# examples/demo.sh, which points chart_repository_mirrors at the stack's chart mirrors.

terraform {
  required_version = ">= 1.11" # ephemeral resources and write-only attributes
  required_providers {
    clusterkit = {
      source = "clusterkit-dev/clusterkit"
    }
  }
}

provider "clusterkit" {
  region               = var.region
  allow_local_requests = var.allow_local_requests

  # Where the charts come from when the cluster cannot reach their public repositories
  # ({} means straight from them).
  chart_repository_mirrors = var.chart_repository_mirrors

  # Only for emulators and special partitions; null means the real AWS endpoints.
  endpoints {
    sts            = var.aws_endpoint
    cloudformation = var.aws_endpoint
    eks            = var.aws_endpoint
  }
}

resource "clusterkit_eks_cluster" "this" {
  name               = var.cluster_name
  provision_role_arn = var.provision_role_arn
  external_id        = var.external_id
  cluster_role_arn   = var.cluster_role_arn

  kubernetes_version              = var.kubernetes_version
  vpc_id                          = var.vpc_id
  subnet_ids                      = var.subnet_ids
  control_plane_security_group_id = var.control_plane_security_group_id
  node_count                      = 2

  tags = { "example" = "quickstart" }
}

resource "clusterkit_cluster_integration" "this" {
  cluster_connection = clusterkit_eks_cluster.this.cluster_connection

  namespaces = {
    "shop-production" = { labels = { environment = "production" } }
    "shop-review"     = { role = "view", labels = { environment = "review" } }
  }
}

resource "clusterkit_managed_app" "ingress" {
  cluster_connection = clusterkit_cluster_integration.this.cluster_connection
  name               = "ingress-nginx"
  app                = "ingress-nginx"
}

resource "clusterkit_managed_app" "cert_manager" {
  cluster_connection = clusterkit_cluster_integration.this.cluster_connection
  name               = "cert-manager"
  app                = "cert-manager"
}

resource "clusterkit_managed_app" "podinfo" {
  cluster_connection = clusterkit_cluster_integration.this.cluster_connection
  name               = "podinfo"
  namespace          = "shop-review"
  chart = {
    repository = "https://stefanprodan.github.io/podinfo"
    name       = "podinfo"
    version    = "6.7.1"
  }
  values = yamlencode({ replicaCount = 1 })

  installer_pod_labels = { "example" = "quickstart" }
}
