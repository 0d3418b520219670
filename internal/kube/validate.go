package kube

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// The rules for what a managed app's install takes, written once: InstallSpec.Validate
// applies them, and the provider wraps the same functions as plan-time validators. Each
// error names the value and says what is allowed, in words a user can act on.

// MaxReleaseNameLength is helm's limit on release names.
const MaxReleaseNameLength = 53

var (
	chartNameRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	chartVersionRe = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+){0,2}([-+][0-9A-Za-z.+-]+)?$`)
	fileNameRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// CheckReleaseName: a DNS-1123 label of at most 53 characters.
func CheckReleaseName(s string) error {
	if msgs := validation.IsDNS1123Label(s); len(msgs) > 0 || len(s) > MaxReleaseNameLength {
		return fmt.Errorf("%q is not a DNS-1123 label of at most %d characters (lower case letters, digits and '-', starting and ending with a letter or digit)", s, MaxReleaseNameLength)
	}
	return nil
}

// CheckNamespace: a DNS-1123 label.
func CheckNamespace(s string) error {
	if msgs := validation.IsDNS1123Label(s); len(msgs) > 0 {
		return fmt.Errorf("%q is not a namespace name (a DNS-1123 label: lower case letters, digits and '-', at most 63 characters)", s)
	}
	return nil
}

// CheckReleaseNamespace: a namespace for a release, which is never the shared install
// namespace: that holds every app's values and credentials Secrets and installer service
// accounts, so rights a release's installer gets in its release namespace would reach them.
func CheckReleaseNamespace(s string) error {
	if err := CheckNamespace(s); err != nil {
		return err
	}
	if s == DefaultInstallNamespace {
		return fmt.Errorf("%q is the install namespace, which holds every app's values, credentials and installers; release into a namespace of the app's own", s)
	}
	return nil
}

// CheckChartName: a chart's name in its repository.
func CheckChartName(s string) error {
	if !chartNameRe.MatchString(s) {
		return fmt.Errorf("%q is not a chart name (letters, digits, '.', '_' and '-')", s)
	}
	return nil
}

// CheckChartVersion: one pinned version, never a range.
func CheckChartVersion(s string) error {
	if !chartVersionRe.MatchString(s) {
		return fmt.Errorf("%q is not a pinned chart version such as 1.2.3 or v1.2.3 (ranges are not allowed)", s)
	}
	return nil
}

// CheckRepository: an https:// chart repository or an oci:// registry path, without
// credentials, query or fragment; http:// only when allowHTTP (local testing).
func CheckRepository(s string, allowHTTP bool) error {
	u, err := url.Parse(s)
	ok := err == nil && u.Host != "" && u.User == nil && u.RawQuery == "" && u.Fragment == "" &&
		(u.Scheme == "https" || u.Scheme == "oci" || (u.Scheme == "http" && allowHTTP))
	if !ok {
		return fmt.Errorf("%q is not an https:// chart repository URL or an oci:// registry reference (without credentials, query or fragment)", s)
	}
	return nil
}

// CheckImage: a container image reference (no spaces or control characters).
func CheckImage(s string) error {
	if s == "" || strings.ContainsAny(s, " \t\r\n\x00") {
		return fmt.Errorf("%q is not a container image reference such as %s", s, DefaultInstallerImage)
	}
	return nil
}

// CheckPodLabels: valid Kubernetes labels that do not replace clusterkit's own.
func CheckPodLabels(m map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			return fmt.Errorf("label key %q is invalid: %s", k, msgs[0])
		}
		if msgs := validation.IsValidLabelValue(m[k]); len(msgs) > 0 {
			return fmt.Errorf("label %q has an invalid value %q: %s", k, m[k], msgs[0])
		}
		if k == LabelManagedBy || k == LabelApp || k == LabelAction {
			return fmt.Errorf("label %q is set by clusterkit itself", k)
		}
	}
	return nil
}

// CheckPodAnnotations: valid annotation keys that do not replace clusterkit's own.
func CheckPodAnnotations(m map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			return fmt.Errorf("annotation key %q is invalid: %s", k, msgs[0])
		}
		if k == AnnotationOwner {
			return fmt.Errorf("annotation %q is set by clusterkit itself", k)
		}
	}
	return nil
}

// CheckServiceAccountName: a service account name, not one of the provider's own
// installer names.
func CheckServiceAccountName(s string) error {
	if msgs := validation.IsDNS1123Subdomain(s); len(msgs) > 0 {
		return fmt.Errorf("%q is not a service account name (a DNS-1123 subdomain: lowercase letters, digits, '-' and '.')", s)
	}
	if strings.HasPrefix(s, installerPrefix) {
		return fmt.Errorf("%q: names starting with %q are kept for the provider's own installer service accounts", s, installerPrefix)
	}
	return nil
}

// MirroredRepository is the repository to install from: the mirror configured for repo
// (matched without a trailing slash), else repo itself.
func MirroredRepository(mirrors map[string]string, repo string) string {
	if m, ok := mirrors[strings.TrimSuffix(repo, "/")]; ok {
		return m
	}
	if m, ok := mirrors[repo]; ok {
		return m
	}
	return repo
}

// CheckRepositoryMirrors: each key is a chart repository (https:// or oci://) and each
// value the mirror that serves the same charts at the same versions.
func CheckRepositoryMirrors(mirrors map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(mirrors)) {
		if err := CheckRepository(k, false); err != nil {
			return fmt.Errorf("key %w", err)
		}
		if err := CheckRepository(mirrors[k], false); err != nil {
			return fmt.Errorf("mirror of %q: %w", k, err)
		}
	}
	return nil
}
