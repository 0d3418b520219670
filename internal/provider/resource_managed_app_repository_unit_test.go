package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

func repositorySecret(name string) types.Object {
	return types.ObjectValueMust(map[string]attr.Type{"name": types.StringType}, map[string]attr.Value{"name": types.StringValue(name)})
}

func TestValidateRepositoryCombinations(t *testing.T) {
	s, yes, no := types.StringValue, types.BoolValue(true), types.BoolValue(false)
	for _, tc := range []struct {
		name string
		edit func(*managedAppModel)
		want []string // "attribute: start of detail"
	}{
		{"secret alone", func(m *managedAppModel) { m.RepositorySecret = repositorySecret("robot") }, nil},
		{"secret and username", func(m *managedAppModel) {
			m.RepositorySecret, m.RepositoryUsername = repositorySecret("robot"), s("ci")
		},
			[]string{"repository_username: repository_username conflicts with repository_credentials_secret"}},
		{"secret and both", func(m *managedAppModel) {
			m.RepositorySecret, m.RepositoryUsername, m.RepositoryPassword = repositorySecret("robot"), s("ci"), s("pw")
		}, []string{"repository_username: repository_username conflicts", "repository_password: repository_password conflicts"}},
		{"secret unknown", func(m *managedAppModel) {
			m.RepositorySecret, m.RepositoryUsername, m.RepositoryPassword = types.ObjectUnknown(repositorySecret("x").AttributeTypes(t.Context())), s("ci"), s("pw")
		}, nil},
		{"verify with keyring", func(m *managedAppModel) { m.Verify, m.Keyring = yes, s("keys") }, nil},
		{"verify without keyring", func(m *managedAppModel) { m.Verify = yes }, []string{"keyring: verify = true needs keyring"}},
		{"keyring without verify", func(m *managedAppModel) { m.Keyring = s("keys") }, []string{"keyring: keyring is used only with verify = true"}},
		{"keyring with verify = false", func(m *managedAppModel) { m.Verify, m.Keyring = no, s("keys") }, []string{"keyring: keyring is used only with verify = true"}},
		{"verify unknown", func(m *managedAppModel) { m.Verify, m.Keyring = types.BoolUnknown(), s("keys") }, nil},
		{"verify = false alone", func(m *managedAppModel) { m.Verify = no }, nil},
	} {
		m := managedAppModel{App: s("cert-manager")}
		tc.edit(&m)
		var diags diag.Diagnostics
		validateCombinations(m, &diags)
		if len(diags) != len(tc.want) {
			t.Errorf("%s: %d diagnostics %v, want %q", tc.name, len(diags), diags, tc.want)
			continue
		}
		for i, d := range diags {
			p := d.(diag.DiagnosticWithPath).Path().String()
			if got := p + ": " + d.Detail(); !strings.HasPrefix(got, tc.want[i]) {
				t.Errorf("%s: %q, want %q...", tc.name, got, tc.want[i])
			}
		}
	}
}

// A changed credentials Secret, keyring or verify runs an upgrade (the chart is fetched and
// verified again); the CA alone does not (how the next pod reaches the same repository).
func TestInstallInputsChanged_Repository(t *testing.T) {
	base := unitManagedApp(t)
	base.App, base.RepositorySecret = types.StringValue("cert-manager"), repositorySecret("robot")
	base.RepositoryCACert, base.Keyring, base.Verify = types.StringValue("ca-1"), types.StringValue("keys-1"), types.BoolValue(true)
	for _, tc := range []struct {
		name string
		edit func(*managedAppModel)
		want bool
	}{
		{"nothing", func(*managedAppModel) {}, false},
		{"secret name", func(m *managedAppModel) { m.RepositorySecret = repositorySecret("robot-2") }, true},
		{"secret removed", func(m *managedAppModel) {
			m.RepositorySecret = types.ObjectNull(repositorySecret("x").AttributeTypes(t.Context()))
		}, true},
		{"CA", func(m *managedAppModel) { m.RepositoryCACert = types.StringValue("ca-2") }, false},
		{"keyring", func(m *managedAppModel) { m.Keyring = types.StringValue("keys-2") }, true},
		{"verify off", func(m *managedAppModel) { m.Verify = types.BoolValue(false) }, true},
	} {
		plan := base
		tc.edit(&plan)
		if got := installInputsChanged(plan, base); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// verify unset and verify = false are the same to helm.
	off, unset := unitManagedApp(t), unitManagedApp(t)
	off.Verify, unset.Verify = types.BoolValue(false), types.BoolNull()
	if installInputsChanged(off, unset) || installInputsChanged(unset, off) {
		t.Error("verify null and false differ")
	}
}

func TestSpec_RepositoryAccess(t *testing.T) {
	m := unitManagedApp(t)
	m.App, m.RepositorySecret = types.StringValue("cert-manager"), repositorySecret("robot")
	m.RepositoryCACert, m.Verify, m.Keyring = types.StringValue("pem"), types.BoolValue(true), types.StringValue("keys")
	spec, err := m.spec(t.Context(), writeOnly{}, kube.DefaultInstallTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if spec.RepositoryCredentialsSecret != "robot" || spec.RepositoryCA != "pem" || !spec.Verify || spec.Keyring != "keys" ||
		spec.RepositoryUsername != "" || spec.RepositoryPassword != "" {
		t.Errorf("spec %+v", spec)
	}
}

func TestRepositoryAdvice(t *testing.T) {
	for kind, want := range map[kube.RepositoryFailure]string{
		kube.RepositoryFailureAuth:       "Authentication to the chart repository or registry failed",
		kube.RepositoryFailureTLS:        "repository_ca_cert",
		kube.RepositoryFailureProvenance: "signed by a key in keyring",
	} {
		if got, ok := repositoryAdvice(kind); !ok || !strings.Contains(got, want) {
			t.Errorf("%d: %q", kind, got)
		}
	}
	if _, ok := repositoryAdvice(kube.RepositoryFailureNone); ok {
		t.Error("advice for a failure that is not the repository's")
	}
}
