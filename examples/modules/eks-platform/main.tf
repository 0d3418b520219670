# A customer's platform: an EKS cluster in their account, its integration with restricted
# namespaces, and catalog apps. Each instance assumes its own customer role.

resource "clusterkit_eks_cluster" "this" {
  name               = var.name
  region             = var.region
  provision_role_arn = var.provision_role_arn
  external_id        = var.external_id
  cluster_role_arn   = var.cluster_role_arn

  kubernetes_version              = var.kubernetes_version
  vpc_id                          = var.network.vpc_id
  subnet_ids                      = var.network.subnet_ids
  control_plane_security_group_id = var.network.control_plane_security_group_id

  node_instance_type = var.nodes.instance_type
  node_count         = var.nodes.count
  node_volume_size   = var.nodes.volume_size
  tags               = var.tags
}

resource "clusterkit_cluster_integration" "this" {
  cluster_connection = clusterkit_eks_cluster.this.cluster_connection
  namespaces         = var.namespaces
}

resource "clusterkit_managed_app" "this" {
  for_each = var.apps

  cluster_connection = clusterkit_cluster_integration.this.cluster_connection
  name               = each.key
  app                = each.key
}
