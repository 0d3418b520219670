package awsemu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

var clusterNameRE = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$`)

// cluster is an EKS cluster as DescribeCluster shows it.
type cluster struct {
	name, arn, status, version, endpoint, roleARN string
	ca                                            []byte
	created                                       time.Time
	cfg                                           eksConfig
	securityGroupID                               string // the cluster security group EKS makes
	tags                                          map[string]string
	account                                       string
	creator                                       string // canonical ARN of the principal that created it (the stack's creator)
}

// clusterEndpoint is what a stack's AWS::EKS::Cluster resolves to. Called with e.mu held.
func (e *Emulator) clusterEndpoint(s *stack) (string, []byte) {
	if sc, ok := e.scripts[s.name]; ok && sc.ClusterEndpoint != "" {
		return sc.ClusterEndpoint, sc.ClusterCAPEM
	}
	if e.defEndpoint == "" {
		e.defEndpoint = "https://" + stableID("", e.host, 32) + ".gr7." + e.opts.Region + ".eks.amazonaws.com"
	}
	if len(e.defCA) == 0 {
		e.defCA = selfSignedCA()
	}
	return e.defEndpoint, e.defCA
}

// clusters lists the EKS clusters that stacks of acct ("" = every account)
// have made, as of now. Called with e.mu held.
func (e *Emulator) clusters(acct string, now time.Time) []cluster {
	var out []cluster
	for _, s := range e.stacks {
		if acct != "" && s.account != acct {
			continue
		}
		v := s.current(now)
		stackStatus, _ := s.status(now)
		states := s.resourceStates(now)
		for _, r := range v.tmpl.Resources {
			if r.Type != "AWS::EKS::Cluster" {
				continue
			}
			st := states[r.LogicalID]
			// The cluster is visible once its resource completed, until deleted.
			if !resourceExists(st) || st == "CREATE_IN_PROGRESS" || st == "CREATE_FAILED" {
				continue
			}
			c := cluster{name: clusterName(s, v, r), version: "1.32", status: "ACTIVE", account: s.account, creator: s.creator}
			switch {
			case st == "DELETE_IN_PROGRESS":
				c.status = "DELETING"
			case st == "UPDATE_IN_PROGRESS":
				c.status = "UPDATING"
			case stackStatus == "CREATE_IN_PROGRESS":
				c.status = "CREATING"
			}
			if ver := e.eval(s, v, propValue(r, "Version")); ver != "" {
				c.version = ver
			}
			// An upgrade shows the version it comes from until it completes.
			if prev, ok := s.previous(now); ok && st == "UPDATE_IN_PROGRESS" {
				if pr, ok := prev.tmpl.resource(r.LogicalID); ok {
					if ver := e.eval(s, prev, propValue(pr, "Version")); ver != "" {
						c.version = ver
					}
				}
			}
			c.roleARN = e.eval(s, v, propValue(r, "RoleArn"))
			c.cfg, _ = e.eksClusterConfig(s, v, r)
			if c.cfg.ipFamily == "ipv6" {
				c.cfg.serviceIPv6CIDR = serviceIPv6CIDR(s, r)
			} else if c.cfg.serviceIPv4CIDR == "" {
				c.cfg.serviceIPv4CIDR = "10.100.0.0/16" // EKS's choice when none is given
			}
			if c.cfg.publicAccess && len(c.cfg.publicAccessCIDRs) == 0 {
				c.cfg.publicAccessCIDRs = []string{"0.0.0.0/0"}
				if c.cfg.ipFamily == "ipv6" {
					c.cfg.publicAccessCIDRs = append(c.cfg.publicAccessCIDRs, "::/0") // dual-stack endpoint
				}
			}
			c.securityGroupID = "sg-" + strings.ToLower(stableID("", s.id+"/"+r.LogicalID+"/cluster-sg", 17))
			// Stack tags propagate to the resources, with CloudFormation's own.
			c.tags = map[string]string{
				"aws:cloudformation:stack-name": s.name, "aws:cloudformation:stack-id": s.id, "aws:cloudformation:logical-id": r.LogicalID,
			}
			for _, t := range v.tags {
				c.tags[t[0]] = t[1]
			}
			c.arn = fmt.Sprintf("arn:aws:eks:%s:%s:cluster/%s", e.opts.Region, s.account, c.name)
			c.endpoint, c.ca = e.clusterEndpoint(s)
			for _, ev := range s.events {
				if ev.LogicalResourceID == r.LogicalID && ev.ResourceStatus == "CREATE_COMPLETE" && !ev.Timestamp.After(now) {
					c.created = ev.Timestamp
				}
			}
			out = append(out, c)
		}
	}
	return out
}

type eksVpcConfig struct {
	SubnetIDs              []string `json:"subnetIds"`
	SecurityGroupIDs       []string `json:"securityGroupIds"`
	ClusterSecurityGroupID string   `json:"clusterSecurityGroupId"`
	EndpointPublicAccess   bool     `json:"endpointPublicAccess"`
	EndpointPrivateAccess  bool     `json:"endpointPrivateAccess"`
	PublicAccessCidrs      []string `json:"publicAccessCidrs"`
}

type eksNetworkConfig struct {
	ServiceIpv4Cidr string `json:"serviceIpv4Cidr,omitempty"`
	ServiceIpv6Cidr string `json:"serviceIpv6Cidr,omitempty"`
	IPFamily        string `json:"ipFamily"`
}

type eksLogSetup struct {
	Types   []string `json:"types"`
	Enabled bool     `json:"enabled"`
}

type eksEncryption struct {
	Resources []string `json:"resources"`
	Provider  struct {
		KeyArn string `json:"keyArn"`
	} `json:"provider"`
}

type eksCluster struct {
	Name                    string            `json:"name"`
	ResourcesVpcConfig      eksVpcConfig      `json:"resourcesVpcConfig"`
	KubernetesNetworkConfig eksNetworkConfig  `json:"kubernetesNetworkConfig"`
	Logging                 map[string]any    `json:"logging"`
	EncryptionConfig        []eksEncryption   `json:"encryptionConfig,omitempty"`
	Arn                     string            `json:"arn"`
	CreatedAt               float64           `json:"createdAt"`
	Version                 string            `json:"version"`
	Endpoint                string            `json:"endpoint"`
	RoleArn                 string            `json:"roleArn,omitempty"`
	Status                  string            `json:"status"`
	PlatformVersion         string            `json:"platformVersion"`
	Tags                    map[string]string `json:"tags"`
	CertificateAuthority    struct {
		Data string `json:"data"`
	} `json:"certificateAuthority"`
	Identity struct {
		Oidc struct {
			Issuer string `json:"issuer"`
		} `json:"oidc"`
	} `json:"identity"`
	AccessConfig struct {
		AuthenticationMode                      string `json:"authenticationMode"`
		BootstrapClusterCreatorAdminPermissions bool   `json:"bootstrapClusterCreatorAdminPermissions"`
	} `json:"accessConfig"`
}

// eksAction names the EKS operation of a request, for the call log.
func eksAction(r *http.Request) string {
	parts := eksPath(r)
	switch {
	case len(parts) == 2:
		return "DescribeCluster"
	case len(parts) == 3 && parts[2] == "access-entries":
		return "ListAccessEntries"
	case len(parts) == 4 && parts[2] == "access-entries":
		return "DescribeAccessEntry"
	case len(parts) == 5 && parts[2] == "access-entries" && parts[4] == "access-policies":
		return "ListAssociatedAccessPolicies"
	case len(parts) == 3 && parts[2] == "node-groups":
		return "ListNodegroups"
	case len(parts) == 4 && parts[2] == "node-groups":
		return "DescribeNodegroup"
	case len(parts) == 3 && parts[2] == "addons":
		return "ListAddons"
	case len(parts) == 4 && parts[2] == "addons":
		return "DescribeAddon"
	case len(parts) == 0 && r.URL.EscapedPath() == "/addons/supported-versions":
		return "DescribeAddonVersions"
	}
	return "Unknown"
}

// eksPath splits the escaped path into unescaped segments (a principal ARN is one segment,
// its slashes escaped as %2F): ["clusters", name, ...]; nil when malformed.
func eksPath(r *http.Request) []string {
	raw := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	out := make([]string, 0, len(raw))
	for _, seg := range raw {
		u, err := url.PathUnescape(seg)
		if err != nil || u == "" {
			return nil
		}
		out = append(out, u)
	}
	if len(out) < 2 || out[0] != "clusters" {
		return nil
	}
	return out
}

func (e *Emulator) serveEKS(w http.ResponseWriter, r *http.Request, caller principal) *apiError {
	action := eksAction(r)
	if r.Method != http.MethodGet || action == "Unknown" {
		return errf(404, "UnknownOperationException", "Unknown operation %s %s", r.Method, r.URL.Path)
	}
	if action == "DescribeAddonVersions" {
		return e.serveAddonVersions(w, r)
	}
	parts := eksPath(r)
	name := parts[1]
	if !clusterNameRE.MatchString(name) {
		return errf(400, "InvalidParameterException", "Invalid cluster name: %s", name)
	}
	e.mu.Lock()
	var found *cluster
	for _, c := range e.clusters(caller.Account, e.now()) {
		if c.name == name {
			found = &c
		}
	}
	e.mu.Unlock()
	if found == nil {
		return errf(404, "ResourceNotFoundException", "No cluster found for name: %s.", name)
	}
	if action == "ListNodegroups" || action == "DescribeNodegroup" {
		return e.serveNodegroups(w, r, found, parts[3:])
	}
	if action == "ListAddons" || action == "DescribeAddon" {
		return e.serveAddons(w, r, found, parts[3:])
	}
	if action != "DescribeCluster" {
		return e.serveAccessEntries(w, r, action, found, parts[3:])
	}
	out := eksCluster{
		Name: found.name, Arn: found.arn, CreatedAt: float64(found.created.UnixMilli()) / 1000,
		Version: found.version, Endpoint: found.endpoint, RoleArn: found.roleARN,
		Status: found.status, PlatformVersion: "eks.1", Tags: found.tags,
	}
	cfg := found.cfg
	out.ResourcesVpcConfig = eksVpcConfig{
		SubnetIDs: nonNil(cfg.subnetIDs), SecurityGroupIDs: nonNil(cfg.securityGroupIDs), ClusterSecurityGroupID: found.securityGroupID,
		EndpointPublicAccess: cfg.publicAccess, EndpointPrivateAccess: cfg.privateAccess, PublicAccessCidrs: nonNil(cfg.publicAccessCIDRs),
	}
	out.KubernetesNetworkConfig = eksNetworkConfig{ServiceIpv4Cidr: cfg.serviceIPv4CIDR, ServiceIpv6Cidr: cfg.serviceIPv6CIDR, IPFamily: cfg.ipFamily}
	// Like EKS: one entry for the enabled types and one for the others.
	var on, off []string
	for _, t := range eksLogTypes {
		if slices.Contains(cfg.logTypes, t) {
			on = append(on, t)
		} else {
			off = append(off, t)
		}
	}
	var setups []eksLogSetup
	if len(on) > 0 {
		setups = append(setups, eksLogSetup{Types: on, Enabled: true})
	}
	if len(off) > 0 {
		setups = append(setups, eksLogSetup{Types: off, Enabled: false})
	}
	out.Logging = map[string]any{"clusterLogging": setups}
	if cfg.keyARN != "" {
		enc := eksEncryption{Resources: []string{"secrets"}}
		enc.Provider.KeyArn = cfg.keyARN
		out.EncryptionConfig = []eksEncryption{enc}
	}
	out.CertificateAuthority.Data = base64.StdEncoding.EncodeToString(found.ca)
	out.AccessConfig.AuthenticationMode, out.AccessConfig.BootstrapClusterCreatorAdminPermissions = cfg.authMode, cfg.bootstrapAdmin
	out.Identity.Oidc.Issuer = oidcIssuerURL(e.opts.Region, *found)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	return writeJSON(w, map[string]any{"cluster": out})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, v any) *apiError {
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return errf(500, "InternalFailure", "%v", err)
	}
	return nil
}

// selfSignedCA makes a throwaway CA PEM so DescribeCluster always returns a
// real certificate, as EKS does.
func selfSignedCA() []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kubernetes"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// oidcIssuerURL is the cluster's OpenID Connect issuer as EKS names it: a 32-character
// upper-case hex ID of its own, new for every cluster (a recreated one of the same name too).
func oidcIssuerURL(region string, c cluster) string {
	sum := sha256.Sum256([]byte(c.arn + "|" + c.created.UTC().Format(time.RFC3339Nano)))
	return "https://oidc.eks." + region + ".amazonaws.com/id/" + strings.ToUpper(hex.EncodeToString(sum[:16]))
}

// eachResource calls fn for every resource of type typ that exists in a stack of account
// as of now (created or being created, not failed), with its latest status. Called with
// e.mu held.
func (e *Emulator) eachResource(account, typ string, now time.Time, fn func(s *stack, v version, r tresource, status string)) {
	for _, s := range e.stacks {
		if s.account != account {
			continue
		}
		v := s.current(now)
		states := s.resourceStates(now)
		for _, r := range v.tmpl.Resources {
			if st := states[r.LogicalID]; r.Type == typ && resourceExists(st) && st != "CREATE_FAILED" {
				fn(s, v, r, st)
			}
		}
	}
}

// eksStatus is the EKS status of a node group or add-on whose stack resource is in status.
func eksStatus(status string) string {
	switch status {
	case "CREATE_IN_PROGRESS":
		return "CREATING"
	case "UPDATE_IN_PROGRESS":
		return "UPDATING"
	case "DELETE_IN_PROGRESS":
		return "DELETING"
	}
	return "ACTIVE"
}

// listOrDescribe checks the query of a List (rest empty: maxResults and a first page only)
// or Describe call (no query) of a cluster's sub-resources.
func listOrDescribe(r *http.Request, rest []string) *apiError {
	for k := range r.URL.Query() {
		if len(rest) > 0 || (k != "maxResults" && k != "nextToken") {
			return errf(400, "InvalidParameterException", "Unknown query parameter %s", k)
		}
	}
	if r.URL.Query().Get("nextToken") != "" {
		return errf(400, "InvalidParameterException", "The nextToken is invalid")
	}
	return nil
}
