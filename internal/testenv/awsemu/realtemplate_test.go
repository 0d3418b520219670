package awsemu

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// The provider's embedded template must run on the emulator.
func TestProjectTemplate(t *testing.T) {
	body, err := os.ReadFile("../../cloud/templates/eks-cluster.yaml")
	if err != nil {
		t.Fatalf("the project template must be readable: %v", err)
	}
	v := newEnv(t)
	temp := v.assume(3600)
	c := v.cfn(temp)
	in := &cfn.CreateStackInput{
		StackName:    aws.String("ck-prod"),
		TemplateBody: aws.String(string(body)),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
		Parameters: params("ClusterName", "prod", "ClusterRoleArn", "arn:aws:iam::222222222222:role/eks-service",
			"VpcId", "vpc-0123456789abcdef0", "SubnetIds", "subnet-aaa,subnet-bbb", "ControlPlaneSecurityGroupId", "sg-0123456789abcdef0"),
	}
	bad := *in
	bad.Parameters = append(params("NodeCount", "101"), in.Parameters...)
	if _, err := c.CreateStack(v.ctx, &bad); err == nil || !strings.Contains(err.Error(), "NodeCount") {
		t.Fatalf("NodeCount 101 accepted: %v", err)
	}
	bad.Parameters = append(params("ClusterName", "-bad"), in.Parameters[1:]...)
	if code, msg := apiErr(mustErr(c.CreateStack(v.ctx, &bad))); code != "ValidationError" || !strings.HasPrefix(msg, "Parameter 'ClusterName' failed to satisfy constraint: must start with") {
		t.Fatalf("bad ClusterName: %s %s", code, msg)
	}
	if _, err := c.CreateStack(v.ctx, in); err != nil {
		t.Fatal(err)
	}
	v.clock.Advance(10 * time.Minute) // within the 1h credentials
	st := v.describe(c, "ck-prod")
	outs := map[string]string{}
	for _, o := range st.Outputs {
		outs[*o.OutputKey] = *o.OutputValue
	}
	if st.StackStatus != cfntypes.StackStatusCreateComplete || outs["ClusterName"] != "prod" ||
		outs["ClusterArn"] != "arn:aws:eks:us-east-1:222222222222:cluster/prod" ||
		!strings.HasPrefix(outs["NodeInstanceRoleArn"], "arn:aws:iam::222222222222:role/ck-prod-NodeInstanceRole-") {
		t.Fatalf("stack %s outputs %v", st.StackStatus, outs)
	}
	cl, err := v.eks(temp).DescribeCluster(v.ctx, &eks.DescribeClusterInput{Name: aws.String("prod")})
	if err != nil || cl.Cluster.Status != ekstypes.ClusterStatusActive || *cl.Cluster.Version != "1.35" || *cl.Cluster.Endpoint != outs["ClusterEndpoint"] {
		t.Fatalf("DescribeCluster: %+v %v", cl, err)
	}
}

func mustErr(_ any, err error) error { return err }
