import {
  to = clusterkit_cluster_integration.this
  id = "kube-system/clusterkit@https://k8s.example.com:6443"
}
