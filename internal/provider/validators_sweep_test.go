package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// Bad input is checked through the provider's protocol server, as Terraform sends it, so
// everything that validates a config (attribute validators, config validators,
// ValidateConfig) is counted together: one diagnostic per problem, in the user's words,
// never a sensitive value.

// goWords are fragments of Go's and the framework's vocabulary that users must not see.
var goWords = []string{"Go value", "interface {}", "map[string]", "tftypes", "basetypes", "types.String", "[]string", "unmarshal"}

// sweepCase is one bad value of one attribute (others stay null).
type sweepCase struct {
	name      string
	kind      string // "resource" or "provider"
	typeName  string // resource type; "" for the provider
	attrs     map[string]tftypes.Value
	wantDiags int
	mustSay   string // a fragment the one diagnostic must hold
	secret    string // a value that must appear nowhere ("" when none)
}

func str(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }

func TestValidation_OneDiagnosticPerProblemInUsersWords(t *testing.T) {
	ctx := context.Background()
	srv, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || len(schemas.Diagnostics) > 0 {
		t.Fatalf("schema: %v %v", err, schemas.Diagnostics)
	}
	for _, tc := range []sweepCase{
		{name: "eks name empty", typeName: "clusterkit_eks_cluster", attrs: map[string]tftypes.Value{"name": str("")}, wantDiags: 1, mustSay: "name"},
		{name: "eks name with a bad first character", typeName: "clusterkit_eks_cluster", attrs: map[string]tftypes.Value{"name": str("9-cluster")}, wantDiags: 1, mustSay: "letter"},
		{name: "eks region", typeName: "clusterkit_eks_cluster", attrs: map[string]tftypes.Value{"region": str("mars")}, wantDiags: 1, mustSay: "AWS region"},
		{name: "eks external id", typeName: "clusterkit_eks_cluster", attrs: map[string]tftypes.Value{"external_id": str("Z")}, wantDiags: 1, mustSay: "external_id", secret: "Z"},
		{name: "eks external id with a bad character", typeName: "clusterkit_eks_cluster", attrs: map[string]tftypes.Value{"external_id": str("s3cr3t value!")}, wantDiags: 1, mustSay: "external_id", secret: "s3cr3t value!"},
		{name: "eks kubernetes version unknown", typeName: "clusterkit_eks_cluster", attrs: map[string]tftypes.Value{"kubernetes_version": str("1.99")}, wantDiags: 1, mustSay: "kubernetes_version 1.99 is not a version EKS offers: choose one of "},
		{name: "eks kubernetes version with a patch number", typeName: "clusterkit_eks_cluster", attrs: map[string]tftypes.Value{"kubernetes_version": str("1.35.1")}, wantDiags: 1, mustSay: "kubernetes_version must be a Kubernetes minor version such as 1.33, without a patch number"},
		{name: "integration token empty", typeName: "clusterkit_cluster_integration", attrs: map[string]tftypes.Value{"token": str("")}, wantDiags: 1, mustSay: "token"},
		{name: "integration host", typeName: "clusterkit_cluster_integration", attrs: map[string]tftypes.Value{"host": str("ftp://k8s.example.com")}, wantDiags: 1, mustSay: "host"},
		{name: "integration CA", typeName: "clusterkit_cluster_integration", attrs: map[string]tftypes.Value{"cluster_ca_certificate": str("not a pem")}, wantDiags: 1, mustSay: "PEM"},
		{name: "managed app values not a mapping", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "values": str("- a\n- b\n")}, wantDiags: 1, mustSay: "values"},
		{name: "managed app sensitive values not a mapping", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "sensitive_values": str("[hunter2-in-a-list]")}, wantDiags: 1, mustSay: "sensitive_values", secret: "hunter2-in-a-list"},
		{name: "managed app repository username", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "repository_username": str("a:b"), "repository_password": str("pw")}, wantDiags: 1, mustSay: "repository_username"},
		{name: "managed app repository username empty", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "repository_username": str(""), "repository_password": str("pw")}, wantDiags: 1, mustSay: "repository_username"},
		{name: "managed app release namespace", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "namespace": str("Not_A_Label")}, wantDiags: 1, mustSay: "namespace"},
		{name: "eks tag key empty", typeName: "clusterkit_eks_cluster", attrs: map[string]tftypes.Value{"tags": tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, map[string]tftypes.Value{"": str("v")})}, wantDiags: 1, mustSay: "tags"},
		{name: "eks tag key reserved", typeName: "clusterkit_eks_cluster", attrs: map[string]tftypes.Value{"tags": tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, map[string]tftypes.Value{"aws:x": str("v")})}, wantDiags: 1, mustSay: "aws:"},
		{name: "integration namespace name", typeName: "clusterkit_cluster_integration", attrs: map[string]tftypes.Value{"namespaces": tftypes.NewValue(tftypes.Map{ElementType: namespaceElemType(t, schemas)}, map[string]tftypes.Value{"kube-system": tftypes.NewValue(namespaceElemType(t, schemas), nil)})}, wantDiags: 1, mustSay: "kube-system"},
		{name: "managed app node selector", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "installer_node_selector": strMap(map[string]string{"pool": "a b"})}, wantDiags: 1, mustSay: `installer_node_selector must be node labels (label keys and values): node label "pool" has an invalid value "a b"`},
		{name: "managed app toleration operator", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "installer_tolerations": tolerations(t, schemas,
			map[string]tftypes.Value{"key": str("dedicated"), "operator": str("Exists")}, map[string]tftypes.Value{"key": str("dedicated"), "operator": str("equal")})}, wantDiags: 1,
			mustSay: `installer_tolerations[1] must be tolerations Kubernetes accepts: operator "equal" must be "Equal" or "Exists".`},
		{name: "managed app toleration seconds without NoExecute", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "installer_tolerations": tolerations(t, schemas,
			map[string]tftypes.Value{"key": str("dedicated"), "effect": str("NoSchedule"), "toleration_seconds": tftypes.NewValue(tftypes.Number, 30)})}, wantDiags: 1,
			mustSay: `installer_tolerations[0] must be tolerations Kubernetes accepts: toleration_seconds needs effect "NoExecute"`},
		{name: "managed app affinity unknown field", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "installer_affinity": str("nodeAfinity: {}\n")}, wantDiags: 1, mustSay: `unknown field "nodeAfinity"`},
		{name: "managed app affinity wrong type", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "installer_affinity": str(`{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":{}}}}`)}, wantDiags: 1, mustSay: "nodeSelectorTerms must be a list, not a mapping"},
		{name: "managed app priority class", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "installer_priority_class_name": str("High")}, wantDiags: 1, mustSay: "installer_priority_class_name"},
		{name: "managed app resources limit below the default request", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "installer_resources": resources(t, schemas, nil, map[string]string{"memory": "64Mi"})}, wantDiags: 1,
			mustSay: "installer_resources must be requests and limits of cpu, memory or ephemeral-storage: the default requests.memory 128Mi is more than limits.memory 64Mi: set requests.memory too."},
		{name: "managed app resources quantity", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "installer_resources": resources(t, schemas, map[string]string{"cpu": "fast"}, nil)}, wantDiags: 1, mustSay: `requests.cpu "fast" is not a quantity`},
		{name: "managed app pull secret", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "installer_image_pull_secrets": strList("mirror", "Mirror Pull")}, wantDiags: 1, mustSay: `installer_image_pull_secrets[1] must be Secret names, each once: "Mirror Pull" is not a Secret name`},
		{name: "managed app pull secret twice", typeName: "clusterkit_managed_app", attrs: map[string]tftypes.Value{"app": str("cert-manager"), "installer_image_pull_secrets": strList("mirror", "mirror")}, wantDiags: 1, mustSay: `"mirror" is listed twice`},
		{name: "provider region", kind: "provider", attrs: map[string]tftypes.Value{"region": str("mars")}, wantDiags: 1, mustSay: "AWS region"},
		{name: "provider short access key", kind: "provider", attrs: map[string]tftypes.Value{"access_key": str("AKIASHORT"), "secret_key": str("abc")}, wantDiags: 1, mustSay: "access_key", secret: "AKIASHORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var diags []*tfprotov6.Diagnostic
			if tc.kind == "provider" {
				cfg := sweepConfig(t, schemas.Provider, tc.attrs)
				resp, err := srv.ValidateProviderConfig(ctx, &tfprotov6.ValidateProviderConfigRequest{Config: cfg})
				if err != nil {
					t.Fatal(err)
				}
				diags = resp.Diagnostics
			} else {
				s, ok := schemas.ResourceSchemas[tc.typeName]
				if !ok {
					t.Fatalf("no resource %s", tc.typeName)
				}
				resp, err := srv.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: tc.typeName, Config: sweepConfig(t, s, tc.attrs),
					ClientCapabilities: &tfprotov6.ValidateResourceConfigClientCapabilities{WriteOnlyAttributesAllowed: true}})
				if err != nil {
					t.Fatal(err)
				}
				diags = resp.Diagnostics
			}
			var texts []string
			var kept []*tfprotov6.Diagnostic
			for _, d := range diags {
				// The attributes left null (required ones are reported missing) are not the
				// case's business; diagnostics without an attribute all count.
				if d.Attribute != nil && len(d.Attribute.Steps()) > 0 {
					if step, ok := d.Attribute.Steps()[0].(tftypes.AttributeName); ok && tc.attrs[string(step)].Type() == nil {
						continue
					}
				}
				kept = append(kept, d)
				texts = append(texts, d.Summary+": "+d.Detail)
			}
			diags = kept
			if len(diags) != tc.wantDiags {
				t.Fatalf("%d diagnostics, want %d:\n%s", len(diags), tc.wantDiags, strings.Join(texts, "\n"))
			}
			all := strings.Join(texts, "\n")
			if !strings.Contains(all, tc.mustSay) {
				t.Errorf("diagnostic %q does not say %q", all, tc.mustSay)
			}
			for _, w := range goWords {
				if strings.Contains(all, w) {
					t.Errorf("diagnostic %q holds %q", all, w)
				}
			}
			if tc.secret != "" && strings.Contains(all, tc.secret) {
				t.Errorf("diagnostic %q repeats the sensitive value", all)
			}
		})
	}
}

