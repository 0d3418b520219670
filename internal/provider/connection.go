package provider

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// cluster_connection is one object type shared by every resource that exports or takes a
// cluster, so `cluster_connection = clusterkit_eks_cluster.x.cluster_connection` just works.
// Either token is set (explicit credential) or eks is (the provider mints EKS tokens per
// operation through the customer role; nothing secret is stored).
var (
	eksConnectionAttrTypes = map[string]attr.Type{
		"region":       types.StringType,
		"cluster_name": types.StringType,
		"role_arn":     types.StringType,
		"external_id":  types.StringType,
		"session_name": types.StringType,
	}
	connectionAttrTypes = map[string]attr.Type{
		"host":                   types.StringType,
		"cluster_ca_certificate": types.StringType,
		"token":                  types.StringType,
		"eks":                    types.ObjectType{AttrTypes: eksConnectionAttrTypes},
	}
)

type connectionModel struct {
	Host                 types.String `tfsdk:"host"`
	ClusterCACertificate types.String `tfsdk:"cluster_ca_certificate"`
	Token                types.String `tfsdk:"token"`
	EKS                  types.Object `tfsdk:"eks"`
}

type eksConnectionModel struct {
	Region      types.String `tfsdk:"region"`
	ClusterName types.String `tfsdk:"cluster_name"`
	RoleARN     types.String `tfsdk:"role_arn"`
	ExternalID  types.String `tfsdk:"external_id"`
	SessionName types.String `tfsdk:"session_name"`
}

// connectionOutputAttribute is the computed cluster_connection of a resource.
func connectionOutputAttribute(description string) schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Computed:            true,
		MarkdownDescription: description,
		Attributes: map[string]schema.Attribute{
			"host":                   schema.StringAttribute{Computed: true, MarkdownDescription: "API server URL."},
			"cluster_ca_certificate": schema.StringAttribute{Computed: true, MarkdownDescription: "PEM CA bundle of the API server."},
			"token":                  schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "Bearer token, when the cluster was registered with one; null on the EKS path."},
			"eks": schema.SingleNestedAttribute{
				Computed:            true,
				MarkdownDescription: "On the EKS path: how the provider mints short-lived EKS tokens (assume `role_arn` with `external_id`, then a presigned STS call for `cluster_name`).",
				Attributes: map[string]schema.Attribute{
					"region":       schema.StringAttribute{Computed: true, MarkdownDescription: "AWS region of the cluster."},
					"cluster_name": schema.StringAttribute{Computed: true, MarkdownDescription: "EKS cluster name."},
					"role_arn":     schema.StringAttribute{Computed: true, MarkdownDescription: "Role assumed to mint tokens."},
					"external_id":  schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "External ID for the role."},
					"session_name": schema.StringAttribute{Computed: true, MarkdownDescription: "Session name used when assuming the role."},
				},
			},
		},
	}
}

// connectionInputAttribute is the cluster_connection a resource takes: pass another
// resource's exported cluster_connection.
func connectionInputAttribute(description string) schema.SingleNestedAttribute {
	a := connectionOutputAttribute(description)
	a.Computed = false
	a.Required = true
	for name, attr := range a.Attributes {
		switch v := attr.(type) {
		case schema.StringAttribute:
			v.Computed, v.Optional = false, true
			a.Attributes[name] = v
		case schema.SingleNestedAttribute:
			v.Computed, v.Optional = false, true
			for n, inner := range v.Attributes {
				s := inner.(schema.StringAttribute)
				s.Computed, s.Optional = false, true
				v.Attributes[n] = s
			}
			a.Attributes[name] = v
		}
	}
	return a
}

