package provider

import (
	"context"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
)

// Resource identity (Terraform >= 1.12, OpenTofu >= 1.12): a small object stored beside a
// resource's state that names its remote object, which `import { identity = {...} }`
// blocks and list resources use. An identity holds nothing secret, and it never changes
// once set: the framework refuses a Read, plan or Update that returns another one (and
// Terraform >= 1.12 a refresh that does).
// So Create always sets it; Read and Update set it only when it is still null (a state
// written before the resource had an identity), and otherwise keep what was stored.

var awsAccountRE = regexp.MustCompile(`^\d{12}$`)

// setIdentity stores v as the identity in id. With keep, an identity already set stays.
func setIdentity(ctx context.Context, id *tfsdk.ResourceIdentity, v any, keep bool, diags *diag.Diagnostics) {
	if id == nil {
		return // no identity schema
	}
	if keep && !id.Raw.IsNull() && !id.Raw.IsFullyNull() {
		return
	}
	diags.Append(id.Set(ctx, v)...)
}

// roleAccount is the AWS account ID of an IAM role ARN (arn:<partition>:iam::<account>:role/<name>),
// or "" when arn is not one.
func roleAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || !awsAccountRE.MatchString(parts[4]) {
		return ""
	}
	return parts[4]
}
