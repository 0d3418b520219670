package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// listServer is a protocol server configured for the local stack (local addresses
// allowed unless refuse).
func listServer(t *testing.T, allowLocal bool) tfprotov6.ProviderServer {
	t.Helper()
	srv := newTestServer(t)
	resp, err := srv.ConfigureProvider(context.Background(), &tfprotov6.ConfigureProviderRequest{Config: providerConfig(t, srv, map[string]tftypes.Value{
		"allow_local_requests": tftypes.NewValue(tftypes.Bool, allowLocal),
	}, nil)})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("configure: %v %q", err, diagStrings(resp.Diagnostics))
	}
	return srv
}

var (
	listEKSConnType = tftypes.Object{AttributeTypes: map[string]tftypes.Type{
		"region": tftypes.String, "cluster_name": tftypes.String, "role_arn": tftypes.String, "external_id": tftypes.String, "session_name": tftypes.String,
	}}
	listConnType = tftypes.Object{AttributeTypes: map[string]tftypes.Type{
		"host": tftypes.String, "cluster_ca_certificate": tftypes.String, "token": tftypes.String, "eks": listEKSConnType,
	}}
)

// listConnection is a cluster_connection value with a static token ("" for none).
func listConnection(host, ca, token string) tftypes.Value {
	tok := tftypes.NewValue(tftypes.String, nil)
	if token != "" {
		tok = str(token)
	}
	return tftypes.NewValue(listConnType, map[string]tftypes.Value{
		"host": str(host), "cluster_ca_certificate": str(ca), "token": tok, "eks": tftypes.NewValue(listEKSConnType, nil),
	})
}

