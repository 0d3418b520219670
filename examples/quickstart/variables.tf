variable "region" {
  type        = string
  default     = "eu-west-1"
  description = "AWS region of the cluster."
}

variable "cluster_name" {
  type        = string
  default     = "clusterkit-quickstart"
  description = "Name of the EKS cluster and its CloudFormation stack."
}

variable "provision_role_arn" {
  type        = string
  description = "The customer's provisioning role (trusts the platform account, requires external_id)."
}

variable "external_id" {
  type        = string
  sensitive   = true
  description = "External ID the provisioning role requires."
}

variable "cluster_role_arn" {
  type        = string
  description = "The customer's EKS service role."
}

variable "kubernetes_version" {
  type    = string
  default = "1.35"
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type        = list(string)
  description = "At least two subnets in different availability zones."
}

variable "control_plane_security_group_id" {
  type = string
}

variable "aws_endpoint" {
  type        = string
  default     = null
  description = "Emulator endpoint for STS, CloudFormation and EKS (the local stack); null for AWS."
}

variable "allow_local_requests" {
  type        = bool
  default     = false
  description = "Only for clusters on local or private addresses, such as the local stack."
}

variable "chart_repository_mirrors" {
  type        = map(string)
  default     = {}
  description = <<-EOT
    Chart repositories to install from instead of the public ones the charts name, for
    air-gapped clusters that reach charts only through a mirror of their own (Harbor,
    Artifactory, Nexus, ...): public repository URL -> mirror URL (https:// chart repository
    or oci:// registry path), e.g. { "https://charts.jetstack.io" = "oci://harbor.example.com/jetstack" }.
    Applies to the catalog apps and the custom chart alike. The demo (examples/demo.sh)
    points it at the local stack's mirrors. {} installs from the public repositories.
  EOT
}
