package provider

// The eks_cluster's authentication mode: how EKS maps IAM principals to Kubernetes
// identities (access entries, kube-system/aws-auth, or both). Its schema, its plan-time
// rules (a new cluster's default, the one-way changes EKS allows) and how it maps to the
// template's parameters.

import (
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

var authModePath = path.Root("authentication_mode")

func authenticationModeAttribute() schema.StringAttribute {
	modes := cloud.AuthenticationModes()
	return schema.StringAttribute{
		Optional: true, Computed: true,
		MarkdownDescription: "How the cluster maps IAM principals to Kubernetes identities: `API` (the default for a new cluster: EKS access entries only), `API_AND_CONFIG_MAP` (access entries and `kube-system/aws-auth`) or `CONFIG_MAP` (`aws-auth` only, which EKS is moving away from: a new cluster in this mode plans with a warning). " +
			"In `API` and `API_AND_CONFIG_MAP` the node role gets an access entry of type `EC2_LINUX` and the provisioning role one with `AmazonEKSClusterAdminPolicy` on the whole cluster (the cluster is created without EKS's implicit admin for its creator), and the provider writes nothing to `aws-auth`; in `CONFIG_MAP` the provisioning role is admin as the cluster's creator and the provider maps the node role in `aws-auth`, merging with what others wrote. " +
			"Changed in place one step at a time and only forward, as EKS allows: `CONFIG_MAP` to `API_AND_CONFIG_MAP` to `API`; anything else is refused at plan time. " +
			"Unset, an existing cluster keeps the mode EKS reports (a cluster of an earlier provider version: `API_AND_CONFIG_MAP`, with EKS's creator admin entry). With `template_body`, leave it unset unless the template declares an `AuthenticationMode` parameter.",
		Validators: []validator.String{stringvalidator.OneOf(modes...)},
	}
}

// authModeValue is the mode, "" when null or unknown.
func authModeValue(v types.String) string {
	if isKnown(v) {
		return v.ValueString()
	}
	return ""
}

// planAuthentication is ModifyPlan's part for the mode: the default of a new cluster, the
// prior mode of an existing one, the one-way rule, and warnings about what changes.
func planAuthentication(config, plan, state *eksClusterModel, diags interface {
	AddAttributeError(path.Path, string, string)
	AddAttributeWarning(path.Path, string, string)
}) {
	userTemplateLacksMode := isKnown(plan.TemplateBody) && plan.TemplateBody.ValueString() != "" && !templateDeclares(plan.TemplateBody.ValueString(), "AuthenticationMode")
	if userTemplateLacksMode && isKnown(config.AuthenticationMode) {
		diags.AddAttributeError(authModePath, "template_body lacks a parameter",
			"template_body declares no AuthenticationMode parameter, so authentication_mode cannot take effect: declare it in the template (as the embedded template does), or leave authentication_mode unset (the template decides, and the attribute reports what EKS says).")
		return
	}
	if config.AuthenticationMode.IsNull() {
		switch {
		case state == nil && userTemplateLacksMode:
			plan.AuthenticationMode = types.StringUnknown() // the template decides; read back from EKS
		case state == nil:
			plan.AuthenticationMode = types.StringValue(cloud.AuthModeAPI)
		case !state.AuthenticationMode.IsNull():
			plan.AuthenticationMode = state.AuthenticationMode
		default:
			plan.AuthenticationMode = types.StringUnknown() // imported: the update reads it
		}
	}
	if !isKnown(plan.AuthenticationMode) {
		return
	}
	to := plan.AuthenticationMode.ValueString()
	if state == nil {
		if to == cloud.AuthModeConfigMap {
			diags.AddAttributeWarning(authModePath, "A new cluster in CONFIG_MAP mode",
				"authentication_mode = \"CONFIG_MAP\" maps IAM roles through kube-system/aws-auth only, which EKS is moving away from: every role other than the provisioning role needs an aws-auth entry, and the cluster can later move to API_AND_CONFIG_MAP and API but never back. "+
					"Use API (the default) unless something that must stay on aws-auth needs this cluster.")
		}
		return
	}
	from := authModeValue(state.AuthenticationMode)
	if from == "" {
		return // imported: the update compares with the cluster
	}
	var change *cloud.AuthModeChangeError
	if err := cloud.CheckAuthModeChange(from, to); errors.As(err, &change) {
		summary := "Authentication mode cannot go back"
		if change.Next != "" {
			summary = "Change the authentication mode one step at a time"
		}
		diags.AddAttributeError(authModePath, summary, err.Error()+".")
		return
	}
	if from != to && to == cloud.AuthModeAPI {
		diags.AddAttributeWarning(authModePath, "kube-system/aws-auth will no longer be read",
			fmt.Sprintf("Moving from %s to API makes EKS ignore kube-system/aws-auth: every IAM role or user mapped there (other than the nodes and the provisioning role, which have access entries) loses access unless it gets an access entry first. EKS cannot move the cluster back.", from))
	}
}

// templateDeclares reports whether a user template declares parameter name (a template
// that does not parse is left to CloudFormation: treated as declaring it).
func templateDeclares(body, name string) bool {
	probe := map[string]string{name: "x"}
	cloud.FitParameters(body, probe)
	_, kept := probe[name]
	return kept
}

// authentication is the template side of the mode. prior are the stack's parameters (nil
// for a new stack): an existing stack keeps its admin role, which CloudFormation cannot
// change; a mode not known yet (after an import) is the stack's own.
func (m eksClusterModel) authentication(prior map[string]string) cloud.ClusterAuthentication {
	if prior == nil {
		mode := authModeValue(m.AuthenticationMode)
		if mode == "" {
			mode = cloud.AuthModeAPI
		}
		return cloud.NewClusterAuthentication(mode, m.ProvisionRoleARN.ValueString())
	}
	a := cloud.ClusterAuthenticationFromParameters(prior)
	if mode := authModeValue(m.AuthenticationMode); mode != "" {
		a = a.WithMode(mode)
	}
	return a
}
