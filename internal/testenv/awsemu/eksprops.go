package awsemu

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// The properties of an AWS::EKS::Cluster, checked as CloudFormation's resource schema and
// then EKS check them when the resource is created or updated (a failure is that
// resource's CREATE_FAILED / UPDATE_FAILED), and read back by DescribeCluster.

// eksClusterProps are the AWS::EKS::Cluster properties CloudFormation knows.
var eksClusterProps = []string{"Name", "Version", "RoleArn", "ResourcesVpcConfig", "KubernetesNetworkConfig", "Logging",
	"EncryptionConfig", "AccessConfig", "Tags", "BootstrapSelfManagedAddons", "UpgradePolicy", "ZonalShiftConfig",
	"ComputeConfig", "StorageConfig", "RemoteNetworkConfig", "OutpostConfig", "Force", "DeletionProtection"}

// eksCreateOnly are the properties whose change replaces the cluster.
var eksCreateOnly = []string{"Name", "RoleArn", "KubernetesNetworkConfig", "EncryptionConfig", "OutpostConfig", "BootstrapSelfManagedAddons"}

var eksLogTypes = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}

// maxPublicAccessCIDRs is EKS's quota "Public endpoint access CIDR ranges per cluster".
const maxPublicAccessCIDRs = 40

var kmsKeyARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:kms:([a-z0-9-]+):[0-9]{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$`)

// eksConfig is a cluster's configuration as DescribeCluster reports it.
type eksConfig struct {
	subnetIDs, securityGroupIDs []string
	publicAccess, privateAccess bool
	publicAccessCIDRs           []string
	ipFamily, serviceIPv4CIDR   string
	serviceIPv6CIDR             string
	logTypes                    []string // enabled, in EKS's order
	keyARN                      string   // secrets encryption; "" for none
	authMode                    string   // AccessConfig.AuthenticationMode (CONFIG_MAP when absent, as in EKS)
	bootstrapAdmin              bool     // AccessConfig.BootstrapClusterCreatorAdminPermissions (default true)
}

var eksAuthModes = []string{"CONFIG_MAP", "API_AND_CONFIG_MAP", "API"}

type propError struct{ path, msg string }

func (p *propError) Error() string { return "#" + p.path + ": " + p.msg }

// eksClusterConfig resolves and checks r's properties. The error is the resource's
// failure reason, in CloudFormation's words.
func (e *Emulator) eksClusterConfig(s *stack, v version, r tresource) (eksConfig, string) {
	props, _ := e.resolve(s, v, r.Props).(*omap)
	cfg, perr := e.parseEKSProps(props)
	if perr != nil {
		return cfg, fmt.Sprintf("Properties validation failed for resource %s with message: [%s]", r.LogicalID, perr)
	}
	msg := e.eksSemantics(cfg)
	if msg == "" {
		msg = e.eksNetwork(cfg)
	}
	if msg != "" {
		return cfg, fmt.Sprintf("Resource handler returned message: \"%s\" (Service: Eks, Status Code: 400, Request ID: %s)", msg, newRequestID())
	}
	return cfg, ""
}

func (e *Emulator) parseEKSProps(props *omap) (eksConfig, *propError) {
	cfg := eksConfig{publicAccess: true, ipFamily: "ipv4", authMode: "CONFIG_MAP", bootstrapAdmin: true}
	if aerr := onlyKeys(props, "", eksClusterProps...); aerr != nil {
		return cfg, aerr
	}
	for _, k := range []string{"RoleArn", "ResourcesVpcConfig"} {
		if _, ok := props.get(k); !ok {
			return cfg, &propError{"", "required key [" + k + "] not found"}
		}
	}
	vpc, err := object(props, "/ResourcesVpcConfig")
	if err != nil {
		return cfg, err
	}
	if err := onlyKeys(vpc, "/ResourcesVpcConfig", "SubnetIds", "SecurityGroupIds", "EndpointPublicAccess", "EndpointPrivateAccess", "PublicAccessCidrs"); err != nil {
		return cfg, err
	}
	if cfg.subnetIDs, err = strings_(vpc, "/ResourcesVpcConfig/SubnetIds"); err != nil {
		return cfg, err
	}
	if cfg.securityGroupIDs, err = strings_(vpc, "/ResourcesVpcConfig/SecurityGroupIds"); err != nil {
		return cfg, err
	}
	if b, ok, err := boolean(vpc, "/ResourcesVpcConfig/EndpointPublicAccess"); err != nil {
		return cfg, err
	} else if ok {
		cfg.publicAccess = b
	}
	if b, ok, err := boolean(vpc, "/ResourcesVpcConfig/EndpointPrivateAccess"); err != nil {
		return cfg, err
	} else if ok {
		cfg.privateAccess = b
	}
	if cfg.publicAccessCIDRs, err = strings_(vpc, "/ResourcesVpcConfig/PublicAccessCidrs"); err != nil {
		return cfg, err
	}
	if knc, err := object(props, "/KubernetesNetworkConfig"); err != nil {
		return cfg, err
	} else if knc != nil {
		if err := onlyKeys(knc, "/KubernetesNetworkConfig", "IpFamily", "ServiceIpv4Cidr", "ElasticLoadBalancing"); err != nil {
			return cfg, err
		}
		if f, ok := knc.get("IpFamily"); ok {
			if fs, isStr := f.(string); !isStr || !slices.Contains([]string{"ipv4", "ipv6"}, fs) {
				return cfg, &propError{"/KubernetesNetworkConfig/IpFamily", fmt.Sprintf("%v is not a valid enum value", f)}
			}
			cfg.ipFamily = f.(string)
		}
		if c, ok := knc.get("ServiceIpv4Cidr"); ok {
			if cfg.serviceIPv4CIDR, ok = c.(string); !ok {
				return cfg, &propError{"/KubernetesNetworkConfig/ServiceIpv4Cidr", "expected type: String, found: " + jsonType(c)}
			}
		}
	}
	if lg, err := object(props, "/Logging"); err != nil {
		return cfg, err
	} else if lg != nil {
		if err := onlyKeys(lg, "/Logging", "ClusterLogging"); err != nil {
			return cfg, err
		}
		cl, err := object(lg, "/Logging/ClusterLogging")
		if err != nil {
			return cfg, err
		}
		if err := onlyKeys(cl, "/Logging/ClusterLogging", "EnabledTypes"); err != nil {
			return cfg, err
		}
		list, err := objects(cl, "/Logging/ClusterLogging/EnabledTypes")
		if err != nil {
			return cfg, err
		}
		for i, m := range list {
			p := fmt.Sprintf("/Logging/ClusterLogging/EnabledTypes/%d", i)
			if err := onlyKeys(m, p, "Type"); err != nil {
				return cfg, err
			}
			typ, _ := m.get("Type")
			ts, _ := typ.(string)
			if !slices.Contains(eksLogTypes, ts) {
				return cfg, &propError{p + "/Type", fmt.Sprintf("%v is not a valid enum value", typ)}
			}
			if slices.Contains(cfg.logTypes, ts) {
				return cfg, &propError{"/Logging/ClusterLogging/EnabledTypes", "array items are not unique"}
			}
			cfg.logTypes = append(cfg.logTypes, ts)
		}
	}
	if ac, err := object(props, "/AccessConfig"); err != nil {
		return cfg, err
	} else if ac != nil {
		if err := onlyKeys(ac, "/AccessConfig", "AuthenticationMode", "BootstrapClusterCreatorAdminPermissions"); err != nil {
			return cfg, err
		}
		if m, ok := ac.get("AuthenticationMode"); ok {
			ms, _ := m.(string)
			if !slices.Contains(eksAuthModes, ms) {
				return cfg, &propError{"/AccessConfig/AuthenticationMode", fmt.Sprintf("%v is not a valid enum value", m)}
			}
			cfg.authMode = ms
		}
		if b, ok, err := boolean(ac, "/AccessConfig/BootstrapClusterCreatorAdminPermissions"); err != nil {
			return cfg, err
		} else if ok {
			cfg.bootstrapAdmin = b
		}
	}
	if list, err := objects(props, "/EncryptionConfig"); err != nil {
		return cfg, err
	} else if len(list) > 1 {
		return cfg, &propError{"/EncryptionConfig", fmt.Sprintf("expected maximum item count: 1, found: %d", len(list))}
	} else {
		for _, m := range list {
			if err := onlyKeys(m, "/EncryptionConfig/0", "Provider", "Resources"); err != nil {
				return cfg, err
			}
			res, err := strings_(m, "/EncryptionConfig/0/Resources")
			if err != nil {
				return cfg, err
			}
			if !slices.Equal(res, []string{"secrets"}) {
				return cfg, &propError{"/EncryptionConfig/0/Resources", fmt.Sprintf("%q: the only supported value is [secrets]", res)}
			}
			pr, err := object(m, "/EncryptionConfig/0/Provider")
			if err != nil {
				return cfg, err
			}
			if err := onlyKeys(pr, "/EncryptionConfig/0/Provider", "KeyArn"); err != nil {
				return cfg, err
			}
			k, _ := pr.get("KeyArn")
			if cfg.keyARN, _ = k.(string); cfg.keyARN == "" {
				return cfg, &propError{"/EncryptionConfig/0/Provider/KeyArn", "expected type: String, found: " + jsonType(k)}
			}
		}
	}
	return cfg, nil
}

// eksSemantics is what EKS itself refuses in CreateCluster / UpdateClusterConfig.
func (e *Emulator) eksSemantics(cfg eksConfig) string {
	if !cfg.publicAccess && !cfg.privateAccess {
		return "Both endpointPublicAccess and endpointPrivateAccess cannot be false"
	}
	if cfg.publicAccess && len(cfg.publicAccessCIDRs) > maxPublicAccessCIDRs {
		return fmt.Sprintf("publicAccessCidrs can have at most %d CIDR blocks, got %d", maxPublicAccessCIDRs, len(cfg.publicAccessCIDRs))
	}
	if cfg.publicAccess && len(cfg.publicAccessCIDRs) > 0 {
		var bad []string
		for _, c := range cfg.publicAccessCIDRs {
			// IPv6 blocks only on an IPv6 cluster's dual-stack endpoint; nothing reserved.
			p, err := netip.ParsePrefix(c)
			a := p.Addr()
			if err != nil || a.Is4In6() || (a.Is6() && cfg.ipFamily != "ipv6") || p.Masked() != p ||
				a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || (a.IsUnspecified() && p.Bits() != 0) {
				bad = append(bad, c)
			}
		}
		if len(bad) > 0 {
			return "The following CIDRs are invalid in publicAccessCidrs: [" + strings.Join(bad, ", ") + "]"
		}
	}
	if cfg.ipFamily == "ipv6" && strings.HasPrefix(e.opts.Region, "cn-") {
		return "ipFamily ipv6 is not supported in region " + e.opts.Region
	}
	if cfg.ipFamily == "ipv6" && cfg.serviceIPv4CIDR != "" {
		return "serviceIpv4Cidr can not be specified with ipFamily ipv6"
	}
	if c := cfg.serviceIPv4CIDR; c != "" {
		p, err := netip.ParsePrefix(c)
		if err != nil || !p.Addr().Is4() || p.Bits() < 12 || p.Bits() > 24 || !p.Addr().IsPrivate() {
			return "The specified serviceIpv4Cidr " + c + " is invalid"
		}
	}
	if cfg.authMode == "CONFIG_MAP" && !cfg.bootstrapAdmin {
		return "bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set to CONFIG_MAP"
	}
	if k := cfg.keyARN; k != "" {
		m := kmsKeyARNRE.FindStringSubmatch(k)
		if m == nil {
			return "Invalid KMS key ARN: " + k
		}
		if m[1] != e.opts.Region {
			return "KMS key " + k + " must be in the cluster's region " + e.opts.Region
		}
	}
	return ""
}

// eksCreateOnlyChange names the first create-only property that differs between two
// resolutions of the cluster's properties ("" when none does).
func (e *Emulator) eksCreateOnlyChange(s *stack, old, nv version, oldR, newR tresource) string {
	a, _ := e.resolve(s, old, oldR.Props).(*omap)
	b, _ := e.resolve(s, nv, newR.Props).(*omap)
	for _, k := range eksCreateOnly {
		x, _ := a.get(k)
		y, _ := b.get(k)
		if fmt.Sprint(flatten(x)) != fmt.Sprint(flatten(y)) {
			return k
		}
	}
	// One key of AccessConfig is create-only; the mode changes in place.
	ca, _ := e.parseEKSProps(a)
	cb, _ := e.parseEKSProps(b)
	if ca.bootstrapAdmin != cb.bootstrapAdmin {
		return "AccessConfig/BootstrapClusterCreatorAdminPermissions"
	}
	return ""
}

// eksAuthModeChange is EKS's refusal of an authentication mode change ("" when it is
// fine): the mode moves one step at a time, CONFIG_MAP -> API_AND_CONFIG_MAP -> API, and
// never back.
func eksAuthModeChange(from, to string) string {
	i, j := slices.Index(eksAuthModes, from), slices.Index(eksAuthModes, to)
	if i == j || j == i+1 {
		return ""
	}
	return "Unsupported authentication mode update from " + from + " to " + to
}

func onlyKeys(m *omap, path string, allowed ...string) *propError {
	for _, k := range m.keysOrNil() {
		if !slices.Contains(allowed, k) {
			return &propError{path, "extraneous key [" + k + "] is not permitted"}
		}
	}
	return nil
}

func object(m *omap, path string) (*omap, *propError) {
	k := path[strings.LastIndex(path, "/")+1:]
	v, ok := m.get(k)
	if !ok {
		return nil, nil
	}
	o, ok := v.(*omap)
	if !ok {
		return nil, &propError{path, "expected type: JSONObject, found: " + jsonType(v)}
	}
	return o, nil
}

// objects is the list of objects at path (its last element names the key): nil when the
// key is absent, an error naming the item when it is no list (null included) or an item no
// object.
func objects(m *omap, path string) ([]*omap, *propError) {
	v, ok := m.get(path[strings.LastIndex(path, "/")+1:])
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, &propError{path, "expected type: JSONArray, found: " + jsonType(v)}
	}
	out := make([]*omap, 0, len(list))
	for i, el := range list {
		o, ok := el.(*omap)
		if !ok {
			return nil, &propError{fmt.Sprintf("%s/%d", path, i), "expected type: JSONObject, found: " + jsonType(el)}
		}
		out = append(out, o)
	}
	return out, nil
}

func strings_(m *omap, path string) ([]string, *propError) {
	k := path[strings.LastIndex(path, "/")+1:]
	v, ok := m.get(k)
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, &propError{path, "expected type: JSONArray, found: " + jsonType(v)}
	}
	out := make([]string, 0, len(list))
	for i, el := range list {
		s, ok := el.(string)
		if !ok {
			return nil, &propError{fmt.Sprintf("%s/%d", path, i), "expected type: String, found: " + jsonType(el)}
		}
		out = append(out, s)
	}
	return out, nil
}

// boolean reads a Boolean property; like CloudFormation it takes the strings "true" and
// "false" (what a Ref to a String parameter gives) too.
func boolean(m *omap, path string) (value, present bool, _ *propError) {
	k := path[strings.LastIndex(path, "/")+1:]
	v, ok := m.get(k)
	if !ok {
		return false, false, nil
	}
	switch x := v.(type) {
	case bool:
		return x, true, nil
	case string:
		if x == "true" || x == "false" {
			return x == "true", true, nil
		}
	}
	return false, true, &propError{path, "expected type: Boolean, found: " + jsonType(v)}
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "String"
	case bool:
		return "Boolean"
	case []any:
		return "JSONArray"
	case *omap:
		return "JSONObject"
	case nil:
		return "Null"
	}
	return "Number"
}

// serviceIPv6CIDR is the unique local /108 EKS picks for an IPv6 cluster's services.
func serviceIPv6CIDR(s *stack, r tresource) string {
	sum := sha256.Sum256([]byte(s.id + "/" + r.LogicalID))
	h := hex.EncodeToString(sum[:5])
	return "fd" + h[0:2] + ":" + h[2:6] + ":" + h[6:10] + "::/108"
}
