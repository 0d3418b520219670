package cloud

import (
	"errors"
	"maps"
	"testing"
)

func TestClusterAuthentication_Parameters(t *testing.T) {
	const role = "arn:aws:iam::222222222222:role/clusterkit-provisioner"
	for _, tc := range []struct {
		name string
		got  ClusterAuthentication
		want map[string]string
	}{
		{"new, API", NewClusterAuthentication(AuthModeAPI, role), map[string]string{"AuthenticationMode": "API", "ClusterAdminRoleArn": role}},
		{"new, API_AND_CONFIG_MAP", NewClusterAuthentication(AuthModeAPIAndConfigMap, role), map[string]string{"AuthenticationMode": "API_AND_CONFIG_MAP", "ClusterAdminRoleArn": role}},
		// CONFIG_MAP has no access entries: EKS's creator bootstrap makes the role admin,
		// and keeps doing so after a later move to the access entry modes.
		{"new, CONFIG_MAP", NewClusterAuthentication(AuthModeConfigMap, role), map[string]string{"AuthenticationMode": "CONFIG_MAP", "ClusterAdminRoleArn": ""}},
		{"stack of an older template", ClusterAuthenticationFromParameters(map[string]string{"ClusterName": "x"}), map[string]string{"AuthenticationMode": "API_AND_CONFIG_MAP", "ClusterAdminRoleArn": ""}},
		{"older stack moving to API keeps the creator bootstrap", ClusterAuthenticationFromParameters(nil).WithMode(AuthModeAPI), map[string]string{"AuthenticationMode": "API", "ClusterAdminRoleArn": ""}},
		{"CONFIG_MAP stack moving on", ClusterAuthenticationFromParameters(NewClusterAuthentication(AuthModeConfigMap, role).Parameters()).WithMode(AuthModeAPIAndConfigMap),
			map[string]string{"AuthenticationMode": "API_AND_CONFIG_MAP", "ClusterAdminRoleArn": ""}},
		{"API stack keeps its admin role", ClusterAuthenticationFromParameters(NewClusterAuthentication(AuthModeAPIAndConfigMap, role).Parameters()).WithMode(AuthModeAPI),
			map[string]string{"AuthenticationMode": "API", "ClusterAdminRoleArn": role}},
	} {
		if p := tc.got.Parameters(); !maps.Equal(p, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, p, tc.want)
		}
	}
}

func TestCheckAuthModeChange(t *testing.T) {
	for _, tc := range []struct {
		from, to, want string
	}{
		{"API", "API", ""},
		{"CONFIG_MAP", "API_AND_CONFIG_MAP", ""},
		{"API_AND_CONFIG_MAP", "API", ""},
		{"CONFIG_MAP", "API", "EKS changes the authentication mode one step at a time: from CONFIG_MAP go to API_AND_CONFIG_MAP first, apply, then to API"},
		{"API", "API_AND_CONFIG_MAP", "EKS cannot change the authentication mode back from API to API_AND_CONFIG_MAP: the change is one-way (CONFIG_MAP, then API_AND_CONFIG_MAP, then API); replace the cluster to go back"},
		{"API_AND_CONFIG_MAP", "CONFIG_MAP", "EKS cannot change the authentication mode back from API_AND_CONFIG_MAP to CONFIG_MAP: the change is one-way (CONFIG_MAP, then API_AND_CONFIG_MAP, then API); replace the cluster to go back"},
		{"", "API", ""}, // unknown: left to validation
	} {
		err := CheckAuthModeChange(tc.from, tc.to)
		var ce *AuthModeChangeError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s -> %s: %v", tc.from, tc.to, err)
		case tc.want != "" && (!errors.As(err, &ce) || err.Error() != tc.want):
			t.Errorf("%s -> %s: %v, want %q", tc.from, tc.to, err, tc.want)
		}
	}
	if !NodesJoinThroughAWSAuth(AuthModeConfigMap) || !NodesJoinThroughAWSAuth("") || NodesJoinThroughAWSAuth(AuthModeAPIAndConfigMap) || NodesJoinThroughAWSAuth(AuthModeAPI) {
		t.Error("NodesJoinThroughAWSAuth")
	}
}

// A user template without the authentication parameters is not passed them; a mode other
// than the template default is reported, the admin role never is.
func TestFitParameters_Authentication(t *testing.T) {
	body := "Parameters:\n  ClusterName: {Type: String}\nResources:\n  EKSCluster: {Type: AWS::EKS::Cluster}\n"
	p := NewClusterAuthentication(AuthModeAPI, "arn:aws:iam::222222222222:role/p").Parameters()
	errs := FitParameters(body, p)
	if len(p) != 0 || len(errs) != 1 || errs[0].Setting != SettingAuthenticationMode || errs[0].Parameter != "AuthenticationMode" {
		t.Errorf("left %v, errors %+v", p, errs)
	}
	p = NewClusterAuthentication(AuthModeAPIAndConfigMap, "arn:aws:iam::222222222222:role/p").Parameters()
	if errs := FitParameters(body, p); len(p) != 0 || len(errs) != 0 {
		t.Errorf("template default mode: left %v, errors %+v", p, errs)
	}
}
