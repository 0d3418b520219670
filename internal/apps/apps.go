// Package apps is the managed-app catalog: well-known Helm charts with a pinned chart
// version, the repository they come from, the namespace they are installed into by default
// and production-leaning default values. The managed_app resource installs an entry by
// name, or any chart given by repository, chart and version.
//
// Versions are pinned on purpose (an unpinned chart changes under a module's feet); they
// are bumped in this package, with a CHANGELOG entry, never resolved at run time.
package apps

import (
	"maps"
	"slices"
)

// App is one catalog entry.
type App struct {
	// Name is the catalog key and the default Helm release name (a DNS-1123 label).
	Name        string
	Description string
	// Notice, when set, is shown as a plan-time warning on configurations that use the
	// entry (e.g. a project retired upstream).
	Notice string
	// Repository is the chart repository (https) and Chart the chart's name in it.
	Repository string
	Chart      string
	// Version is the pinned chart version (semantic version, as the repository lists it,
	// some with a leading "v").
	Version string
	// Support is the evidence that Version is on a line its project still maintains, as of
	// SupportReviewed: the project's support policy in a sentence, whether the pinned line is
	// supported, upgrade caveats that bear on the defaults, and the sources as plain
	// references (repository and path, PR or issue numbers, URLs). It must name Version, so
	// a pin change without a new review fails the tests. Shown in the catalog guide.
	Support string
	// Namespace is the default namespace the release is installed into.
	Namespace string
	// DefaultValues are the chart values (YAML) used unless the user overrides them; user
	// values are passed after these, so they win key by key.
	DefaultValues string
	// NeedsClusterAdmin: the chart creates cluster-scoped objects (CRDs, ClusterRoles,
	// webhooks), so its install pod must run as cluster-admin rather than with the
	// namespaced "admin" role on the release namespace.
	NeedsClusterAdmin bool
	// UninstallOrder: when several apps are destroyed together, higher numbers go later
	// (the ingress controller outlives the apps that are reached through it).
	UninstallOrder int
	// PreInstall and PostInstall are extra shell steps (POSIX sh, run with -e) around the
	// helm call in the install pod; PreUninstall runs before helm uninstall. The steps
	// may use $CONFIG_DIR (the mounted values directory), $RELEASE_NAME and
	// $RELEASE_NAMESPACE. The install image has helm and a shell, not kubectl.
	PreInstall   []string
	PostInstall  []string
	PreUninstall []string
	// Outputs are facts about an installed release that a module can compose with, such
	// as the name of the controller's Service, keyed by output name. Names that follow
	// the release name use "{fullname}" (see ResolveOutputs).
	Outputs map[string]string
	// FullnameMax is how long the chart's fullname helper lets names get (0: 63).
	FullnameMax int
}

var catalog = map[string]App{}

func register(a App) {
	if _, dup := catalog[a.Name]; dup {
		panic("apps: duplicate catalog entry " + a.Name)
	}
	catalog[a.Name] = a
}

// Lookup returns a copy of the catalog entry called name.
func Lookup(name string) (App, bool) {
	a, ok := catalog[name]
	if !ok {
		return App{}, false
	}
	a.PreInstall = slices.Clone(a.PreInstall)
	a.PostInstall = slices.Clone(a.PostInstall)
	a.PreUninstall = slices.Clone(a.PreUninstall)
	a.Outputs = maps.Clone(a.Outputs)
	return a, true
}

// Names lists the catalog's entries, sorted.
func Names() []string {
	return slices.Sorted(maps.Keys(catalog))
}
