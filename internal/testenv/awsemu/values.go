package awsemu

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// physID is a resource's deterministic physical ID.
func (e *Emulator) physID(s *stack, v version, r tresource) string {
	suffix := stableID("", s.id+"/"+r.LogicalID, 12)
	switch r.Type {
	case "AWS::EKS::Cluster":
		return clusterName(s, v, r)
	case "AWS::IAM::Role", "AWS::IAM::InstanceProfile", "AWS::IAM::ManagedPolicy":
		for _, k := range []string{"RoleName", "InstanceProfileName", "ManagedPolicyName"} {
			if p, ok := r.Props.get(k); ok {
				return e.eval(s, v, p)
			}
		}
	case "AWS::EC2::SecurityGroup":
		return "sg-" + strings.ToLower(stableID("", suffix, 17))
	case "AWS::EC2::VPC":
		return "vpc-" + strings.ToLower(stableID("", suffix, 17))
	case "AWS::EC2::Subnet":
		return "subnet-" + strings.ToLower(stableID("", suffix, 17))
	}
	return fmt.Sprintf("%s-%s-%s", s.name, r.LogicalID, suffix)
}

func clusterName(s *stack, v version, r tresource) string {
	switch n := propValue(r, "Name").(type) {
	case string:
		return n
	case *omap:
		if ref, ok := n.get("Ref"); ok {
			if p, ok := v.params[scalarString(ref)]; ok {
				return p
			}
		}
	}
	return s.name
}

func propValue(r tresource, k string) any {
	v, _ := r.Props.get(k)
	return v
}

// eval computes an output (or property) value: literals, Ref, Fn::GetAtt,
// Fn::Sub and Fn::Join; anything else yields "".
func (e *Emulator) eval(s *stack, v version, x any) string {
	region, acct := e.opts.Region, s.account
	ref := func(n string) string {
		switch n {
		case "AWS::Region":
			return region
		case "AWS::AccountId":
			return acct
		case "AWS::StackName":
			return s.name
		case "AWS::StackId":
			return s.id
		case "AWS::Partition":
			return "aws"
		case "AWS::URLSuffix":
			return "amazonaws.com"
		}
		if p, ok := v.params[n]; ok {
			return p
		}
		if r, ok := v.tmpl.resource(n); ok {
			return e.physID(s, v, r)
		}
		return ""
	}
	getatt := func(id, attr string) string {
		r, ok := v.tmpl.resource(id)
		if !ok {
			return ""
		}
		phys := e.physID(s, v, r)
		switch r.Type + "." + attr {
		case "AWS::IAM::Role.Arn":
			return fmt.Sprintf("arn:aws:iam::%s:role/%s", acct, phys)
		case "AWS::IAM::Role.RoleId":
			return stableID("AROA", phys, 17)
		case "AWS::IAM::InstanceProfile.Arn":
			return fmt.Sprintf("arn:aws:iam::%s:instance-profile/%s", acct, phys)
		case "AWS::EKS::Cluster.Arn":
			return fmt.Sprintf("arn:aws:eks:%s:%s:cluster/%s", region, acct, phys)
		case "AWS::EKS::Cluster.Endpoint":
			ep, _ := e.clusterEndpoint(s)
			return ep
		case "AWS::EKS::Cluster.CertificateAuthorityData":
			_, ca := e.clusterEndpoint(s)
			return base64.StdEncoding.EncodeToString(ca)
		case "AWS::EKS::Cluster.KubernetesNetworkConfig.ServiceIpv6Cidr":
			return serviceIPv6CIDR(s, r)
		}
		if attr == "Arn" {
			parts := strings.Split(strings.ToLower(r.Type), "::")
			return fmt.Sprintf("arn:aws:%s:%s:%s:%s/%s", parts[1], region, acct, parts[len(parts)-1], phys)
		}
		return phys + "." + attr
	}
	switch x := x.(type) {
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i := range x {
			parts[i] = e.eval(s, v, x[i])
		}
		return strings.Join(parts, ",")
	case *omap:
		if len(x.keys) != 1 {
			return ""
		}
		arg := x.vals[x.keys[0]]
		switch x.keys[0] {
		case "Ref":
			return ref(scalarString(arg))
		case "Fn::If":
			if a, ok := arg.([]any); ok && len(a) == 3 {
				if e.condition(s, v, scalarString(a[0])) {
					return e.eval(s, v, a[1])
				}
				return e.eval(s, v, a[2])
			}
		case "Fn::GetAtt":
			switch a := arg.(type) {
			case []any:
				if len(a) == 2 {
					return getatt(scalarString(a[0]), e.eval(s, v, a[1]))
				}
			case string:
				id, attr, _ := strings.Cut(a, ".")
				return getatt(id, attr)
			}
		case "Fn::Join":
			if a, ok := arg.([]any); ok && len(a) == 2 {
				list, _ := a[1].([]any)
				parts := make([]string, len(list))
				for i := range list {
					parts[i] = e.eval(s, v, list[i])
				}
				return strings.Join(parts, scalarString(a[0]))
			}
		case "Fn::Sub":
			tmpl, local := "", map[string]string{}
			switch a := arg.(type) {
			case string:
				tmpl = a
			case []any:
				if len(a) > 0 {
					tmpl = scalarString(a[0])
				}
				if len(a) > 1 {
					m, _ := a[1].(*omap)
					for _, k := range m.keysOrNil() {
						local[k] = e.eval(s, v, m.vals[k])
					}
				}
			}
			return subVarRE.ReplaceAllStringFunc(tmpl, func(m string) string {
				n := m[2 : len(m)-1]
				if l, ok := local[n]; ok {
					return l
				}
				if id, attr, ok := strings.Cut(n, "."); ok && !strings.HasPrefix(n, "AWS::") {
					return getatt(id, attr)
				}
				return ref(n)
			})
		}
	}
	return ""
}
