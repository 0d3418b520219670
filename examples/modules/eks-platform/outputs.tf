output "endpoint" {
  description = "API server of the cluster."
  value       = clusterkit_eks_cluster.this.endpoint
}

output "cluster_connection" {
  description = "Pass to further clusterkit_managed_app resources."
  value       = clusterkit_cluster_integration.this.cluster_connection
  sensitive   = true
}

output "namespace_service_accounts" {
  value = { for name, ns in clusterkit_cluster_integration.this.namespaces : name => ns.service_account_name }
}

output "apps" {
  value = { for name, app in clusterkit_managed_app.this : name => app.status }
}
