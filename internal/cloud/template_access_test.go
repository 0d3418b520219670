package cloud

import (
	"maps"
	"reflect"
	"slices"
	"testing"
)

func TestClusterAccess_Parameters(t *testing.T) {
	if got := DefaultClusterAccess(); !reflect.DeepEqual(got, ClusterAccess{PublicAccess: true, PublicAccessCIDRs: []string{"0.0.0.0/0"}, IPFamily: "ipv4"}) {
		t.Errorf("default %+v", got)
	}
	defaults := DefaultClusterAccess().Parameters()
	maps.Copy(defaults, ClusterAuthenticationFromParameters(nil).Parameters())
	if got := defaults; !maps.Equal(got, EKSClusterTemplateDefaults) {
		t.Errorf("the default's parameters %v, want the template defaults %v", got, EKSClusterTemplateDefaults)
	}
	a := ClusterAccess{PrivateAccess: true, PublicAccessCIDRs: []string{"203.0.113.0/24", "198.51.100.7/32"}, LogTypes: []string{"scheduler", "api"},
		SecretsKeyARN: "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab", IPFamily: "ipv6"}
	p := a.Parameters()
	want := map[string]string{"EndpointPublicAccess": "false", "EndpointPrivateAccess": "true", "PublicAccessCidrs": "203.0.113.0/24,198.51.100.7/32",
		"LogApi": "true", "LogAudit": "false", "LogAuthenticator": "false", "LogControllerManager": "false", "LogScheduler": "true",
		"SecretsKmsKeyArn": a.SecretsKeyARN, "IpFamily": "ipv6"}
	if !maps.Equal(p, want) {
		t.Errorf("parameters %v, want %v", p, want)
	}
	back := ClusterAccessFromParameters(p)
	a.LogTypes = []string{"api", "scheduler"} // read back in EKS's order
	if !reflect.DeepEqual(back, a) {
		t.Errorf("round trip %+v, want %+v", back, a)
	}
	if keys := slices.Sorted(maps.Keys(LogTypeParameters)); !slices.Equal(keys, slices.Sorted(slices.Values(EKSLogTypes()))) {
		t.Errorf("LogTypeParameters %v, EKSLogTypes %v", keys, EKSLogTypes())
	}
}

func TestFitParameters(t *testing.T) {
	old := "Parameters:\n  ClusterName: {Type: String}\n  IpFamily: {Type: String}\nResources: {}\n"
	p := ClusterAccess{PublicAccess: true, LogTypes: []string{"audit", "api"}, SecretsKeyARN: "arn:aws:kms:eu-west-1:222222222222:key/x", IPFamily: "ipv6"}.Parameters()
	errs := FitParameters(old, p)
	if !maps.Equal(p, map[string]string{"IpFamily": "ipv6"}) {
		t.Errorf("kept %v, want only the declared IpFamily", p)
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	// One error per setting (the first log type's parameter for the log types), in template
	// order; the IPv6 default blocks (0.0.0.0/0,::/0) are EKS's default too, so no error.
	if want := []string{"the template declares no LogApi parameter", "the template declares no SecretsKmsKeyArn parameter"}; !slices.Equal(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
	if errs[0].Setting != SettingLogTypes || errs[1].Setting != SettingSecretsKey {
		t.Errorf("settings %v %v", errs[0].Setting, errs[1].Setting)
	}
	// The embedded template declares them all.
	all := ClusterAccess{LogTypes: EKSLogTypes(), SecretsKeyARN: "k", IPFamily: "ipv6"}.Parameters()
	n := len(all)
	if errs := FitParameters(EKSClusterTemplate(), all); len(errs) != 0 || len(all) != n {
		t.Errorf("embedded template: %v, %d of %d parameters kept", errs, len(all), n)
	}
}
