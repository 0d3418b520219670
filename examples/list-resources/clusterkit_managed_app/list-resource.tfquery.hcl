# query.tfquery.hcl, beside the configuration that holds the provider:
#   terraform query -generate-config-out=generated.tf   (Terraform >= 1.14)
variable "cluster_token" {
  type      = string
  sensitive = true # list schemas cannot mark the token sensitive: a sensitive variable does
}

# Every helm release in two namespaces, clusterkit's and anyone else's.
list "clusterkit_managed_app" "shop" {
  provider         = clusterkit
  include_resource = true # the attributes -generate-config-out writes

  config {
    cluster_connection = {
      host                   = "https://k8s.example.com:6443"
      cluster_ca_certificate = file("${path.module}/cluster-ca.pem")
      token                  = var.cluster_token
    }
    namespaces = ["ingress-nginx", "shop"] # leave out for every namespace
  }
}