// resolveConnection turns a cluster_connection into a Kubernetes connection: a static
// token, or EKS tokens minted through the role on every use. Refusals become attribute
// errors on attr.
func resolveConnection(ctx context.Context, data *providerData, obj types.Object, attrPath path.Path, diags *diag.Diagnostics) (kube.Connection, bool) {
	if data == nil {
		diags.AddError("Provider not configured", "The clusterkit provider was not configured before use.")
		return kube.Connection{}, false
	}
	var c connectionModel
	diags.Append(obj.As(ctx, &c, basetypes.ObjectAsOptions{})...)
	if diags.HasError() {
		return kube.Connection{}, false
	}
	conn := kube.Connection{Host: c.Host.ValueString(), CAPEM: []byte(c.ClusterCACertificate.ValueString()), Token: c.Token.ValueString()}
	if c.EKS.IsNull() || c.EKS.IsUnknown() {
		if conn.Token == "" {
			diags.AddAttributeError(attrPath, "Incomplete cluster_connection", "Either token or eks must be set.")
			return conn, false
		}
		return conn, true
	}
	var e eksConnectionModel
	diags.Append(c.EKS.As(ctx, &e, basetypes.ObjectAsOptions{})...)
	if diags.HasError() {
		return conn, false
	}
	m := eksClusterModel{Region: e.Region, Name: e.ClusterName, ProvisionRoleARN: e.RoleARN, ExternalID: e.ExternalID, SessionName: e.SessionName}
	if m.Region.ValueString() == "" {
		m.Region = types.StringValue(data.region)
	}
	if m.SessionName.ValueString() == "" {
		m.SessionName = types.StringValue(defaultSessionName(e.ClusterName.ValueString()))
	}
	sess, ok := (&eksClusterResource{data: data}).session(ctx, m, diags)
	if !ok {
		return conn, false
	}
	name := e.ClusterName.ValueString()
	if conn.Host == "" {
		diags.AddAttributeError(attrPath, fmt.Sprintf("EKS cluster %s is not ready", name), notReadyDetail(ctx, sess, name))
		return conn, false
	}
	// The token minted below is an admin credential: it goes only where EKS says the
	// cluster is, never to a host or CA the configuration chose.
	cl, ok := eksEndpoint(ctx, sess, c, name, m.Region.ValueString(), attrPath, diags)
	if !ok {
		return conn, false
	}
	conn.Host, conn.CAPEM = cl.Endpoint, cl.CAPEM
	conn.Tokens = sess.TokenSource(name, nil)
	conn.TokensKey = "eks:" + e.RoleARN.ValueString() + "|" + m.Region.ValueString() + "|" + name
	return conn, true
}

// eksEndpoint reads the cluster (cached for the run) and refuses a connection whose host or
// CA is not what EKS reports. A mismatch is checked again against a fresh answer first, so a
// cluster replaced earlier in the same run is not refused on a stale one.
func eksEndpoint(ctx context.Context, sess *cloud.Session, c connectionModel, name, region string, attrPath path.Path, diags *diag.Diagnostics) (*cloud.Cluster, bool) {
	cl, err := sess.KnownCluster(ctx, name)
	if err == nil && mismatchedField(c, cl) != "" {
		cl, err = sess.FindCluster(ctx, name)
	}
	switch {
	case cloud.IsNotFound(err):
		diags.AddAttributeError(attrPath.AtName("eks").AtName("cluster_name"), "EKS cluster not found",
			fmt.Sprintf("EKS has no cluster named %s in %s for this role; no token was sent.", name, region))
		return nil, false
	case err != nil:
		diags.AddAttributeError(attrPath.AtName("eks").AtName("cluster_name"), "Reading the EKS cluster failed", err.Error())
		return nil, false
	case !cl.Serving():
		diags.AddAttributeError(attrPath, fmt.Sprintf("EKS cluster %s is not ready", name),
			fmt.Sprintf("EKS reports cluster %s in %s as %s, without a reachable API server; no token was sent. Apply again once it is active.", name, region, cl.Status))
		return nil, false
	}
	switch mismatchedField(c, cl) {
	case "host":
		diags.AddAttributeError(attrPath.AtName("host"), "cluster_connection.host does not match the EKS cluster",
			fmt.Sprintf("cluster_connection.host is %q, but EKS reports %q for cluster %s in %s. On the EKS path the provider sends the tokens it mints only to "+
				"the endpoint EKS reports, so no token was sent. Pass the cluster_connection of the clusterkit_eks_cluster unchanged.", c.Host.ValueString(), cl.Endpoint, name, region))
		return nil, false
	case "cluster_ca_certificate":
		diags.AddAttributeError(attrPath.AtName("cluster_ca_certificate"), "cluster_connection.cluster_ca_certificate does not match the EKS cluster",
			fmt.Sprintf("It is not the certificate authority EKS reports for cluster %s in %s. On the EKS path the provider trusts only that CA with the tokens it mints, "+
				"so no token was sent. Pass the cluster_connection of the clusterkit_eks_cluster unchanged.", name, region))
		return nil, false
	}
	return cl, true
}

