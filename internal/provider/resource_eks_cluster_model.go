package provider

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

type eksClusterModel struct {
	ID                          types.String   `tfsdk:"id"`
	Name                        types.String   `tfsdk:"name"`
	Region                      types.String   `tfsdk:"region"`
	ProvisionRoleARN            types.String   `tfsdk:"provision_role_arn"`
	ExternalID                  types.String   `tfsdk:"external_id"`
	SessionName                 types.String   `tfsdk:"session_name"`
	ClusterRoleARN              types.String   `tfsdk:"cluster_role_arn"`
	KubernetesVersion           types.String   `tfsdk:"kubernetes_version"`
	VPCID                       types.String   `tfsdk:"vpc_id"`
	SubnetIDs                   types.List     `tfsdk:"subnet_ids"`
	ControlPlaneSecurityGroupID types.String   `tfsdk:"control_plane_security_group_id"`
	ServiceIPv4CIDR             types.String   `tfsdk:"service_ipv4_cidr"`
	NodeInstanceType            types.String   `tfsdk:"node_instance_type"`
	NodeCount                   types.Int64    `tfsdk:"node_count"`
	NodeVolumeSize              types.Int64    `tfsdk:"node_volume_size"`
	KeyName                     types.String   `tfsdk:"key_name"`
	NodeGroups                  types.Map      `tfsdk:"node_groups"`
	Addons                      types.Map      `tfsdk:"addons"`
	ManagedNodeRoleARN          types.String   `tfsdk:"managed_node_role_arn"`
	Tags                        types.Map      `tfsdk:"tags"`
	EndpointPublicAccess        types.Bool     `tfsdk:"endpoint_public_access"`
	EndpointPrivateAccess       types.Bool     `tfsdk:"endpoint_private_access"`
	PublicAccessCIDRs           types.List     `tfsdk:"public_access_cidrs"`
	EnabledLogTypes             types.Set      `tfsdk:"enabled_log_types"`
	SecretsKMSKeyARN            types.String   `tfsdk:"secrets_kms_key_arn"`
	IPFamily                    types.String   `tfsdk:"ip_family"`
	AuthenticationMode          types.String   `tfsdk:"authentication_mode"`
	TemplateBody                types.String   `tfsdk:"template_body"`
	StackID                     types.String   `tfsdk:"stack_id"`
	Status                      types.String   `tfsdk:"status"`
	Endpoint                    types.String   `tfsdk:"endpoint"`
	CertificateAuthorityData    types.String   `tfsdk:"certificate_authority_data"`
	ClusterARN                  types.String   `tfsdk:"cluster_arn"`
	NodeInstanceRoleARN         types.String   `tfsdk:"node_instance_role_arn"`
	OIDCIssuerURL               types.String   `tfsdk:"oidc_issuer_url"`
	ServiceAccount              types.Object   `tfsdk:"service_account"`
	ClusterConnection           types.Object   `tfsdk:"cluster_connection"`
	Timeouts                    timeouts.Value `tfsdk:"timeouts"`
}

var serviceAccountAttrTypes = map[string]attr.Type{"name": types.StringType, "namespace": types.StringType}

// Names the bootstrap gives the provider's own identity in the new cluster.
const (
	eksServiceAccountName      = "clusterkit"
	eksServiceAccountNamespace = "kube-system"
	eksAdminBinding            = "clusterkit-admin"
	stackTagManagedBy          = "clusterkit.dev/managed-by"
	stackTagResource           = "clusterkit.dev/resource"
)

func eksID(region, name string) string { return region + "/" + name }

// owner marks the Kubernetes objects the bootstrap creates.
func (m eksClusterModel) owner() string { return "eks_cluster/" + m.ID.ValueString() }

func (m eksClusterModel) target() cloud.Target {
	return cloud.Target{
		Region:      m.Region.ValueString(),
		RoleARN:     m.ProvisionRoleARN.ValueString(),
		ExternalID:  m.ExternalID.ValueString(),
		SessionName: m.SessionName.ValueString(),
	}
}

