package provider

import (
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

var addonObjType = tftypes.Object{AttributeTypes: map[string]tftypes.Type{"version": tftypes.String, "configuration_values": tftypes.String}}

// addonsTF is an addons value: name -> {version, configuration_values}; "" is null and
// "?" unknown.
func addonsTF(entries map[string][2]string) tftypes.Value {
	els := map[string]tftypes.Value{}
	val := func(s string) tftypes.Value {
		switch s {
		case "":
			return tftypes.NewValue(tftypes.String, nil)
		case "?":
			return tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
		}
		return str(s)
	}
	for k, e := range entries {
		els[k] = tftypes.NewValue(addonObjType, map[string]tftypes.Value{"version": val(e[0]), "configuration_values": val(e[1])})
	}
	return tftypes.NewValue(tftypes.Map{ElementType: addonObjType}, els)
}

// plannedAddons reads a planned addons value as name -> version ("?" unknown, "" null).
func plannedAddons(t *testing.T, v tftypes.Value) map[string]string {
	t.Helper()
	if v.IsNull() {
		return nil
	}
	var els map[string]tftypes.Value
	if err := v.As(&els); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, el := range els {
		var attrs map[string]tftypes.Value
		if err := el.As(&attrs); err != nil {
			t.Fatal(err)
		}
		switch ver := attrs["version"]; {
		case !ver.IsKnown():
			out[k] = "?"
		case ver.IsNull():
			out[k] = ""
		default:
			var s string
			_ = ver.As(&s)
			out[k] = s
		}
	}
	return out
}

func addonKeys(m map[string]string) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func TestEKSClusterAddons_Defaults(t *testing.T) {
	// A new cluster: the four add-ons, at EKS's defaults (looked up at apply).
	p := planAccessChange(t, nil, nil)
	got := plannedAddons(t, p.planned["addons"])
	if addonKeys(got) != "coredns,eks-pod-identity-agent,kube-proxy,vpc-cni" || got["vpc-cni"] != "?" || len(p.diags) != 0 {
		t.Errorf("new cluster: %v %v", got, p.diags)
	}
	// No nodes: no CoreDNS by default.
	p = planAccessChange(t, map[string]tftypes.Value{"node_count": tftypes.NewValue(tftypes.Number, 0)}, nil)
	if got := plannedAddons(t, p.planned["addons"]); addonKeys(got) != "eks-pod-identity-agent,kube-proxy,vpc-cni" {
		t.Errorf("no nodes: %v", got)
	}
	// Opted out.
	p = planAccessChange(t, map[string]tftypes.Value{"addons": addonsTF(nil)}, nil)
	if got := plannedAddons(t, p.planned["addons"]); got == nil || len(got) != 0 {
		t.Errorf("addons = {}: %v", got)
	}
	// A cluster from before add-ons keeps none, and plans no update.
	p = planAccessChange(t, nil, eksCompleteCluster(nil))
	if !p.planned["addons"].IsNull() || !p.planned["status"].Equal(str("CREATE_COMPLETE")) {
		t.Errorf("existing cluster without add-ons: %v status %v", p.planned["addons"], p.planned["status"])
	}
	// With user template: none.
	p = planAccessChange(t, map[string]tftypes.Value{"template_body": str(userTemplateWithoutNewParams())}, nil)
	if !p.planned["addons"].IsNull() {
		t.Errorf("template_body: addons %v", p.planned["addons"])
	}
}

func TestEKSClusterAddons_Versions(t *testing.T) {
	state := eksCompleteCluster(map[string]tftypes.Value{"addons": addonsTF(map[string][2]string{
		"vpc-cni": {"v1.21.1-eksbuild.3", ""}, "kube-proxy": {"v1.35.0-eksbuild.2", ""}, "coredns": {"v1.13.2-eksbuild.1", `{"replicaCount":3}`},
	})})
	// Left out: the state's add-ons and versions, no update.
	p := planAccessChange(t, nil, state)
	if got := plannedAddons(t, p.planned["addons"]); got["kube-proxy"] != "v1.35.0-eksbuild.2" || len(got) != 3 || !p.planned["status"].Equal(str("CREATE_COMPLETE")) {
		t.Errorf("left out: %v status %v", got, p.planned["status"])
	}
	// Listed without versions: the state's versions, no update.
	cfg := map[string]tftypes.Value{"addons": addonsTF(map[string][2]string{"vpc-cni": {}, "kube-proxy": {}, "coredns": {"", `{"replicaCount":3}`}})}
	p = planAccessChange(t, cfg, state)
	if got := plannedAddons(t, p.planned["addons"]); got["coredns"] != "v1.13.2-eksbuild.1" || !p.planned["status"].Equal(str("CREATE_COMPLETE")) {
		t.Errorf("listed: %v status %v", got, p.planned["status"])
	}
	// A configuration change updates in place; a new add-on's version is looked up.
	cfg = map[string]tftypes.Value{"addons": addonsTF(map[string][2]string{"vpc-cni": {}, "kube-proxy": {}, "coredns": {"", `{"replicaCount":2}`}, "eks-pod-identity-agent": {}})}
	p = planAccessChange(t, cfg, state)
	if got := plannedAddons(t, p.planned["addons"]); got["coredns"] != "v1.13.2-eksbuild.1" || got["eks-pod-identity-agent"] != "?" || p.planned["status"].IsKnown() || len(p.replace) != 0 {
		t.Errorf("changed: %v status %v replace %v", got, p.planned["status"], p.replace)
	}
	// An upgrade: every version not pinned follows (EKS's default for the new version).
	prior := eksCompleteCluster(map[string]tftypes.Value{"kubernetes_version": str("1.34"), "addons": addonsTF(map[string][2]string{
		"vpc-cni": {"v1.21.1-eksbuild.3", ""}, "kube-proxy": {"v1.34.0-eksbuild.2", ""}})})
	cfg = map[string]tftypes.Value{"addons": addonsTF(map[string][2]string{"vpc-cni": {"v1.20.4-eksbuild.2", ""}, "kube-proxy": {}})}
	p = planAccessChange(t, cfg, prior)
	if got := plannedAddons(t, p.planned["addons"]); got["kube-proxy"] != "?" || got["vpc-cni"] != "v1.20.4-eksbuild.2" || len(p.diags) != 0 {
		t.Errorf("upgrade: %v %v", got, p.diags)
	}
}

func TestEKSClusterAddons_Diagnostics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]tftypes.Value
		attr   *tftypes.AttributePath
		want   string
	}{
		{"unknown add-on", map[string]tftypes.Value{"addons": addonsTF(map[string][2]string{"aws-ebs-csi-driver": {}})},
			tftypes.NewAttributePath().WithAttributeName("addons").WithElementKeyString("aws-ebs-csi-driver"),
			`addons["aws-ebs-csi-driver"]: "aws-ebs-csi-driver" is not an add-on the provider manages; use one of coredns, eks-pod-identity-agent, kube-proxy, vpc-cni.`},
		{"bad version", map[string]tftypes.Value{"addons": addonsTF(map[string][2]string{"vpc-cni": {"1.19", ""}})},
			tftypes.NewAttributePath().WithAttributeName("addons").WithElementKeyString("vpc-cni").WithAttributeName("version"),
			`addons["vpc-cni"].version: "1.19" is not an EKS add-on version such as v1.19.2-eksbuild.1.`},
		{"kube-proxy of another minor", map[string]tftypes.Value{"addons": addonsTF(map[string][2]string{"kube-proxy": {"v1.34.0-eksbuild.2", ""}})},
			tftypes.NewAttributePath().WithAttributeName("addons").WithElementKeyString("kube-proxy").WithAttributeName("version"),
			`addons["kube-proxy"].version: kube-proxy v1.34.0-eksbuild.2 is built for Kubernetes 1.34 and the cluster runs 1.35; use a v1.35.x-eksbuild.N version (or leave version out for EKS's default).`},
		{"configuration not an object", map[string]tftypes.Value{"addons": addonsTF(map[string][2]string{"coredns": {"", "replicaCount: 3"}})},
			tftypes.NewAttributePath().WithAttributeName("addons").WithElementKeyString("coredns").WithAttributeName("configuration_values"),
			`addons["coredns"].configuration_values: must be a JSON object such as {"replicaCount": 3} (use jsonencode).`},
		{"coredns without nodes", map[string]tftypes.Value{"node_count": tftypes.NewValue(tftypes.Number, 0), "addons": addonsTF(map[string][2]string{"coredns": {}})},
			tftypes.NewAttributePath().WithAttributeName("addons").WithElementKeyString("coredns"),
			`addons["coredns"]: the cluster has no nodes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planAccessChange(t, tc.config, nil)
			var errs []*tfprotov6.Diagnostic
			for _, d := range p.diags {
				if d.Severity == tfprotov6.DiagnosticSeverityError {
					errs = append(errs, d)
				}
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Detail, tc.want) || !errs[0].Attribute.Equal(tc.attr) {
				for _, d := range errs {
					t.Logf("%v: %s", d.Attribute, d.Detail)
				}
				t.Fatalf("%d errors, want one on %v containing %q", len(errs), tc.attr, tc.want)
			}
		})
	}
}
