provider "clusterkit" {
  # AWS credentials come from the same sources as in the AWS provider, in the same order:
  # access_key/secret_key/token, profile, AWS_ACCESS_KEY_ID..., AWS_ROLE_ARN +
  # AWS_WEB_IDENTITY_TOKEN_FILE, the shared files (SSO, role_arn profiles), then the
  # container or instance role. Only resources that call AWS need them.
  region = "eu-west-1" # else AWS_REGION, AWS_DEFAULT_REGION or the profile's region

  # Terraform Cloud / HCP Terraform dynamic credentials:
  # shared_config_files = [var.tfc_aws_dynamic_credentials.default.shared_config_file]

  # The platform-side role assumed before anything else (optional; several blocks chain).
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
