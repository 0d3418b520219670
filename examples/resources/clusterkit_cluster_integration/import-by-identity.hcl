import {
  to = clusterkit_cluster_integration.this
  identity = {
    host = "https://k8s.example.com:6443"
    # Optional, shown with their defaults:
    service_account_namespace = "kube-system"
    service_account_name      = "clusterkit"
  }
}