// mismatchedField names the connection attribute that differs from what EKS reports; an
// unset CA is taken from EKS.
func mismatchedField(c connectionModel, cl *cloud.Cluster) string {
	if !strings.EqualFold(strings.TrimRight(c.Host.ValueString(), "/"), strings.TrimRight(cl.Endpoint, "/")) {
		return "host"
	}
	if ca := c.ClusterCACertificate.ValueString(); ca != "" && !bytes.Equal(bytes.TrimSpace([]byte(ca)), bytes.TrimSpace(cl.CAPEM)) {
		return "cluster_ca_certificate"
	}
	return ""
}

// notReadyDetail explains a connection without a host. Usually the clusterkit_eks_cluster
// that exports it stopped waiting for its stack; the stack's status, when AWS gives it, says
// whether that is so. AWS's error text is never added.
func notReadyDetail(ctx context.Context, sess *cloud.Session, name string) string {
	st, err := sess.FindStack(ctx, name)
	if err == nil {
		if _, waiting := operationInProgress(st.Status); waiting {
			return "This cluster_connection has no host yet: the clusterkit_eks_cluster that exports it stopped waiting for its CloudFormation stack " +
				"before the cluster was ready (its timeouts.create ran out, or the apply was interrupted), so this resource cannot reach the cluster. No token was sent. " +
				fmt.Sprintf("AWS reports its CloudFormation stack %s is %s. ", name, st.Status) +
				"Run apply again: the clusterkit_eks_cluster resumes waiting on the same stack (no second stack is created), then this resource is created."
		}
		return fmt.Sprintf("This cluster_connection has no host: the clusterkit_eks_cluster that exports it has not read the cluster's endpoint, and AWS reports "+
			"its CloudFormation stack %s is %s. No token was sent. Run apply again so the clusterkit_eks_cluster reads the cluster (or replaces it if the stack failed).", name, st.Status)
	}
	return fmt.Sprintf("This cluster_connection has no host: the clusterkit_eks_cluster that exports it has not read the cluster's endpoint, and no CloudFormation stack %s "+
		"could be read for it. No token was sent. Pass the cluster_connection of a clusterkit_eks_cluster whose apply completed.", name)
}

// connectionSecrets lists what withLogging must mask for a connection.
func connectionSecrets(ctx context.Context, obj types.Object) []string {
	var c connectionModel
	if obj.IsNull() || obj.IsUnknown() || obj.As(ctx, &c, basetypes.ObjectAsOptions{}).HasError() {
		return nil
	}
	out := []string{c.Token.ValueString()}
	var e eksConnectionModel
	if !c.EKS.IsNull() && !c.EKS.IsUnknown() && !c.EKS.As(ctx, &e, basetypes.ObjectAsOptions{}).HasError() {
		out = append(out, e.ExternalID.ValueString())
	}
	return out
}

// integrationConnectionAttribute is cluster_connection on clusterkit_cluster_integration:
// taken from another resource when set, otherwise built from host, CA and token.
func integrationConnectionAttribute() schema.SingleNestedAttribute {
	a := connectionInputAttribute("How this integration reaches the cluster and how other clusterkit resources (managed apps) reach it after: " +
		"set it to `clusterkit_eks_cluster.<name>.cluster_connection` for the EKS path (short-lived EKS tokens, nothing secret stored), " +
		"or leave it unset and give `host`, `cluster_ca_certificate` and `token`; it then exports those. Pass it on as a managed app's `cluster_connection`.")
	a.Required, a.Optional, a.Computed = false, true, true
	return a
}

// eksConnectionValue is the cluster_connection an EKS cluster gives (the resource's
// output, the data source's): host and CA once the cluster serves (null before), no token,
// and how to get one through the customer's role.
func eksConnectionValue(host, caPEM, region, name, roleARN, externalID, sessionName types.String, diags *diag.Diagnostics) types.Object {
	eks, d := types.ObjectValue(eksConnectionAttrTypes, map[string]attr.Value{
		"region":       region,
		"cluster_name": name,
		"role_arn":     roleARN,
		"external_id":  externalID,
		"session_name": sessionName,
	})
	diags.Append(d...)
	conn, d := types.ObjectValue(connectionAttrTypes, map[string]attr.Value{
		"host":                   host,
		"cluster_ca_certificate": caPEM,
		"token":                  types.StringNull(),
		"eks":                    eks,
	})
	diags.Append(d...)
	return conn
}
