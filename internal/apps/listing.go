package apps

// DefaultFullnameMax is how long the usual fullname helper lets a name get: 63, the
// longest Kubernetes label value and DNS label.
const DefaultFullnameMax = 63

// FullnameLimit is how long the entry's chart lets its fullname get: FullnameMax, or
// DefaultFullnameMax when the entry sets none. It is the max HelmFullname applies to the
// entry's outputs, so modules that compute names get the same cut.
func (a App) FullnameLimit() int {
	if a.FullnameMax > 0 {
		return a.FullnameMax
	}
	return DefaultFullnameMax
}
