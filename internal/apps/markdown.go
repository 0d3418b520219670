package apps

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// GuideMarkdown renders the catalog as the docs guide's template
// (templates/guides/catalog.md.tmpl), so the published list cannot drift from the code.
// tfplugindocs runs the file through text/template, so every "{{" of the text (the
// gitlab-runner defaults have one) is written as a template action printing it.
func GuideMarkdown() string {
	return strings.ReplaceAll(guideText(), "{{", `{{"{{"}}`)
}

// guideText is the guide as it is published (docs/guides/catalog.md).
func guideText() string {
	var b strings.Builder
	b.WriteString(`---
page_title: "App catalog"
subcategory: ""
description: |-
  The apps clusterkit_managed_app installs by name: repository, pinned chart version, upstream support, namespace, rights and uninstall order.
---

<!-- Generated from internal/apps by tools/docs.sh; edit the catalog, not this file. -->

# App catalog

` + "`app = \"<name>\"`" + ` installs one of these charts with its pinned version and default values (your
` + "`values`" + ` are merged over them key by key). ` + "`version`" + ` overrides the pinned version. Apps destroyed
together are uninstalled lowest order first; a custom chart has order 0. In ` + "`outputs`" + `,
` + "`<fullname>`" + ` is the name the chart gives the release's objects: the release name when it
contains the chart's name, else ` + "`<release>-<chart>`" + ` (or the values' ` + "`fullnameOverride`" + `).

## Versions and upgrades

* A provider release that changes an entry's pinned version plans an upgrade of every installed
  app of that entry (the installed chart version no longer matches the pin). To hold an app back,
  set ` + "`version = \"<old pin>\"`" + ` on its resource before upgrading the provider, and remove it when
  you are ready for the new version.
* A change of the installer image alone (` + "`installer_image`" + `, or a provider release with a new default
  image) never plans an upgrade: the next install, upgrade or uninstall pod simply uses the new image.

Each entry's **Support** says why its pin is on a release line its project still maintains (or that
none exists), with the sources; support status reviewed ` + SupportReviewed + `.

| app | chart | repository | version | namespace | installer | uninstall order |
|---|---|---|---|---|---|---|
`)
	names := Names()
	for _, n := range names {
		a, _ := Lookup(n)
		rights := "`admin` in its namespace"
		if a.NeedsClusterAdmin {
			rights = "`cluster-admin`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | `%s` | `%s` | %s | %d |\n", a.Name, a.Chart, a.Repository, a.Version, a.Namespace, rights, a.UninstallOrder)
	}
	b.WriteString("\n## Entries\n")
	for _, n := range names {
		a, _ := Lookup(n)
		fmt.Fprintf(&b, "\n### %s\n\n%s\n", a.Name, a.Description)
		if a.Notice != "" {
			fmt.Fprintf(&b, "\n~> **Note:** %s\n", a.Notice)
		}
		fmt.Fprintf(&b, "\n**Support** (reviewed %s): %s\n", SupportReviewed, a.Support)
		if len(a.Outputs) > 0 {
			b.WriteString("\n`outputs`: ")
			for i, k := range slices.Sorted(maps.Keys(a.Outputs)) {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "`%s` = `%s`", k, placeholderRe.ReplaceAllStringFunc(a.Outputs[k], guidePlaceholder))
			}
			b.WriteString(".\n")
		}
		fmt.Fprintf(&b, "\nDefault values:\n\n```yaml\n%s```\n", a.DefaultValues)
	}
	return b.String()
}

// guidePlaceholder writes "{fullname}" as <fullname> and "{fullname:grafana}" as
// <release>-grafana, the form a reader recognises.
func guidePlaceholder(p string) string {
	if sub := placeholderRe.FindStringSubmatch(p)[1]; sub != "" {
		return "<release>-" + sub
	}
	return "<fullname>"
}
