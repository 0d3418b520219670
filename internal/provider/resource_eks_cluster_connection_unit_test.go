package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
)

func TestMismatchedField(t *testing.T) {
	cl := &cloud.Cluster{Endpoint: "https://ABC.gr7.us-east-1.eks.amazonaws.com", CAPEM: []byte("-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n")}
	cases := map[string]struct {
		host, ca string
		want     string
	}{
		"same":                        {"https://ABC.gr7.us-east-1.eks.amazonaws.com", string(cl.CAPEM), ""},
		"trailing slash and case":     {"https://abc.gr7.us-east-1.eks.amazonaws.com/", "\n" + string(cl.CAPEM) + "\n", ""},
		"no CA: EKS's is used":        {"https://ABC.gr7.us-east-1.eks.amazonaws.com", "", ""},
		"another host":                {"https://collector.example.com", string(cl.CAPEM), "host"},
		"same host on another port":   {"https://ABC.gr7.us-east-1.eks.amazonaws.com:8443", string(cl.CAPEM), "host"},
		"another CA":                  {"https://ABC.gr7.us-east-1.eks.amazonaws.com", "-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n", "cluster_ca_certificate"},
		"another host and another CA": {"https://collector.example.com", "x", "host"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := connectionModel{Host: types.StringValue(tc.host), ClusterCACertificate: types.StringValue(tc.ca)}
			if tc.ca == "" {
				c.ClusterCACertificate = types.StringNull()
			}
			if got := mismatchedField(c, cl); got != tc.want {
				t.Fatalf("mismatchedField = %q, want %q", got, tc.want)
			}
		})
	}
}

// A create that stopped waiting leaves a cluster_connection that names the cluster but has
// no host or CA (so dependents can say the cluster is not ready); once the cluster is read,
// both come from EKS's answer.
func TestFillOutputsConnectionBeforeAndAfterTheCluster(t *testing.T) {
	ctx := context.Background()
	m := eksClusterModel{
		Name: types.StringValue("shop"), Region: types.StringValue("eu-west-1"),
		ProvisionRoleARN: types.StringValue("arn:aws:iam::222222222222:role/p"), ExternalID: types.StringValue("ext-1"),
		SessionName: types.StringValue("clusterkit-shop"), StackID: types.StringValue("arn:aws:cloudformation:eu-west-1:222222222222:stack/shop/1"),
		Status: types.StringValue("CREATE_IN_PROGRESS"), Endpoint: types.StringUnknown(), CertificateAuthorityData: types.StringUnknown(),
		ClusterARN: types.StringUnknown(), NodeInstanceRoleARN: types.StringUnknown(),
	}
	var diags diag.Diagnostics
	m.fillOutputs(&diags)
	if diags.HasError() {
		t.Fatal(diags)
	}
	var c connectionModel
	var e eksConnectionModel
	if d := m.ClusterConnection.As(ctx, &c, basetypes.ObjectAsOptions{}); d.HasError() {
		t.Fatal(d)
	}
	if d := c.EKS.As(ctx, &e, basetypes.ObjectAsOptions{}); d.HasError() {
		t.Fatal(d)
	}
	if !c.Host.IsNull() || !c.ClusterCACertificate.IsNull() || !c.Token.IsNull() || e.ClusterName.ValueString() != "shop" || e.Region.ValueString() != "eu-west-1" {
		t.Fatalf("connection before the cluster is ready: host %v, CA %v, token %v, eks %+v", c.Host, c.ClusterCACertificate, c.Token, e)
	}

	m.fromCluster(&cloud.Cluster{Endpoint: "https://abc.eks.amazonaws.com", CAPEM: []byte("PEM"), ARN: "arn:aws:eks:eu-west-1:222222222222:cluster/shop"})
	m.fillOutputs(&diags)
	if d := m.ClusterConnection.As(ctx, &c, basetypes.ObjectAsOptions{}); d.HasError() {
		t.Fatal(d)
	}
	if c.Host.ValueString() != "https://abc.eks.amazonaws.com" || c.ClusterCACertificate.ValueString() != "PEM" {
		t.Fatalf("connection after the cluster: host %v, CA %v", c.Host, c.ClusterCACertificate)
	}
}