func defaultSessionName(name string) string {
	s := "clusterkit-" + name
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

func (m eksClusterModel) template() string {
	if !m.TemplateBody.IsNull() && !m.TemplateBody.IsUnknown() && m.TemplateBody.ValueString() != "" {
		return m.TemplateBody.ValueString()
	}
	return cloud.EKSClusterTemplate()
}

// stackSpec is the CloudFormation side of the configuration; prior are the parameters of
// the stack it updates (nil for a new one).
func (m eksClusterModel) stackSpec(ctx context.Context, prior map[string]string, diags *diag.Diagnostics) cloud.StackSpec {
	var subnets []string
	diags.Append(m.SubnetIDs.ElementsAs(ctx, &subnets, false)...)
	ami, err := cloud.NodeAMIParameter(m.KubernetesVersion.ValueString())
	if err != nil {
		diags.AddError("Invalid kubernetes_version", err.Error())
	}
	tags := map[string]string{}
	if !m.Tags.IsNull() && !m.Tags.IsUnknown() {
		diags.Append(m.Tags.ElementsAs(ctx, &tags, false)...)
	}
	tags[stackTagManagedBy] = "clusterkit"
	tags[stackTagResource] = m.ID.ValueString()
	params := map[string]string{
		"ClusterName":                 m.Name.ValueString(),
		"ClusterRoleArn":              m.ClusterRoleARN.ValueString(),
		"KubernetesVersion":           m.KubernetesVersion.ValueString(),
		"VpcId":                       m.VPCID.ValueString(),
		"SubnetIds":                   strings.Join(subnets, ","),
		"ControlPlaneSecurityGroupId": m.ControlPlaneSecurityGroupID.ValueString(),
		"ServiceIpv4Cidr":             m.ServiceIPv4CIDR.ValueString(),
		"NodeInstanceType":            m.NodeInstanceType.ValueString(),
		"NodeCount":                   strconv.FormatInt(m.NodeCount.ValueInt64(), 10),
		"NodeVolumeSize":              strconv.FormatInt(m.NodeVolumeSize.ValueInt64(), 10),
		"KeyName":                     m.KeyName.ValueString(),
		"NodeImageId":                 ami,
	}
	if m.ServiceIPv4CIDR.IsNull() {
		delete(params, "ServiceIpv4Cidr") // ip_family ipv6: EKS picks the block
	}
	for k, v := range m.access(ctx, diags).Parameters() {
		params[k] = v
	}
	for k, v := range m.authentication(prior).Parameters() {
		params[k] = v
	}
	if body := m.template(); body != cloud.EKSClusterTemplate() {
		cloud.FitParameters(body, params) // ModifyPlan refused the values that would be lost
	}
	return cloud.StackSpec{Name: m.Name.ValueString(), TemplateBody: m.stackTemplate(ctx, diags), Parameters: params, Tags: tags}
}

// fromStack takes what the stack says about the inputs CloudFormation owns, so changes
// made outside Terraform show up as drift.
func (m *eksClusterModel) fromStack(st *cloud.Stack) {
	m.StackID = types.StringValue(st.ID)
	m.Status = types.StringValue(st.Status)
	if v, ok := st.Parameters["KubernetesVersion"]; ok {
		m.KubernetesVersion = types.StringValue(v)
	}
	if v, ok := st.Parameters["NodeInstanceType"]; ok {
		m.NodeInstanceType = types.StringValue(v)
	}
	if v, ok := st.Parameters["SubnetIds"]; ok && v != "" {
		m.SubnetIDs = eksStringList(strings.Split(v, ","))
	}
	if v, ok := st.Parameters["ControlPlaneSecurityGroupId"]; ok && v != "" {
		m.ControlPlaneSecurityGroupID = types.StringValue(v)
	}
	if v, err := strconv.ParseInt(st.Parameters["NodeCount"], 10, 64); err == nil {
		m.NodeCount = types.Int64Value(v)
	}
	if v, err := strconv.ParseInt(st.Parameters["NodeVolumeSize"], 10, 64); err == nil {
		m.NodeVolumeSize = types.Int64Value(v)
	}
	if v := st.Outputs[cloud.OutputNodeInstanceRoleArn]; v != "" {
		m.NodeInstanceRoleARN = types.StringValue(v)
	}
	m.ManagedNodeRoleARN = types.StringNull()
	if v := st.Outputs[cloud.OutputManagedNodeRoleArn]; v != "" {
		m.ManagedNodeRoleARN = types.StringValue(v)
	}
	m.accessFromStack(st.Parameters)
}

func (m *eksClusterModel) fromCluster(c *cloud.Cluster) {
	if c.AuthenticationMode != "" {
		m.AuthenticationMode = types.StringValue(c.AuthenticationMode)
	}
	m.OIDCIssuerURL = types.StringNull()
	if c.OIDCIssuer != "" {
		m.OIDCIssuerURL = types.StringValue(c.OIDCIssuer)
	}
	m.Endpoint = types.StringValue(c.Endpoint)
	m.CertificateAuthorityData = types.StringValue(base64.StdEncoding.EncodeToString(c.CAPEM))
	m.ClusterARN = types.StringValue(c.ARN)
}

// fillOutputs sets the objects derived from the rest; before the cluster exists they are
// null, never unknown, so a state written mid-create is valid.
func (m *eksClusterModel) fillOutputs(diags *diag.Diagnostics) {
	sa, d := types.ObjectValue(serviceAccountAttrTypes, map[string]attr.Value{
		"name": types.StringValue(eksServiceAccountName), "namespace": types.StringValue(eksServiceAccountNamespace),
	})
	diags.Append(d...)
	m.ServiceAccount = sa
	m.settleAddons()
	for _, v := range []*types.String{&m.Endpoint, &m.CertificateAuthorityData, &m.ClusterARN, &m.NodeInstanceRoleARN, &m.ManagedNodeRoleARN, &m.StackID, &m.Status, &m.AuthenticationMode, &m.OIDCIssuerURL} {
		if v.IsUnknown() {
			*v = types.StringNull()
		}
	}
	if m.StackID.IsNull() || m.ProvisionRoleARN.IsNull() {
		m.ClusterConnection = types.ObjectNull(connectionAttrTypes)
		return
	}
	// Before the cluster is ready (a create that stopped waiting) the connection still names
	// the cluster, without host or CA: a resource that takes it in the same apply then says
	// the cluster is not ready, rather than that a setting is missing.
	host, caPEM := types.StringNull(), types.StringNull()
	if !m.Endpoint.IsNull() {
		ca, _ := base64.StdEncoding.DecodeString(m.CertificateAuthorityData.ValueString())
		host, caPEM = m.Endpoint, types.StringValue(string(ca))
	}
	m.ClusterConnection = eksConnectionValue(host, caPEM, m.Region, m.Name, m.ProvisionRoleARN, m.ExternalID, m.SessionName, diags)
}

// kubeConnection reaches the cluster with EKS tokens minted from sess.
func (m eksClusterModel) kubeConnection(sess *cloud.Session) kube.Connection {
	ca, _ := base64.StdEncoding.DecodeString(m.CertificateAuthorityData.ValueString())
	return kube.Connection{
		Host:      m.Endpoint.ValueString(),
		CAPEM:     ca,
		Tokens:    sess.TokenSource(m.Name.ValueString(), nil),
		TokensKey: "eks:" + m.ProvisionRoleARN.ValueString() + "|" + m.Region.ValueString() + "|" + m.Name.ValueString(),
	}
}
