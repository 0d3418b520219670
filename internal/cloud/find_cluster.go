package cloud

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// ClusterDetails is a Cluster with what only a reader of a cluster made elsewhere shows
// (the clusterkit_eks_cluster data source): nothing here is needed to reach the cluster.
type ClusterDetails struct {
	*Cluster
	PlatformVersion  string    // EKS platform version, e.g. "eks.12"
	CreatedAt        time.Time // zero when EKS gives none
	RoleARN          string    // the EKS service role of the control plane
	SubnetIDs        []string  // the control plane's subnets
	SecurityGroupIDs []string  // the security groups given to the control plane's interfaces
}

// FindClusterDetails describes an EKS cluster with its details; *NotFoundError when it does
// not exist. One DescribeCluster, through FindCluster's path, so the session's cache is
// refreshed and resources that then take this cluster's connection in the same run ask EKS
// no more.
func (s *Session) FindClusterDetails(ctx context.Context, name string) (*ClusterDetails, error) {
	c, raw, err := s.findCluster(ctx, name)
	if err != nil {
		return nil, err
	}
	return clusterDetails(c, raw), nil
}

func clusterDetails(c *Cluster, in *ekstypes.Cluster) *ClusterDetails {
	d := &ClusterDetails{Cluster: c}
	if in == nil {
		return d
	}
	d.PlatformVersion = aws.ToString(in.PlatformVersion)
	d.RoleARN = aws.ToString(in.RoleArn)
	if in.CreatedAt != nil {
		d.CreatedAt = in.CreatedAt.UTC()
	}
	if v := in.ResourcesVpcConfig; v != nil {
		d.SubnetIDs, d.SecurityGroupIDs = v.SubnetIds, v.SecurityGroupIds
	}
	return d
}
