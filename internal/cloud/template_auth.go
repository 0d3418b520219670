package cloud

import (
	"fmt"
	"slices"
)

// EKS authentication modes: how a cluster maps IAM principals to Kubernetes identities.
const (
	AuthModeAPI             = "API"                // access entries only
	AuthModeAPIAndConfigMap = "API_AND_CONFIG_MAP" // access entries and kube-system/aws-auth
	AuthModeConfigMap       = "CONFIG_MAP"         // kube-system/aws-auth only
)

// ClusterAdminPolicyARN is the EKS access policy that makes a principal cluster admin.
const ClusterAdminPolicyARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

// AuthenticationModes are the modes, in the only order EKS moves a cluster through them.
func AuthenticationModes() []string {
	return []string{AuthModeConfigMap, AuthModeAPIAndConfigMap, AuthModeAPI}
}

// ClusterAuthentication is how the embedded template sets up the cluster's authentication
// (its AuthenticationMode and ClusterAdminRoleArn parameters).
//
// With Mode API or API_AND_CONFIG_MAP the node role gets an access entry of type EC2_LINUX,
// and AdminRoleARN (the provisioning role) an access entry with AmazonEKSClusterAdminPolicy
// on the whole cluster; the cluster is then created with BootstrapClusterCreatorAdminPermissions
// false, so no principal has admin rights that the stack does not show. With AdminRoleARN ""
// (a stack of an older template, or a cluster created in CONFIG_MAP mode, which has no
// access entries) EKS's bootstrap makes whoever created the cluster admin instead. That
// bootstrap setting cannot change after creation, so a stack keeps its AdminRoleARN for
// life: only the mode changes in place.
type ClusterAuthentication struct {
	Mode         string
	AdminRoleARN string
}

// NewClusterAuthentication is what a new cluster gets: in the access entry modes the
// provisioning role is admin through an access entry; in CONFIG_MAP mode, through EKS's
// creator bootstrap (the provisioning role creates the stack).
func NewClusterAuthentication(mode, provisionRoleARN string) ClusterAuthentication {
	a := ClusterAuthentication{Mode: mode, AdminRoleARN: provisionRoleARN}
	if mode == AuthModeConfigMap {
		a.AdminRoleARN = ""
	}
	return a
}

// ClusterAuthenticationFromParameters reads a stack's parameters back; a stack of an older
// template has the template defaults (API_AND_CONFIG_MAP, the creator bootstrap).
func ClusterAuthenticationFromParameters(params map[string]string) ClusterAuthentication {
	get := func(k string) string {
		if v, ok := params[k]; ok {
			return v
		}
		return EKSClusterTemplateDefaults[k]
	}
	return ClusterAuthentication{Mode: get("AuthenticationMode"), AdminRoleARN: get("ClusterAdminRoleArn")}
}

// WithMode is the same stack in another mode (the admin role is create-only).
func (a ClusterAuthentication) WithMode(mode string) ClusterAuthentication {
	a.Mode = mode
	return a
}

// Parameters are the template parameters of a.
func (a ClusterAuthentication) Parameters() map[string]string {
	mode := a.Mode
	if mode == "" {
		mode = EKSClusterTemplateDefaults["AuthenticationMode"]
	}
	return map[string]string{"AuthenticationMode": mode, "ClusterAdminRoleArn": a.AdminRoleARN}
}

// HasAccessEntries reports a mode in which the cluster has access entries.
func HasAccessEntries(mode string) bool {
	return mode == AuthModeAPI || mode == AuthModeAPIAndConfigMap
}

// NodesJoinThroughAWSAuth reports a cluster whose nodes need the node role mapped in
// kube-system/aws-auth: one in CONFIG_MAP mode, or one EKS reports no mode for. In the
// other modes the template's access entry lets them join.
func NodesJoinThroughAWSAuth(mode string) bool {
	return mode == "" || mode == AuthModeConfigMap
}

// AuthModeChangeError is a change of authentication mode EKS cannot make.
type AuthModeChangeError struct {
	From, To string
	Next     string // the step to take first, when To is further along; "" when To is behind
}

func (e *AuthModeChangeError) Error() string {
	if e.Next != "" {
		return fmt.Sprintf("EKS changes the authentication mode one step at a time: from %s go to %s first, apply, then to %s", e.From, e.Next, e.To)
	}
	return fmt.Sprintf("EKS cannot change the authentication mode back from %s to %s: the change is one-way (CONFIG_MAP, then API_AND_CONFIG_MAP, then API); replace the cluster to go back", e.From, e.To)
}

// CheckAuthModeChange returns an *AuthModeChangeError unless EKS can change a cluster's
// mode from from to to in place: no change, or one step along CONFIG_MAP ->
// API_AND_CONFIG_MAP -> API. Unknown modes are left to the caller's validation.
func CheckAuthModeChange(from, to string) error {
	modes := AuthenticationModes()
	i, j := slices.Index(modes, from), slices.Index(modes, to)
	switch {
	case i < 0 || j < 0 || i == j || j == i+1:
		return nil
	case j < i:
		return &AuthModeChangeError{From: from, To: to}
	}
	return &AuthModeChangeError{From: from, To: to, Next: modes[i+1]}
}
