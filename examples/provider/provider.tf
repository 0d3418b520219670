provider "clusterkit" {
  # AWS credentials come from the standard chain (environment, shared config, SSO, web
  # identity / Terraform Cloud dynamic credentials). Only resources that call AWS need them.
  region = "eu-west-1"

  # The platform-side role assumed before anything else (optional).
  assume_role {
    role_arn     = "arn:aws:iam::111122223333:role/platform-provisioner"
    session_name = "clusterkit"
  }

  # Cluster URLs are user input: private and local addresses are refused unless allowed.
  # The same rule holds for custom AWS endpoints (emulators, other partitions):
  # https only, no local or metadata address, unless allow_local_requests = true.
  allow_local_requests = false

  # endpoints {
  #   sts = "https://sts.eu-west-1.amazonaws.com"
  # }
}
