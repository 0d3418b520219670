package cloud

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ClusterAccess is how the cluster is reached and watched: endpoint access, control-plane
// logging, secrets encryption and IP family, the template parameters added after the
// first template (EKSClusterTemplateDefaults).
type ClusterAccess struct {
	PublicAccess      bool
	PrivateAccess     bool
	PublicAccessCIDRs []string // only used with PublicAccess
	LogTypes          []string // control-plane log types to export (EKSLogTypes)
	SecretsKeyARN     string   // "" for none
	IPFamily          string   // "ipv4" or "ipv6"
}

// AccessSetting names one part of ClusterAccess, for errors about it.
type AccessSetting int

const (
	SettingPublicAccess AccessSetting = iota
	SettingPrivateAccess
	SettingPublicAccessCIDRs
	SettingLogTypes
	SettingSecretsKey
	SettingIPFamily
	SettingAuthenticationMode
)

// EKSLogTypes are the control-plane log types EKS has, in EKS's order.
func EKSLogTypes() []string {
	return []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}
}

// DefaultClusterAccess is EKS's default, and what a stack of the first template runs with.
func DefaultClusterAccess() ClusterAccess {
	return ClusterAccessFromParameters(nil)
}

// Parameters are the template parameters of a.
func (a ClusterAccess) Parameters() map[string]string {
	family := a.IPFamily
	if family == "" {
		family = "ipv4"
	}
	cidrs := strings.Join(a.PublicAccessCIDRs, ",")
	if cidrs == "" {
		cidrs = strings.Join(DefaultPublicAccessCIDRs(family), ",")
	}
	p := map[string]string{
		"EndpointPublicAccess":  fmt.Sprint(a.PublicAccess),
		"EndpointPrivateAccess": fmt.Sprint(a.PrivateAccess),
		"PublicAccessCidrs":     cidrs,
		"SecretsKmsKeyArn":      a.SecretsKeyARN,
		"IpFamily":              family,
	}
	for t, param := range LogTypeParameters {
		p[param] = fmt.Sprint(slices.Contains(a.LogTypes, t))
	}
	return p
}

// ClusterAccessFromParameters reads a stack's parameters back. A parameter the stack does
// not have (an older template, or a user template without it) has its template default.
func ClusterAccessFromParameters(params map[string]string) ClusterAccess {
	get := func(k string) string {
		if v, ok := params[k]; ok {
			return v
		}
		return EKSClusterTemplateDefaults[k]
	}
	a := ClusterAccess{
		PublicAccess:  get("EndpointPublicAccess") == "true",
		PrivateAccess: get("EndpointPrivateAccess") == "true",
		SecretsKeyARN: get("SecretsKmsKeyArn"),
		IPFamily:      get("IpFamily"),
	}
	for _, c := range strings.Split(get("PublicAccessCidrs"), ",") {
		if c = strings.TrimSpace(c); c != "" {
			a.PublicAccessCIDRs = append(a.PublicAccessCIDRs, c)
		}
	}
	for _, t := range EKSLogTypes() {
		if get(LogTypeParameters[t]) == "true" {
			a.LogTypes = append(a.LogTypes, t)
		}
	}
	return a
}

func accessSetting(param string) AccessSetting {
	switch param {
	case "EndpointPublicAccess":
		return SettingPublicAccess
	case "EndpointPrivateAccess":
		return SettingPrivateAccess
	case "PublicAccessCidrs":
		return SettingPublicAccessCIDRs
	case "SecretsKmsKeyArn":
		return SettingSecretsKey
	case "IpFamily":
		return SettingIPFamily
	case "AuthenticationMode":
		return SettingAuthenticationMode
	}
	return SettingLogTypes
}

// UndeclaredParameterError: a user template lacks the parameter a non-default setting needs.
type UndeclaredParameterError struct {
	Setting   AccessSetting
	Parameter string
}

func (e *UndeclaredParameterError) Error() string {
	return fmt.Sprintf("the template declares no %s parameter", e.Parameter)
}

// FitParameters removes from params the later parameters (EKSClusterTemplateDefaults) that
// template body does not declare: CloudFormation refuses parameters a template lacks. Each
// removed one whose value was not the default is reported, one error per setting. A body
// that does not parse is left to CloudFormation.
func FitParameters(body string, params map[string]string) []*UndeclaredParameterError {
	var t struct {
		Parameters map[string]any `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal([]byte(body), &t); err != nil {
		return nil
	}
	var errs []*UndeclaredParameterError
	for _, param := range EKSClusterTemplateParameters {
		def, later := EKSClusterTemplateDefaults[param]
		if _, declared := t.Parameters[param]; !later || declared {
			continue
		}
		v, ok := params[param]
		delete(params, param)
		// ClusterAdminRoleArn follows the provisioning role: a template without it keeps
		// EKS's creator bootstrap, which makes that same role admin. An IPv6 cluster's
		// default blocks are what EKS gives a template that sets none.
		if !ok || v == def || param == "ClusterAdminRoleArn" ||
			param == "PublicAccessCidrs" && v == strings.Join(DefaultPublicAccessCIDRs("ipv6"), ",") {
			continue
		}
		s := accessSetting(param)
		if !slices.ContainsFunc(errs, func(e *UndeclaredParameterError) bool { return e.Setting == s }) {
			errs = append(errs, &UndeclaredParameterError{Setting: s, Parameter: param})
		}
	}
	return errs
}