// sweepConfig is a config of schema with attrs set and every other attribute null.
func sweepConfig(t *testing.T, s *tfprotov6.Schema, attrs map[string]tftypes.Value) *tfprotov6.DynamicValue {
	t.Helper()
	typ := s.ValueType().(tftypes.Object)
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		vals[name] = tftypes.NewValue(at, nil)
	}
	for name, v := range attrs {
		if _, ok := typ.AttributeTypes[name]; !ok {
			t.Fatalf("no attribute %s", name)
		}
		vals[name] = v
	}
	dv, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, vals))
	if err != nil {
		t.Fatal(err)
	}
	return &dv
}

// namespaceElemType is the object type of one cluster_integration namespaces entry.
func namespaceElemType(t *testing.T, schemas *tfprotov6.GetProviderSchemaResponse) tftypes.Type {
	t.Helper()
	typ := schemas.ResourceSchemas["clusterkit_cluster_integration"].ValueType().(tftypes.Object)
	m, ok := typ.AttributeTypes["namespaces"].(tftypes.Map)
	if !ok {
		t.Fatalf("namespaces is %v, not a map", typ.AttributeTypes["namespaces"])
	}
	return m.ElementType
}

func strMap(m map[string]string) tftypes.Value {
	vals := map[string]tftypes.Value{}
	for k, v := range m {
		vals[k] = str(v)
	}
	return tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, vals)
}

