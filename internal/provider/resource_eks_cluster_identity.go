package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// eksClusterIdentity names a cluster across every customer a provider configuration
// serves: its stack's name is unique only within one account and region, and the account
// is the provisioning role's (the stack is created with the role's credentials).
type eksClusterIdentity struct {
	AccountID types.String `tfsdk:"account_id"`
	Region    types.String `tfsdk:"region"`
	Name      types.String `tfsdk:"name"`
}

func (r *eksClusterResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"account_id": identityschema.StringAttribute{
				RequiredForImport: true,
				Description: "AWS account ID (12 digits) of the cluster: the account of `provision_role_arn`. " +
					"Null for a cluster imported by the ID `<region>/<name>`, which does not say the account (an identity never changes once set); import with `<account ID>/<region>/<name>` or by identity to record it.",
			},
			"region": identityschema.StringAttribute{
				OptionalForImport: true,
				Description:       "AWS region of the cluster; on import, default the provider's `region`.",
			},
			"name": identityschema.StringAttribute{
				RequiredForImport: true,
				Description:       "Name of the EKS cluster and of its CloudFormation stack.",
			},
		},
	}
}

// identity is m's identity as Create and a first Read (of a state written before
// identities) give it.
func (m eksClusterModel) identity() eksClusterIdentity {
	id := eksClusterIdentity{AccountID: types.StringNull(), Region: m.Region, Name: m.Name}
	if a := roleAccount(m.ProvisionRoleARN.ValueString()); a != "" {
		id.AccountID = types.StringValue(a)
	}
	return id
}

// checkImportedAccount refuses, at plan time, a configuration whose provisioning role is in
// another account than the one the import named: the first apply after an import would
// otherwise adopt a stack of the same name in the role's account.
func checkImportedAccount(ctx context.Context, identity *tfsdk.ResourceIdentity, state, plan eksClusterModel, diags *diag.Diagnostics) {
	if identity == nil || !state.ProvisionRoleARN.IsNull() || plan.ProvisionRoleARN.IsUnknown() {
		return // not right after an import, or the role is not known yet
	}
	var id eksClusterIdentity
	if identity.Raw.IsNull() || identity.Get(ctx, &id).HasError() || id.AccountID.IsNull() {
		return
	}
	if got := roleAccount(plan.ProvisionRoleARN.ValueString()); got != "" && got != id.AccountID.ValueString() {
		diags.AddAttributeError(path.Root("provision_role_arn"), "Provisioning role in another account than the import",
			fmt.Sprintf("This cluster was imported from AWS account %s, but provision_role_arn is a role of account %s, where the provider would look for stack %s. "+
				"Set the role of account %s, or import again with the right account.", id.AccountID.ValueString(), got, plan.Name.ValueString(), id.AccountID.ValueString()))
	}
}

// ImportState takes `<region>/<name>`, `<account ID>/<region>/<name>`, or an identity. The
// role and external ID are not readable from AWS: the first apply takes them from the
// configuration and checks the stack matches it.
func (r *eksClusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	var id eksClusterIdentity
	if req.ID != "" {
		var ok bool
		if id, ok = parseEKSImportID(req.ID); !ok {
			resp.Diagnostics.AddError("Invalid import ID",
				fmt.Sprintf("Expected <region>/<stack name> or <account ID>/<region>/<stack name>, e.g. eu-west-1/shop-production or 222222222222/eu-west-1/shop-production; got %q.", req.ID))
			return
		}
	} else {
		resp.Diagnostics.Append(req.Identity.Get(ctx, &id)...)
		if resp.Diagnostics.HasError() {
			return
		}
		if id.Region.IsNull() || id.Region.ValueString() == "" {
			if r.data == nil || r.data.region == "" {
				resp.Diagnostics.AddError("No AWS region", "The import identity has no region, and the provider has none (region, or AWS_REGION in the environment): set identity.region.")
				return
			}
			id.Region = types.StringValue(r.data.region)
		}
		var bad []string
		if !awsAccountRE.MatchString(id.AccountID.ValueString()) {
			bad = append(bad, fmt.Sprintf("account_id must be a 12-digit AWS account ID, got %q", id.AccountID.ValueString()))
		}
		if !awsRegionRE.MatchString(id.Region.ValueString()) {
			bad = append(bad, fmt.Sprintf("region must be an AWS region such as eu-west-1, got %q", id.Region.ValueString()))
		}
		if !eksNameRE.MatchString(id.Name.ValueString()) {
			bad = append(bad, fmt.Sprintf("name must be an EKS cluster name (a letter, then letters, digits and hyphens), got %q", id.Name.ValueString()))
		}
		if len(bad) > 0 {
			resp.Diagnostics.AddError("Invalid import identity", strings.Join(bad, "; ")+".")
			return
		}
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), eksID(id.Region.ValueString(), id.Name.ValueString()))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("region"), id.Region)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), id.Name)...)
	setIdentity(ctx, resp.Identity, id, false, &resp.Diagnostics)
}

func parseEKSImportID(s string) (eksClusterIdentity, bool) {
	parts := strings.Split(s, "/")
	id := eksClusterIdentity{AccountID: types.StringNull()}
	switch len(parts) {
	case 2:
	case 3:
		if !awsAccountRE.MatchString(parts[0]) {
			return id, false
		}
		id.AccountID = types.StringValue(parts[0])
		parts = parts[1:]
	default:
		return id, false
	}
	if !awsRegionRE.MatchString(parts[0]) || !eksNameRE.MatchString(parts[1]) {
		return id, false
	}
	id.Region, id.Name = types.StringValue(parts[0]), types.StringValue(parts[1])
	return id, true
}
