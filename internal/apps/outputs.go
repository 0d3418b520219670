package apps

import (
	"regexp"
	"strings"
)

var placeholderRe = regexp.MustCompile(`\{fullname(?::([a-z0-9-]+))?\}`)

// ResolveOutputs returns the entry's outputs for a release called release with the given
// (merged) values: object names follow the release name, so "{fullname}" stands for the
// chart's helm fullname and "{fullname:<subchart>}" for a subchart's.
func (a App) ResolveOutputs(release string, values map[string]any) map[string]string {
	out := make(map[string]string, len(a.Outputs))
	for k, v := range a.Outputs {
		out[k] = placeholderRe.ReplaceAllStringFunc(v, func(p string) string {
			if sub := placeholderRe.FindStringSubmatch(p)[1]; sub != "" {
				subValues, _ := values[sub].(map[string]any)
				return HelmFullname(release, sub, subValues, 0)
			}
			return HelmFullname(release, a.Chart, values, a.FullnameMax)
		})
	}
	return out
}

// HelmFullname is the name the usual chart helper ("<chart>.fullname", as `helm create`
// scaffolds it) gives a release's objects: fullnameOverride if set; else the release name
// when it contains the chart's name (nameOverride, else the chart); else
// "<release>-<name>"; cut to max characters (63 when 0) without a trailing "-".
func HelmFullname(release, chart string, values map[string]any, max int) string {
	if max <= 0 {
		max = DefaultFullnameMax
	}
	name := chart
	if s, _ := values["nameOverride"].(string); s != "" {
		name = s
	}
	full := release + "-" + name
	switch s, _ := values["fullnameOverride"].(string); {
	case s != "":
		full = s
	case strings.Contains(release, name):
		full = release
	}
	if len(full) > max {
		full = full[:max]
	}
	return strings.TrimSuffix(full, "-")
}
