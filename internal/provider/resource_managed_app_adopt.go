package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"sigs.k8s.io/yaml"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// Adopting an imported release. Import knows only namespace and name (how to reach the
// cluster is in the configuration, which import does not see), so the first plan after it
// reads helm's record with the configuration's connection: when the record says deployed
// and the configured chart, version and values are what helm runs (a release helm
// installed, not clusterkit), the plan keeps the release as it is and the apply only
// records it; otherwise the plan upgrades it to the configuration and a warning says what
// differs. The chart repository is not in helm's record and is not compared.

// adoptImported returns the release to adopt, or nil to upgrade.
func (r *managedAppResource) adoptImported(ctx context.Context, plan managedAppModel, config tfsdk.Config, diags *diag.Diagnostics) *kube.Release {
	if !known(plan.Connection) {
		return nil
	}
	_, chart, version, ok := plan.chartRef(ctx)
	docs, docsKnown, err := valuesDocuments(plan.Values)
	if !ok || !docsKnown || err != nil {
		return nil
	}
	sensitive := readWriteOnly(ctx, config, diags)
	ctx = withInstallPodLogging(ctx, append(connectionSecrets(ctx, plan.Connection), sensitive.secrets()...)...)
	var lookup diag.Diagnostics
	client, ok := r.client(ctx, plan.Connection, &lookup)
	if !ok {
		return nil // the apply's install reports it
	}
	ns, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	rel, err := client.FindRelease(ctx, ns, name)
	if err != nil || rel == nil || rel.Status != kube.ReleaseDeployed {
		tflog.Info(ctx, "The imported release is not deployed (or could not be read): the apply installs or upgrades it", map[string]any{"release": ns + "/" + name})
		return nil
	}
	defaults := ""
	if a, ok := plan.catalogApp(); ok {
		defaults = a.DefaultValues
	}
	texts := valuesTexts(docs)
	if sensitive.values != "" {
		texts = append(texts, sensitive.values) // helm gets them after the values
	}
	want, err := mergedValues(defaults, texts)
	if err != nil {
		return nil
	}
	var differs []string
	if rel.ChartName != chart {
		differs = append(differs, fmt.Sprintf("helm runs chart %q, the configuration names %q", rel.ChartName, chart))
	}
	if rel.ChartVersion != version {
		differs = append(differs, fmt.Sprintf("helm runs chart version %s, the configuration %s", rel.ChartVersion, version))
	}
	if !sameValues(want, rel.Values) {
		differs = append(differs, "the values helm was given differ from the configuration's") // values may be secret: not shown
	}
	if len(differs) > 0 {
		diags.AddWarning("Imported release differs from the configuration",
			fmt.Sprintf("helm's release %s/%s at revision %d: %s. The apply upgrades it to the configuration.",
				ns, name, rel.Revision, strings.Join(differs, "; ")))
		return nil
	}
	return rel
}

// sameValues: the configured values (YAML) are the ones helm recorded (JSON). Numbers,
// key order and an empty mapping against none compare as helm would read them.
func sameValues(configured string, recorded json.RawMessage) bool {
	js, err := yaml.YAMLToJSON([]byte(configured))
	if err != nil {
		return false
	}
	var a, b map[string]any
	if err := decodeValues(js, &a); err != nil {
		return false
	}
	if err := decodeValues(recorded, &b); err != nil {
		return false
	}
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func decodeValues(js []byte, into *map[string]any) error {
	if len(bytes.TrimSpace(js)) == 0 || string(bytes.TrimSpace(js)) == "null" {
		return nil
	}
	return json.Unmarshal(js, into)
}
