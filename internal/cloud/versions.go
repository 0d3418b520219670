package cloud

import (
	"strconv"
	"strings"
	"time"
)

// VersionInfo is one Kubernetes minor version as Amazon EKS offers it.
type VersionInfo struct {
	// Version is the minor version, "1.N".
	Version string
	// Released is the day EKS made the version available.
	Released time.Time
	// EndOfStandardSupport is the first day the version is in extended support (EKS charges
	// the extended-support price per cluster hour from then on).
	EndOfStandardSupport time.Time
	// EndOfExtendedSupport is the first day the version is no longer supported at all: EKS
	// creates no cluster on it and upgrades the clusters still running it.
	EndOfExtendedSupport time.Time
	// Derived marks dates computed from the documented rule (standard support 14 months
	// after the EKS release, extended support 12 months more) rather than read from a
	// published calendar.
	Derived bool
}

// SupportStatus is where a version stands on a given day.
type SupportStatus int

const (
	// StandardSupport: the version is in standard support.
	StandardSupport SupportStatus = iota
	// ExtendedSupport: past standard support, in extended support (extended pricing).
	ExtendedSupport
	// Unsupported: past extended support.
	Unsupported
)

// Status is where v stands at now.
func (v VersionInfo) Status(now time.Time) SupportStatus {
	switch {
	case !now.Before(v.EndOfExtendedSupport):
		return Unsupported
	case !now.Before(v.EndOfStandardSupport):
		return ExtendedSupport
	}
	return StandardSupport
}

// AMIParameter is the public SSM parameter path that holds the recommended EKS-optimized
// Amazon Linux 2023 (x86_64, standard) AMI ID for the version (see NodeAMIParameter).
func (v VersionInfo) AMIParameter() string {
	p, _ := NodeAMIParameter(v.Version) // every calendar entry is of the form 1.N (tested)
	return p
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// eksVersions is the Amazon EKS Kubernetes release calendar, oldest first, one entry per
// minor version EKS offers (or offered until recently, so that a version past extended
// support is named as such rather than as unknown). It is the one source for which
// versions exist, their node AMI parameter and their support dates.
//
// Source: the "Amazon EKS Kubernetes release calendar" of
// https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar
// (rule: standard support for 14 months after the EKS release, then 12 months of extended
// support), with the dates as mirrored by https://endoflife.date/amazon-eks (checked
// 2026-12-01; release days there may differ from the AWS calendar by a day or two, the
// support end dates agree). Every entry below has published dates; none is Derived.
// Kubernetes 1.36 is not listed: neither AWS's calendar nor endoflife.date at hand gives an
// EKS release date for it; the only date found (2026-06-02, standard support to 2027-08-02)
// is in an unattributed third-party blog post (devopsdreams.blogspot.com, 2026-08-16), not
// enough for a table that refuses and warns at plan time.
// Dates are days in UTC; a day listed as an end is the first day past it.
var eksVersions = []VersionInfo{
	{Version: "1.30", Released: day(2024, time.May, 23), EndOfStandardSupport: day(2025, time.July, 23), EndOfExtendedSupport: day(2026, time.July, 23)},
	{Version: "1.31", Released: day(2024, time.September, 26), EndOfStandardSupport: day(2025, time.November, 26), EndOfExtendedSupport: day(2026, time.November, 26)},
	{Version: "1.32", Released: day(2025, time.January, 23), EndOfStandardSupport: day(2026, time.March, 23), EndOfExtendedSupport: day(2027, time.March, 23)},
	{Version: "1.33", Released: day(2025, time.May, 29), EndOfStandardSupport: day(2026, time.July, 29), EndOfExtendedSupport: day(2027, time.July, 29)},
	{Version: "1.34", Released: day(2025, time.October, 2), EndOfStandardSupport: day(2026, time.December, 2), EndOfExtendedSupport: day(2027, time.December, 2)},
	{Version: "1.35", Released: day(2026, time.January, 27), EndOfStandardSupport: day(2027, time.March, 27), EndOfExtendedSupport: day(2028, time.March, 27)},
}

// EKSVersion looks up a minor version ("1.N") in the release calendar.
func EKSVersion(v string) (VersionInfo, bool) {
	for _, x := range eksVersions {
		if x.Version == v {
			return x, true
		}
	}
	return VersionInfo{}, false
}

// SupportedEKSVersions lists every version of the calendar, oldest first, whatever its
// support status.
func SupportedEKSVersions() []string {
	out := make([]string, 0, len(eksVersions))
	for _, x := range eksVersions {
		out = append(out, x.Version)
	}
	return out
}

// EKSVersionsIn lists, oldest first, the versions whose status at now is one of statuses.
func EKSVersionsIn(now time.Time, statuses ...SupportStatus) []string {
	var out []string
	for _, x := range eksVersions {
		for _, s := range statuses {
			if x.Status(now) == s {
				out = append(out, x.Version)
				break
			}
		}
	}
	return out
}

// StandardSupportEnded reports whether v is a known version past its end of standard
// support at now (in extended support or unsupported).
func StandardSupportEnded(v string, now time.Time) bool {
	x, ok := EKSVersion(v)
	return ok && x.Status(now) != StandardSupport
}

// NextEKSVersion is the version an in-place upgrade from v goes to: the next one of the
// calendar. It is false when v is unknown or the newest.
func NextEKSVersion(v string) (string, bool) {
	for i, x := range eksVersions {
		if x.Version == v && i+1 < len(eksVersions) {
			return eksVersions[i+1].Version, true
		}
	}
	return "", false
}

// CompareKubernetesVersions orders two minor versions "1.N" numerically (-1, 0, +1); ok
// is false when either is not of that form.
func CompareKubernetesVersions(a, b string) (cmp int, ok bool) {
	ma, ok1 := minorOf(a)
	mb, ok2 := minorOf(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	switch {
	case ma < mb:
		return -1, true
	case ma > mb:
		return 1, true
	}
	return 0, true
}

func minorOf(v string) (int, bool) {
	if !kubernetesVersionRE.MatchString(v) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, "1."))
	return n, err == nil
}
