# The customer created a role in their account that trusts the platform's account with an
# external ID; the platform's own credentials come from the provider configuration.
variable "customer_external_id" {
  type      = string
  sensitive = true
}

resource "clusterkit_eks_cluster" "shop" {
  name               = "shop-production"
  region             = "eu-west-1"
  provision_role_arn = "arn:aws:iam::222222222222:role/clusterkit-provisioner"
  external_id        = var.customer_external_id
  cluster_role_arn   = "arn:aws:iam::222222222222:role/eks-cluster-role"

  kubernetes_version              = "1.35"
  vpc_id                          = "vpc-0a1b2c3d4e5f67890"
  subnet_ids                      = ["subnet-0a1b2c3d4e5f67890", "subnet-0f9e8d7c6b5a43210"]
  control_plane_security_group_id = "sg-0a1b2c3d4e5f67890"

  # EKS managed node groups; no self-managed nodes (node_count is 0 with node_groups).
  node_groups = {
    general = {
      instance_types = ["m7g.large"]
      ami_type       = "AL2023_ARM_64_STANDARD"
      min_size       = 2
      max_size       = 6
      desired_size   = 3
    }
    spot = {
      instance_types = ["c6i.xlarge", "c6a.xlarge"]
      capacity_type  = "SPOT"
      min_size       = 0
      max_size       = 10
      desired_size   = 1
      labels         = { lifecycle = "spot" }
      taints         = [{ key = "spot", value = "true", effect = "NO_SCHEDULE" }]
    }
  }

  # EKS add-ons at EKS's default versions for 1.35 (they follow kubernetes_version upgrades);
  # left out, a new cluster gets these four.
  addons = {
    vpc-cni                = {}
    kube-proxy             = {}
    eks-pod-identity-agent = {}
    coredns = {
      configuration_values = jsonencode({ replicaCount = 3 })
    }
  }

  # The nodes use the private endpoint; the public one answers only the platform's egress
  # addresses (where Terraform runs: the provider connects to the cluster after the stack).
  endpoint_private_access = true
  public_access_cidrs     = ["203.0.113.0/24"]

  enabled_log_types   = ["api", "audit", "authenticator"]
  secrets_kms_key_arn = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"

  tags = {
    customer = "shop"
  }

  timeouts = {
    create = "60m"
  }
}

output "endpoint" {
  value = clusterkit_eks_cluster.shop.endpoint
}
