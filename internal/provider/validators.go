package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
)

var (
	awsRegionRE   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	roleARNRE     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
	externalIDRE  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

func roleARN() validator.String {
	return stringvalidator.RegexMatches(roleARNRE, "must be an IAM role ARN such as arn:aws:iam::123456789012:role/name")
}

// externalID checks an external ID without repeating it: it is a secret (the schema marks
// it sensitive), and the framework's own validators echo the value ("got: ...").
func externalID() []validator.String {
	return []validator.String{funcValidator{"must be 2 to 1224 characters of letters, digits and +=,.@:/-", func(s string) error {
		if n := len(s); n < 2 || n > 1224 {
			return fmt.Errorf("it is %d characters long", n)
		}
		if !externalIDRE.MatchString(s) {
			return errors.New("it contains other characters")
		}
		return nil
	}}}
}

// eksClusterName is EKS's rule for a cluster name, checked once (length and characters
// would otherwise report an empty name twice).
func eksClusterName() validator.String {
	return funcValidator{"must be 1 to 100 characters, start with a letter and contain only letters, digits and hyphens", func(s string) error {
		if n := len(s); n < 1 || n > 100 {
			return fmt.Errorf("%q is %d characters long", s, n)
		}
		if !eksNameRE.MatchString(s) {
			return fmt.Errorf("%q does not follow it", s)
		}
		return nil
	}}
}

func sessionName() validator.String {
	return stringvalidator.RegexMatches(sessionNameRE, "must be 2-64 characters of letters, digits and +=,.@-")
}

// funcValidator adapts a check function to validator.String; unknown and null values
// pass (they are checked once known).
type funcValidator struct {
	description string
	check       func(string) error
}

func (v funcValidator) Description(context.Context) string         { return v.description }
func (v funcValidator) MarkdownDescription(context.Context) string { return v.description }

func (v funcValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(), fmt.Sprintf("%s: %s.", v.description, err))
	}
}

func durationBetween(min, max time.Duration) validator.String {
	return funcValidator{fmt.Sprintf("must be a duration between %s and %s", min, max), func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as \"1h\" or \"30m\"", s)
		}
		if d < min || d > max {
			return fmt.Errorf("%s is out of range", d)
		}
		return nil
	}}
}

// clusterURL checks the syntax and scheme that hold whatever allow_local_requests says;
// the address classes are checked in ModifyPlan, where the provider setting is known.
func clusterURL() validator.String {
	return funcValidator{"must be the https URL of a Kubernetes API server", func(s string) error {
		_, err := netguard.Policy{AllowLocal: true}.ValidateURL(s)
		return err
	}}
}

func pemCertificate() validator.String {
	return funcValidator{"must be one or more PEM-encoded X.509 certificates", func(s string) error {
		return kube.ValidateCAPEM([]byte(s))
	}}
}

// reservedNamespaces are used by clusterkit itself or by Kubernetes.
var reservedNamespaces = map[string]string{
	"clusterkit-managed-apps": "it is reserved for clusterkit's managed apps",
	"kube-system":             "it is Kubernetes' own",
	"kube-public":             "it is Kubernetes' own",
	"kube-node-lease":         "it is Kubernetes' own",
	"default":                 "a restricted namespace must be a new, dedicated one",
}

func restrictedNamespaceName(s string) error {
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		return fmt.Errorf("%q is not a DNS-1123 label (lower case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)", s)
	}
	if why, ok := reservedNamespaces[s]; ok {
		return fmt.Errorf("%q cannot be used: %s", s, why)
	}
	return nil
}

func dns1123Label() validator.String {
	return funcValidator{"must be a DNS-1123 label", func(s string) error {
		if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
			return fmt.Errorf("%q is not a DNS-1123 label (lower case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)", s)
		}
		return nil
	}}
}

func dns1123Subdomain() validator.String {
	return funcValidator{"must be a DNS-1123 subdomain", func(s string) error {
		if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
			return fmt.Errorf("%q is not a DNS-1123 subdomain (lower case letters, digits, '-' and '.', at most 253 characters)", s)
		}
		return nil
	}}
}

func labelMapErrors(labels map[string]string) error {
	for k, v := range labels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("label key %q is invalid: %s", k, errs[0])
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return fmt.Errorf("label %q has an invalid value %q: %s", k, v, errs[0])
		}
		if k == kube.LabelManagedBy {
			return fmt.Errorf("label %q is set by clusterkit itself", k)
		}
	}
	return nil
}

// entryDiagnostic reports err against the attribute at p, or against the list entry a
// *kube.EntryError names: "Invalid <path>", "<path> <description>: <problem>.".
func entryDiagnostic(p path.Path, description string, err error, diags *diag.Diagnostics) {
	var entry *kube.EntryError
	if errors.As(err, &entry) {
		p, err = p.AtListIndex(entry.Index), entry.Err
	}
	diags.AddAttributeError(p, "Invalid "+p.String(), fmt.Sprintf("%s %s: %s.", p, description, err))
}

// stringListFuncValidator adapts a check of a whole list of strings to validator.List;
// a list with unknown elements is checked once known.
type stringListFuncValidator struct {
	description string
	check       func([]string) error
}

func (v stringListFuncValidator) Description(context.Context) string         { return v.description }
func (v stringListFuncValidator) MarkdownDescription(context.Context) string { return v.description }

