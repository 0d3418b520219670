package cloud

import (
	"slices"
	"testing"
	"time"
)

func TestEKSVersions_Calendar(t *testing.T) {
	got := SupportedEKSVersions()
	if want := []string{"1.30", "1.31", "1.32", "1.33", "1.34", "1.35"}; !slices.Equal(got, want) {
		t.Fatalf("SupportedEKSVersions() = %v, want %v", got, want)
	}
	for i, v := range got {
		info, ok := EKSVersion(v)
		if !ok || info.Version != v {
			t.Fatalf("EKSVersion(%q) = %+v, %v", v, info, ok)
		}
		if c, ok := CompareKubernetesVersions(v, v); !ok || c != 0 {
			t.Errorf("%s is not of the form 1.N", v)
		}
		if i > 0 {
			if c, _ := CompareKubernetesVersions(got[i-1], v); c != -1 {
				t.Errorf("%s comes after %s", v, got[i-1])
			}
		}
		// The documented rule: standard support for 14 months after the EKS release, then
		// 12 months of extended support (published days may differ by a few days).
		if d := info.EndOfStandardSupport.Sub(info.Released.AddDate(0, 14, 0)); d < -3*24*time.Hour || d > 3*24*time.Hour {
			t.Errorf("%s: end of standard support %s is not 14 months after %s", v, info.EndOfStandardSupport, info.Released)
		}
		if !info.EndOfExtendedSupport.Equal(info.EndOfStandardSupport.AddDate(1, 0, 0)) {
			t.Errorf("%s: end of extended support %s is not 12 months after %s", v, info.EndOfExtendedSupport, info.EndOfStandardSupport)
		}
		want := "/aws/service/eks/optimized-ami/" + v + "/amazon-linux-2023/x86_64/standard/recommended/image_id"
		if p := info.AMIParameter(); p != want {
			t.Errorf("%s: AMIParameter() = %q, want %q", v, p, want)
		}
	}
	for _, v := range []string{"1.29", "1.36", "1.033", "v1.33", "1.33.2", ""} {
		if _, ok := EKSVersion(v); ok {
			t.Errorf("EKSVersion(%q) is known", v)
		}
	}
}

func TestEKSVersions_StatusAtFixedDates(t *testing.T) {
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	dec1 := at(2026, time.December, 1, 12)
	for _, tc := range []struct {
		version string
		now     time.Time
		want    SupportStatus
	}{
		{"1.33", at(2026, time.July, 28, 23), StandardSupport},
		{"1.33", at(2026, time.July, 29, 0), ExtendedSupport}, // the end day is the first day past
		{"1.33", dec1, ExtendedSupport},
		{"1.34", dec1, StandardSupport},
		{"1.34", at(2026, time.December, 2, 0), ExtendedSupport},
		{"1.35", dec1, StandardSupport},
		{"1.32", dec1, ExtendedSupport},
		{"1.31", at(2026, time.November, 25, 23), ExtendedSupport},
		{"1.31", at(2026, time.November, 26, 0), Unsupported},
		{"1.30", dec1, Unsupported},
		{"1.35", at(2028, time.March, 27, 0), Unsupported},
	} {
		info, _ := EKSVersion(tc.version)
		if got := info.Status(tc.now); got != tc.want {
			t.Errorf("%s at %s: status %d, want %d", tc.version, tc.now, got, tc.want)
		}
		if got := StandardSupportEnded(tc.version, tc.now); got != (tc.want != StandardSupport) {
			t.Errorf("StandardSupportEnded(%s, %s) = %v", tc.version, tc.now, got)
		}
	}
	if StandardSupportEnded("1.99", dec1) {
		t.Error("an unknown version has ended standard support")
	}
	if got, want := EKSVersionsIn(dec1, StandardSupport), []string{"1.34", "1.35"}; !slices.Equal(got, want) {
		t.Errorf("standard on 2026-12-01: %v, want %v", got, want)
	}
	if got, want := EKSVersionsIn(dec1, StandardSupport, ExtendedSupport), []string{"1.32", "1.33", "1.34", "1.35"}; !slices.Equal(got, want) {
		t.Errorf("offered on 2026-12-01: %v, want %v", got, want)
	}
}

func TestEKSVersions_Next(t *testing.T) {
	for v, want := range map[string]string{"1.30": "1.31", "1.33": "1.34", "1.34": "1.35", "1.35": "", "1.99": ""} {
		got, ok := NextEKSVersion(v)
		if got != want || ok != (want != "") {
			t.Errorf("NextEKSVersion(%q) = %q, %v; want %q", v, got, ok, want)
		}
	}
	for _, tc := range []struct {
		a, b string
		c    int
		ok   bool
	}{{"1.9", "1.10", -1, true}, {"1.35", "1.34", 1, true}, {"1.33", "1.33", 0, true}, {"1.33.2", "1.33", 0, false}, {"1.33", "x", 0, false}} {
		c, ok := CompareKubernetesVersions(tc.a, tc.b)
		if c != tc.c || ok != tc.ok {
			t.Errorf("CompareKubernetesVersions(%q, %q) = %d, %v", tc.a, tc.b, c, ok)
		}
	}
}