// TestProtocolListManagedApp_Releases: a release the helm binary installed (not
// clusterkit), a record as clusterkit's install pod leaves it for a catalog app, and an
// uninstalled release with kept history, in two namespaces. The list of those namespaces
// gives the first two, sorted, with identities, display names and the attributes that
// adopt them; no token anywhere. Then every namespace, the limit, and bad configurations.
func TestProtocolListManagedApp_Releases(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	const nsHelm, nsCatalog = "ck-list-helm-ns", "ck-list-cat-ns"
	deleteNamespaceAtEnd(t, cs, nsHelm)
	deleteNamespaceAtEnd(t, cs, nsCatalog)
	helmInstall(t, nsHelm, "ck-list-helm", "--set", "message=from-helm")

	// The catalog app's record: its default values under the user's (clusterkit passes both).
	ingress, _ := apps.Lookup("ingress-nginx")
	merged, err := mergeValues(ingress.DefaultValues, "controller:\n  replicaCount: 3\n")
	if err != nil {
		t.Fatal(err)
	}
	catalogValues, err := yaml.YAMLToJSON([]byte(merged))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsCatalog}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []kube.Release{
		{Name: "edge", Namespace: nsCatalog, Revision: 2, ChartName: "ingress-nginx", ChartVersion: ingress.Version, AppVersion: "1.13.3", Values: catalogValues},
		{Name: "old", Namespace: nsCatalog, Revision: 1, Status: kube.ReleaseUninstalled, ChartName: "demo", ChartVersion: "0.1.0"},
		{Name: "ck-list-secret", Namespace: nsCatalog, Revision: 1, ChartName: "demo", ChartVersion: "0.1.0", Values: []byte(`{"password":"s3cret-from-sensitive-values"}`)},
	} {
		if _, err := cs.CoreV1().Secrets(nsCatalog).Create(context.Background(), kube.EncodeReleaseSecret(rel), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// ck-list-secret was installed by clusterkit with sensitive_values: its values Secret
	// is in the install namespace, and helm's record holds them merged.
	ensureNamespace(t, cs, kube.DefaultInstallNamespace)
	valuesSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: kube.ValuesSecretName("ck-list-secret"), Namespace: kube.DefaultInstallNamespace,
		Labels: map[string]string{kube.LabelManagedBy: kube.ManagedByValue, kube.LabelApp: "ck-list-secret"}},
		Data: map[string][]byte{kube.SecretValuesFile: []byte("password: s3cret-from-sensitive-values\n")}}
	if _, err := cs.CoreV1().Secrets(kube.DefaultInstallNamespace).Create(context.Background(), valuesSecret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Secrets(kube.DefaultInstallNamespace).Delete(context.Background(), valuesSecret.Name, metav1.DeleteOptions{})
	})
	srv := listServer(t, true)
	conn := listConnection(s.Host, s.CAPEM, s.Token)
	both := map[string]tftypes.Value{"cluster_connection": conn, "namespaces": strList(nsHelm, nsCatalog)}

	t.Run("namespaces, with resource", func(t *testing.T) {
		diags, got := callList(t, srv, "clusterkit_managed_app", both, true, 100)
		if len(diags) > 0 || len(got) != 3 {
			t.Fatalf("validation %q, %d results %+v, want 3", diags, len(got), got)
		}
		// The one with sensitive values: listed, its values not, and a warning that says so.
		secret := got[0]
		if secret.display != nsCatalog+"/ck-list-secret: demo 0.1.0, deployed (revision 1)" || !secret.resource["values"].IsNull() ||
			len(secret.diags) != 1 || !strings.HasPrefix(secret.diags[0], "Values not listed | Release "+nsCatalog+"/ck-list-secret: clusterkit installed it with sensitive_values") {
			t.Errorf("release with sensitive values: %q, values %s, diagnostics %q", secret.display, secret.resource["values"], secret.diags)
		}
		for _, v := range secret.resource {
			if strings.Contains(v.String(), "s3cret-from-sensitive-values") {
				t.Error("a result holds a sensitive value")
			}
		}
		got = got[1:]
		wantDisplay := []string{
			nsCatalog + "/edge: ingress-nginx " + ingress.Version + ", deployed (revision 2)",
			nsHelm + "/ck-list-helm: demo " + chartsrc.DemoVersion + ", deployed (revision 1)",
		}
		for i, r := range got {
			if len(r.diags) > 0 {
				t.Errorf("result %d: diagnostics %q", i, r.diags)
			}
			if r.display != wantDisplay[i] {
				t.Errorf("result %d: display name %q, want %q", i, r.display, wantDisplay[i])
			}
		}
		if want := map[string]string{"host": s.Host, "namespace": nsCatalog, "name": "edge"}; !sameStrings(got[0].identity, want) {
			t.Errorf("identity %v, want %v", got[0].identity, want)
		}
		if want := map[string]string{"host": s.Host, "namespace": nsHelm, "name": "ck-list-helm"}; !sameStrings(got[1].identity, want) {
			t.Errorf("identity %v, want %v", got[1].identity, want)
		}

		// The catalog app: app, no version (the pinned one), all of helm's values.
		edge := got[0].resource
		for attr, want := range map[string]string{
			"id": nsCatalog + "/edge", "name": "edge", "namespace": nsCatalog, "app": "ingress-nginx", "version": "<null>",
			"status": "deployed", "chart_version": ingress.Version, "app_version": "1.13.3",
		} {
			if got := tfString(t, edge[attr]); got != want {
				t.Errorf("edge: %s = %q, want %q", attr, got, want)
			}
		}
		if !edge["chart"].IsNull() {
			t.Errorf("edge: chart %s, want null beside app", edge["chart"])
		}
		if v := dynamicString(t, edge["values"]); !sameValues(v, catalogValues) {
			t.Errorf("edge: values %q, want helm's %s", v, catalogValues)
		}

		// The release helm installed: the chart by name and version (helm does not record
		// the repository), the values given to helm.
		helm := got[1].resource
		for attr, want := range map[string]string{
			"id": nsHelm + "/ck-list-helm", "name": "ck-list-helm", "namespace": nsHelm, "app": "<null>", "status": "deployed",
			"chart_version": chartsrc.DemoVersion,
		} {
			if got := tfString(t, helm[attr]); got != want {
				t.Errorf("helm: %s = %q, want %q", attr, got, want)
			}
		}
		var chart map[string]tftypes.Value
		if err := helm["chart"].As(&chart); err != nil {
			t.Fatal(err)
		}
		if tfString(t, chart["repository"]) != "<null>" || tfString(t, chart["name"]) != "demo" || tfString(t, chart["version"]) != chartsrc.DemoVersion {
			t.Errorf("helm: chart %s", helm["chart"])
		}
		if v := dynamicString(t, helm["values"]); v != "message: from-helm\n" {
			t.Errorf("helm: values %q", v)
		}
		if !helm["revision"].Equal(tftypes.NewValue(tftypes.Number, 1)) {
			t.Errorf("helm: revision %s", helm["revision"])
		}

		// The connection comes back without its token.
		for _, r := range got {
			var c map[string]tftypes.Value
			if err := r.resource["cluster_connection"].As(&c); err != nil {
				t.Fatal(err)
			}
			if tfString(t, c["host"]) != s.Host || tfString(t, c["cluster_ca_certificate"]) != s.CAPEM || !c["token"].IsNull() {
				t.Errorf("%s: cluster_connection %s", r.display, r.resource["cluster_connection"])
			}
			for _, v := range r.resource {
				if strings.Contains(v.String(), s.Token) {
					t.Errorf("%s: a result holds the token", r.display)
				}
			}
		}
	})

	t.Run("every namespace, limit", func(t *testing.T) {
		_, all := callList(t, srv, "clusterkit_managed_app", map[string]tftypes.Value{"cluster_connection": conn}, false, 1000)
		var ours []string
		for _, r := range all {
			if r.resource != nil {
				t.Errorf("%s: a resource without include_resource", r.display)
			}
			if ns := r.identity["namespace"]; ns == nsHelm || ns == nsCatalog {
				ours = append(ours, ns+"/"+r.identity["name"])
			}
		}
		if strings.Join(ours, " ") != nsCatalog+"/ck-list-secret "+nsCatalog+"/edge "+nsHelm+"/ck-list-helm" {
			t.Errorf("every namespace: ours %q of %d results", ours, len(all))
		}
		_, one := callList(t, srv, "clusterkit_managed_app", both, false, 1)
		if len(one) != 1 || one[0].identity["name"] != "ck-list-secret" {
			t.Errorf("limit 1: %+v", one)
		}
	})

	t.Run("bad configuration", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			attrs map[string]tftypes.Value
			want  string
		}{
			{"no credential", map[string]tftypes.Value{"cluster_connection": listConnection(s.Host, s.CAPEM, "")},
				"Incomplete cluster_connection | Either token or eks must be set."},
			{"bad namespace", map[string]tftypes.Value{"cluster_connection": conn, "namespaces": strList("Not_A_Label")},
				`"Not_A_Label" is not a DNS-1123 label`},
		} {
			diags, _ := callList(t, srv, "clusterkit_managed_app", tc.attrs, false, 10)
			if len(diags) != 1 || !strings.Contains(diags[0], tc.want) {
				t.Errorf("%s: validation %q, want %q", tc.name, diags, tc.want)
			}
		}
		// A local host without allow_local_requests: refused before any connection.
		_, got := callList(t, listServer(t, false), "clusterkit_managed_app", both, false, 10)
		if len(got) != 1 || len(got[0].diags) != 1 || !strings.HasPrefix(got[0].diags[0], "Cluster URL refused | ") || got[0].identity != nil {
			t.Errorf("local host: %+v", got)
		}
		// A token the API server rejects: one error, without the token.
		_, got = callList(t, srv, "clusterkit_managed_app", map[string]tftypes.Value{
			"cluster_connection": listConnection(s.Host, s.CAPEM, "not-a-valid-token"), "namespaces": strList(nsHelm),
		}, false, 10)
		if len(got) != 1 || len(got[0].diags) != 1 || !strings.HasPrefix(got[0].diags[0], "Listing helm releases failed | ") ||
			strings.Contains(got[0].diags[0], "not-a-valid-token") {
			t.Errorf("bad token: %+v", got)
		}
	})
}

// dynamicString is a dynamic value holding a string ("" for null).
func dynamicString(t *testing.T, v tftypes.Value) string {
	t.Helper()
	if v.IsNull() {
		return ""
	}
	var s string
	if err := v.As(&s); err != nil {
		t.Fatalf("values %s: %v", v, err)
	}
	return s
}

// ensureNamespace creates ns unless it exists (the install namespace other tests share).
func ensureNamespace(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}
