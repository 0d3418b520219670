variable "name" {
  type        = string
  description = "Name of the EKS cluster and its CloudFormation stack."
}

variable "region" {
  type        = string
  default     = null
  description = "AWS region; default the provider's."
}

variable "provision_role_arn" {
  type        = string
  description = "The customer's provisioning role; it must trust the platform account with the external ID."
}

variable "external_id" {
  type        = string
  sensitive   = true
  description = "External ID the customer's role requires."
}

variable "cluster_role_arn" {
  type        = string
  description = "The customer's EKS service role."
}

variable "kubernetes_version" {
  type    = string
  default = "1.35"
}

variable "network" {
  type = object({
    vpc_id                          = string
    subnet_ids                      = list(string)
    control_plane_security_group_id = string
  })
  description = "Where the cluster runs."
}

variable "nodes" {
  type = object({
    instance_type = optional(string, "t3.medium")
    count         = optional(number, 3)
    volume_size   = optional(number, 20)
  })
  default = {}
}

variable "namespaces" {
  type = map(object({
    role   = optional(string, "edit")
    labels = optional(map(string), {})
  }))
  default     = {}
  description = "Restricted namespaces, each with its own service account."
}

variable "apps" {
  type        = set(string)
  default     = []
  description = "Catalog apps to install, e.g. [\"ingress-nginx\", \"cert-manager\"]."
}

variable "tags" {
  type    = map(string)
  default = {}
}
