output "endpoint" {
  description = "API server of the new cluster."
  value       = clusterkit_eks_cluster.this.endpoint
}

output "namespace_service_accounts" {
  description = "Service account of each restricted namespace."
  value       = { for name, ns in clusterkit_cluster_integration.this.namespaces : name => ns.service_account_name }
}

output "apps" {
  description = "Status of each managed app."
  value = {
    for app in [clusterkit_managed_app.ingress, clusterkit_managed_app.cert_manager, clusterkit_managed_app.podinfo] :
    app.name => "${app.status} (chart ${app.chart_version})"
  }
}

output "ingress_endpoint" {
  description = "Load balancer address of the ingress controller (null until the cloud has assigned one)."
  value       = lookup(clusterkit_managed_app.ingress.outputs, "endpoint", null)
}