func strList(items ...string) tftypes.Value {
	var vals []tftypes.Value
	for _, s := range items {
		vals = append(vals, str(s))
	}
	return tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, vals)
}

// managedAppAttrType is the type of one clusterkit_managed_app attribute.
func managedAppAttrType(t *testing.T, schemas *tfprotov6.GetProviderSchemaResponse, name string) tftypes.Type {
	t.Helper()
	typ, ok := schemas.ResourceSchemas["clusterkit_managed_app"].ValueType().(tftypes.Object).AttributeTypes[name]
	if !ok {
		t.Fatalf("no attribute %s", name)
	}
	return typ
}

// tolerations is an installer_tolerations value; attributes an entry leaves out are null.
func tolerations(t *testing.T, schemas *tfprotov6.GetProviderSchemaResponse, entries ...map[string]tftypes.Value) tftypes.Value {
	t.Helper()
	lt := managedAppAttrType(t, schemas, "installer_tolerations").(tftypes.List)
	et := lt.ElementType.(tftypes.Object)
	var vals []tftypes.Value
	for _, e := range entries {
		obj := map[string]tftypes.Value{}
		for name, at := range et.AttributeTypes {
			obj[name] = tftypes.NewValue(at, nil)
			if v, ok := e[name]; ok {
				obj[name] = v
			}
		}
		vals = append(vals, tftypes.NewValue(et, obj))
	}
	return tftypes.NewValue(lt, vals)
}

// resources is an installer_resources value (nil maps are null).
func resources(t *testing.T, schemas *tfprotov6.GetProviderSchemaResponse, requests, limits map[string]string) tftypes.Value {
	t.Helper()
	ot := managedAppAttrType(t, schemas, "installer_resources").(tftypes.Object)
	obj := map[string]tftypes.Value{}
	for name, m := range map[string]map[string]string{"requests": requests, "limits": limits} {
		obj[name] = tftypes.NewValue(ot.AttributeTypes[name], nil)
		if m != nil {
			obj[name] = strMap(m)
		}
	}
	return tftypes.NewValue(ot, obj)
}
