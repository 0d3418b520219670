import {
  to = clusterkit_managed_app.ingress
  identity = {
    namespace = "ingress-nginx"
    name      = "ingress-nginx"
    # Optional: the plan then refuses a cluster_connection to another cluster.
    host = "https://k8s.example.com:6443"
  }
}
