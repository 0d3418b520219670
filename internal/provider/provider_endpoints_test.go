package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccProvider_EndpointsNeedAllowLocalRequests: through OpenTofu, the emulator's plain
// http endpoint on 127.0.0.1 is refused at plan time when allow_local_requests is not set,
// before any AWS call; the acceptance configurations, which set it, keep working (the EKS
// tests). The diagnostic names the attribute and the rule.
func TestAccProvider_EndpointsNeedAllowLocalRequests(t *testing.T) {
	stackFromEnv(t)
	t.Setenv("CLUSTERKIT_ALLOW_LOCAL_REQUESTS", "")
	callsBefore := len(accStack.AWS.Calls())
	cfg := fmt.Sprintf(`
terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}

provider "clusterkit" {
  region = "us-east-1"
  endpoints {
    sts            = %q
    cloudformation = %q
  }
}

resource "clusterkit_eks_cluster" "test" {
  name                            = "ck-acc-endpoints"
  provision_role_arn              = %q
  external_id                     = "ext-not-used"
  cluster_role_arn                = "arn:aws:iam::222222222222:role/eks-service"
  kubernetes_version              = "1.35"
  vpc_id                          = "vpc-0123456789abcdef0"
  subnet_ids                      = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  control_plane_security_group_id = "sg-0123456789abcdef0"
}
`, accStack.AWSEndpoint, "https://169.254.169.254", accStack.AWSConfig.RoleARN)

	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []resource.TestStep{{
			Config:   cfg,
			PlanOnly: true,
			ExpectError: regexp.MustCompile(`(?s)Error: Invalid endpoints\.sts.*endpoints\.sts must be an https URL of the AWS service.*` +
				`allow_local_requests = true.*scheme must be "https".*Error: Invalid endpoints\.cloudformation.*` +
				`link-local \(cloud\s+metadata\)\s+address\.`),
		}},
	}))
	if n := len(accStack.AWS.Calls()) - callsBefore; n != 0 {
		t.Errorf("%d AWS calls were made; the plan should have stopped before any", n)
	}
}
