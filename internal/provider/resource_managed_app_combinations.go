package provider

import (
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
)

// Which attributes of a managed app go together, checked in ValidateConfig on the model it
// has read anyway: the framework's config validators (ExactlyOneOf, Conflicting,
// RequiredTogether) each walk the configuration again for every resource, a quarter of
// the provider's time validating hundreds of apps. As with those validators, nothing is
// decided while a value involved is unknown (it may turn out null).

const combinationSummary = "Invalid Attribute Combination"

func configured(v attr.Value) bool { return !v.IsNull() }

func anyUnknown(vs ...attr.Value) bool {
	for _, v := range vs {
		if v.IsUnknown() {
			return true
		}
	}
	return false
}

func validateCombinations(m managedAppModel, diags *diag.Diagnostics) {
	if !anyUnknown(m.App, m.Chart) {
		switch {
		case !configured(m.App) && !configured(m.Chart):
			diags.AddAttributeError(path.Root("app"), combinationSummary,
				"Set exactly one of app (an app of the catalog) or chart (any chart by repository, name and version): neither is set.")
		case configured(m.App) && configured(m.Chart):
			diags.AddAttributeError(path.Root("chart"), combinationSummary,
				"Set exactly one of app (an app of the catalog) or chart (any chart by repository, name and version): both are set.")
		}
	}
	if !anyUnknown(m.Version, m.Chart) && configured(m.Version) && configured(m.Chart) {
		diags.AddAttributeError(path.Root("version"), combinationSummary,
			"version overrides a catalog app's pinned chart version; with chart, give the version as chart.version.")
	}
	if !anyUnknown(m.InstallerServiceAccount, m.InstallerClusterAdmin) && configured(m.InstallerServiceAccount) && configured(m.InstallerClusterAdmin) {
		diags.AddAttributeError(path.Root("installer_cluster_admin"), combinationSummary,
			"installer_cluster_admin sets the rights of the provider's own installer; with installer_service_account, "+
				"the install pods run as your service account with the rights you gave it: remove one of the two.")
	}
	// With repository_credentials_secret, either of the two is a conflict (below), not half a pair.
	if !anyUnknown(m.RepositoryUsername, m.RepositoryPassword, m.RepositorySecret) && !configured(m.RepositorySecret) &&
		configured(m.RepositoryUsername) != configured(m.RepositoryPassword) {
		missing, given := "repository_password", "repository_username"
		if configured(m.RepositoryPassword) {
			missing, given = given, missing
		}
		diags.AddAttributeError(path.Root(missing), combinationSummary, missing+" must be set together with "+given+".")
	}
	validateRepositoryCombinations(m, diags)
}

// validateRepositoryCombinations: repository credentials come from one place, and a
// keyring goes with verify.
func validateRepositoryCombinations(m managedAppModel, diags *diag.Diagnostics) {
	if !anyUnknown(m.RepositorySecret, m.RepositoryUsername, m.RepositoryPassword) && configured(m.RepositorySecret) {
		for _, inline := range []struct {
			name string
			v    attr.Value
		}{{"repository_username", m.RepositoryUsername}, {"repository_password", m.RepositoryPassword}} {
			if configured(inline.v) {
				diags.AddAttributeError(path.Root(inline.name), combinationSummary,
					inline.name+" conflicts with repository_credentials_secret: the credentials come either from your Secret (keys username and password) "+
						"or from repository_username and repository_password, not both. Remove one of the two.")
			}
		}
	}
	if !anyUnknown(m.Verify, m.Keyring) {
		switch verify := m.Verify.ValueBool(); {
		case verify && !configured(m.Keyring):
			diags.AddAttributeError(path.Root("keyring"), combinationSummary,
				"verify = true needs keyring: the ASCII-armored OpenPGP public keys (gpg --export --armor) of those who sign the chart.")
		case !verify && configured(m.Keyring):
			diags.AddAttributeError(path.Root("keyring"), combinationSummary,
				"keyring is used only with verify = true, to check the chart's provenance: set verify = true or remove keyring.")
		}
	}
}