func (v stringListFuncValidator) ValidateList(ctx context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if !known(req.ConfigValue) {
		return
	}
	if l, ok := knownStringList(ctx, req.ConfigValue); ok {
		if err := v.check(l); err != nil {
			entryDiagnostic(req.Path, v.description, err, &resp.Diagnostics)
		}
	}
}

// tolerationsValidator checks installer_tolerations with kube.CheckTolerations, once every
// entry is known.
type tolerationsValidator struct{}

const tolerationsDescription = "must be tolerations Kubernetes accepts"

func (tolerationsValidator) Description(context.Context) string { return tolerationsDescription }
func (tolerationsValidator) MarkdownDescription(context.Context) string {
	return tolerationsDescription
}

func (tolerationsValidator) ValidateList(ctx context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if !known(req.ConfigValue) {
		return
	}
	if ts, ok := installerTolerations(ctx, req.ConfigValue); ok {
		if err := kube.CheckTolerations(ts); err != nil {
			entryDiagnostic(req.Path, tolerationsDescription, err, &resp.Diagnostics)
		}
	}
}

// resourcesValidator checks installer_resources with kube.CheckResources (names,
// quantities, requests within limits once merged with the defaults).
type resourcesValidator struct{}

const resourcesDescription = "must be requests and limits of cpu, memory or ephemeral-storage"

func (resourcesValidator) Description(context.Context) string         { return resourcesDescription }
func (resourcesValidator) MarkdownDescription(context.Context) string { return resourcesDescription }

func (resourcesValidator) ValidateObject(ctx context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	if !known(req.ConfigValue) {
		return
	}
	if r, ok := installerResources(ctx, req.ConfigValue); ok {
		if err := kube.CheckResources(r); err != nil {
			entryDiagnostic(req.Path, resourcesDescription, err, &resp.Diagnostics)
		}
	}
}

// kubernetesVersionPath is the eks_cluster attribute the version checks speak about.
var kubernetesVersionPath = path.Root("kubernetes_version")

// joinVersions is "1.34 or 1.35", "1.33, 1.34 or 1.35".
func joinVersions(vs []string) string {
	if len(vs) < 2 {
		return strings.Join(vs, "")
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}

// checkKubernetesVersionKnown refuses a kubernetes_version that is not in EKS's release
// calendar (cloud.EKSVersion), listing the versions one can choose at now.
func checkKubernetesVersionKnown(v string, now time.Time, diags *diag.Diagnostics) {
	if _, ok := cloud.EKSVersion(v); ok {
		return
	}
	offered := cloud.EKSVersionsIn(now, cloud.StandardSupport, cloud.ExtendedSupport)
	list := strings.Join(offered, ", ")
	if _, ok := cloud.CompareKubernetesVersions(v, v); !ok {
		diags.AddAttributeError(kubernetesVersionPath, "Invalid kubernetes_version",
			fmt.Sprintf("kubernetes_version must be a Kubernetes minor version such as 1.33, without a patch number: EKS offers %s; got %q.", list, v))
		return
	}
	diags.AddAttributeError(kubernetesVersionPath, "Unsupported kubernetes_version",
		fmt.Sprintf("kubernetes_version %s is not a version EKS offers: choose one of %s.", v, list))
}

// checkKubernetesVersionSupport tells, at now, about a known version that is past EKS
// standard support: a warning in extended support (it costs more), an error past extended
// support for a new cluster; for an existing one (existing = true) a warning: EKS upgrades
// such clusters itself, and the user must still be able to upgrade it one minor version
// at a time (through versions that may be past support too) or destroy it.
func checkKubernetesVersionSupport(v string, now time.Time, existing bool, diags *diag.Diagnostics) {
	info, ok := cloud.EKSVersion(v)
	if !ok {
		return
	}
	standard := joinVersions(cloud.EKSVersionsIn(now, cloud.StandardSupport))
	switch info.Status(now) {
	case cloud.ExtendedSupport:
		diags.AddAttributeWarning(kubernetesVersionPath, "Kubernetes "+v+" is in extended support",
			fmt.Sprintf("kubernetes_version %s is in extended support since %s: EKS charges extended-support pricing for it; choose %s (in standard support; an existing cluster upgrades one minor version at a time). Extended support for %s ends on %s.",
				v, info.EndOfStandardSupport.Format(time.DateOnly), standard, v, info.EndOfExtendedSupport.Format(time.DateOnly)))
	case cloud.Unsupported:
		if existing {
			diags.AddAttributeWarning(kubernetesVersionPath, "Kubernetes "+v+" is no longer supported by EKS",
				fmt.Sprintf("kubernetes_version %s left EKS extended support on %s: EKS upgrades such clusters on its own. Upgrade the cluster one minor version at a time towards %s.",
					v, info.EndOfExtendedSupport.Format(time.DateOnly), standard))
			return
		}
		diags.AddAttributeError(kubernetesVersionPath, "Kubernetes "+v+" is no longer supported by EKS",
			fmt.Sprintf("kubernetes_version %s left EKS extended support on %s: EKS no longer runs it. Choose %s (in standard support).",
				v, info.EndOfExtendedSupport.Format(time.DateOnly), standard))
	}
}
