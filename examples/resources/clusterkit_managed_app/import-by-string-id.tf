import {
  to = clusterkit_managed_app.ingress
  id = "ingress-nginx/ingress-nginx@https://k8s.example.com:6443"
}
