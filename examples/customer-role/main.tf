# Run by the CUSTOMER, in their own account (with the hashicorp/aws provider): the role
# clusterkit assumes to create EKS clusters there. The platform account may assume it only
# with the external ID agreed with this customer (no confused deputy).

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

variable "platform_account_id" {
  type        = string
  description = "AWS account ID of the platform that runs clusterkit."
}

variable "external_id" {
  type        = string
  sensitive   = true
  description = "Shared with the platform; it goes into clusterkit_eks_cluster.external_id."
}

variable "secrets_kms_key_arns" {
  type        = list(string)
  default     = []
  description = "KMS keys the platform may name in clusterkit_eks_cluster.secrets_kms_key_arn (EKS secrets encryption); none by default."
}

data "aws_partition" "current" {}

resource "aws_iam_role" "clusterkit_provisioner" {
  name = "clusterkit-provisioner"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${var.platform_account_id}:root" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "sts:ExternalId" = var.external_id } }
    }]
  })
  max_session_duration = 3600
}

# What the stack and the provider need: CloudFormation, EKS (the cluster, its access
# entries, managed node groups and add-ons), the node group's EC2 and Auto
# Scaling pieces, the node role (with an inline policy for ip_family = "ipv6") and instance
# profile, passing the EKS service role, the EKS-optimized AMI parameter, and, for secrets
# encryption, DescribeKey and CreateGrant on the KMS keys the platform may use (EKS creates a
# grant for the cluster with the caller's rights). Control-plane logging needs nothing more:
# EKS writes to /aws/eks/<name>/cluster with its service-linked role. Narrow the resources
# further to your naming if you like.
resource "aws_iam_role_policy" "clusterkit_provisioner" {
  role = aws_iam_role.clusterkit_provisioner.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      { Effect = "Allow", Action = ["cloudformation:*"], Resource = "*" },
      {
        Effect = "Allow"
        Action = [
          "eks:CreateCluster", "eks:DeleteCluster", "eks:DescribeCluster", "eks:ListClusters",
          "eks:UpdateClusterConfig", "eks:UpdateClusterVersion", "eks:DescribeUpdate",
          "eks:TagResource", "eks:UntagResource", "eks:ListTagsForResource",
          # Access entries (authentication_mode API / API_AND_CONFIG_MAP): the nodes' entry and
          # the provisioning role's cluster-admin entry, made and removed by the stack.
          "eks:CreateAccessEntry", "eks:DeleteAccessEntry", "eks:DescribeAccessEntry", "eks:UpdateAccessEntry",
          "eks:ListAccessEntries", "eks:AssociateAccessPolicy", "eks:DisassociateAccessPolicy",
          "eks:ListAssociatedAccessPolicies",
          # Managed node groups (node_groups): made, scaled, upgraded and removed by the stack;
          # the provider reads them back from the stack's template.
          "eks:CreateNodegroup", "eks:DeleteNodegroup", "eks:DescribeNodegroup", "eks:ListNodegroups",
          "eks:UpdateNodegroupConfig", "eks:UpdateNodegroupVersion",
          # EKS add-ons (addons): made, updated and removed by the stack (CloudFormation's
          # AWS::EKS::Addon handler); the provider looks up EKS's default versions.
          "eks:CreateAddon", "eks:DeleteAddon", "eks:DescribeAddon", "eks:UpdateAddon", "eks:ListAddons",
          "eks:DescribeAddonVersions",
        ]
        Resource = "*"
      },
      {
        # EKS manages node groups through its service-linked role, created with the first one.
        Effect    = "Allow"
        Action    = ["iam:CreateServiceLinkedRole"]
        Resource  = "arn:${data.aws_partition.current.partition}:iam::*:role/aws-service-role/eks-nodegroup.amazonaws.com/AWSServiceRoleForAmazonEKSNodegroup"
        Condition = { StringEquals = { "iam:AWSServiceName" = "eks-nodegroup.amazonaws.com" } }
      },
      {
        Effect = "Allow"
        Action = [
          "ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion", "ec2:DeleteLaunchTemplate", "ec2:Describe*",
          "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
          "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
          "ec2:CreateTags", "ec2:DeleteTags", "ec2:RunInstances",
          "autoscaling:*", "ssm:GetParameter", "ssm:GetParameters",
        ]
        Resource = "*"
      },
      {
        Effect = "Allow"
        Action = [
          "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:TagRole", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
          "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy",
          "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile",
          "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
        ]
        Resource = "*"
      },
      {
        # The EKS service role to the cluster, the node roles to EC2 (self-managed nodes) and
        # to EKS (managed node groups).
        Effect    = "Allow"
        Action    = ["iam:PassRole"]
        Resource  = "*"
        Condition = { StringEquals = { "iam:PassedToService" = ["eks.amazonaws.com", "ec2.amazonaws.com"] } }
      },
      ], length(var.secrets_kms_key_arns) == 0 ? [] : [{
        Effect   = "Allow"
        Action   = ["kms:DescribeKey", "kms:CreateGrant"]
        Resource = var.secrets_kms_key_arns
        # Only grants for AWS services acting for this role (EKS), not for anyone else.
        Condition = { Bool = { "kms:GrantIsForAWSResource" = "true" } }
    }])
  })
}

output "provision_role_arn" {
  description = "Give this to the platform: clusterkit_eks_cluster.provision_role_arn."
  value       = aws_iam_role.clusterkit_provisioner.arn
}
