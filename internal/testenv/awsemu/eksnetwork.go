package awsemu

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The cluster's network as EKS checks it in CreateCluster and UpdateClusterConfig
// (resourcesVpcConfig.subnetIds / securityGroupIds, changeable in place since 2023): at
// least two subnets in at least two availability zones, at most five security groups, and
// on an update subnets of the VPC the cluster was created in. The emulator has no EC2: it
// knows a subnet's VPC and zone only when a test registered it (AddSubnet); of the others
// it knows the ID alone.

// maxClusterSecurityGroups is EKS's limit of securityGroupIds on a cluster.
const maxClusterSecurityGroups = 5

// Subnet is a subnet the emulator knows, for EKS's network checks.
type Subnet struct {
	ID, VPC, AZ string
}

// AddSubnet registers (or replaces) a subnet.
func (e *Emulator) AddSubnet(s Subnet) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.subnets == nil {
		e.subnets = map[string]Subnet{}
	}
	e.subnets[s.ID] = s
}

// eksNetwork is EKS's refusal of a cluster's subnets and security groups ("" when fine).
// The caller holds e.mu.
func (e *Emulator) eksNetwork(cfg eksConfig) string {
	const twoAZs = "Subnets specified must be in at least two different AZs"
	distinct := slices.Compact(slices.Sorted(slices.Values(cfg.subnetIDs)))
	if len(distinct) < 2 {
		return twoAZs
	}
	if n := len(cfg.securityGroupIDs); n > maxClusterSecurityGroups {
		return fmt.Sprintf("securityGroupIds can have at most %d security groups, got %d", maxClusterSecurityGroups, n)
	}
	zones, vpcs := map[string]bool{}, map[string]bool{}
	known := 0
	for _, id := range distinct {
		if sn, ok := e.subnets[id]; ok {
			known++
			zones[sn.AZ], vpcs[sn.VPC] = true, true
		}
	}
	if len(vpcs) > 1 {
		return "Subnets must all be in the same VPC, got subnets of " + strings.Join(slices.Sorted(maps.Keys(vpcs)), ", ")
	}
	if known == len(distinct) && len(zones) < 2 {
		return twoAZs
	}
	return ""
}

// eksVPCChange is EKS's refusal of new subnets in another VPC than the cluster's ("" when
// fine, or when the emulator knows no VPC of either side). The caller holds e.mu.
func (e *Emulator) eksVPCChange(was, is eksConfig) string {
	from, to := e.subnetVPC(was.subnetIDs), e.subnetVPC(is.subnetIDs)
	if from == "" || to == "" || from == to {
		return ""
	}
	return fmt.Sprintf("You can't change which VPC the subnets are from: the cluster is in %s, the new subnets in %s", from, to)
}

// subnetVPC is the VPC of the first known subnet of ids ("" when none is known).
func (e *Emulator) subnetVPC(ids []string) string {
	for _, id := range ids {
		if sn, ok := e.subnets[id]; ok {
			return sn.VPC
		}
	}
	return ""
}

// eksKeptVPCKeys are the ResourcesVpcConfig keys an update must keep once the cluster's
// previous template had them (CloudFormation's AWS::EKS::Cluster ResourcesVpcConfig page:
// "When updating a resource, you must include these properties if the previous
// CloudFormation template of the resource had them").
var eksKeptVPCKeys = []string{"EndpointPublicAccess", "EndpointPrivateAccess", "PublicAccessCidrs"}

// eksDroppedVPCKey is CloudFormation's refusal of an update that leaves out one of
// eksKeptVPCKeys ("" when none is left out). The wording is the emulator's.
func (e *Emulator) eksDroppedVPCKey(s *stack, old, nv version, oldR, newR tresource) string {
	vpcKeys := func(v version, r tresource) []string {
		props, _ := e.resolve(s, v, r.Props).(*omap)
		if props == nil {
			return nil
		}
		vpc, _ := object(props, "/ResourcesVpcConfig")
		if vpc == nil {
			return nil
		}
		return vpc.keysOrNil()
	}
	had, has := vpcKeys(old, oldR), vpcKeys(nv, newR)
	for _, k := range eksKeptVPCKeys {
		if slices.Contains(had, k) && !slices.Contains(has, k) {
			return fmt.Sprintf("Properties validation failed for resource %s with message: [#/ResourcesVpcConfig: %s must be included in an update: the previous template had it]", newR.LogicalID, k)
		}
	}
	return ""
}
