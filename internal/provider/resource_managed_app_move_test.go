package provider

import (
	"context"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// Protocol tests of the move from helm_release (MoveResourceState through the provider's
// protocol 6 server, as the CLI calls it), with hand-written helm_release states of each
// schema version in testdata/TestManagedAppMoveState (see its README).

const helmAddr = "registry.terraform.io/hashicorp/helm"

type moveResult struct {
	state   map[string]tftypes.Value // nil when the move returned no state
	private []byte
	diags   []*tfprotov6.Diagnostic
}

func moveState(t *testing.T, addr, typeName string, version int64, raw []byte) moveResult {
	t.Helper()
	srv, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s := schemas.ResourceSchemas["clusterkit_managed_app"]
	resp, err := srv.MoveResourceState(ctx, &tfprotov6.MoveResourceStateRequest{
		SourceProviderAddress: addr, SourceTypeName: typeName, SourceSchemaVersion: version,
		SourceState: &tfprotov6.RawState{JSON: raw}, TargetTypeName: "clusterkit_managed_app",
	})
	if err != nil {
		t.Fatal(err)
	}
	out := moveResult{diags: resp.Diagnostics, private: resp.TargetPrivate}
	if resp.TargetState != nil {
		v, err := resp.TargetState.Unmarshal(s.ValueType())
		if err != nil {
			t.Fatal(err)
		}
		if err := v.As(&out.state); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func readMoveFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "TestManagedAppMoveState", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// attrString is one attribute of a state as text ("<null>" for null).
func attrString(t *testing.T, st map[string]tftypes.Value, name string) string {
	t.Helper()
	v := st[name]
	if v.IsNull() {
		return "<null>"
	}
	switch {
	case v.Type().Is(tftypes.String):
		var s string
		_ = v.As(&s)
		return s
	case v.Type().Is(tftypes.Number):
		var n big.Float
		_ = v.As(&n)
		return n.Text('f', -1)
	case v.Type().Is(tftypes.Bool):
		var b bool
		_ = v.As(&b)
		if b {
			return "true"
		}
		return "false"
	}
	return v.String()
}

func diagTexts(diags []*tfprotov6.Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(d.Severity.String() + ": " + d.Summary + ": " + d.Detail + "\n")
	}
	return b.String()
}

func TestManagedAppMoveState_V2(t *testing.T) {
	for _, addr := range []string{helmAddr, "registry.opentofu.org/hashicorp/helm"} {
		t.Run(addr, func(t *testing.T) {
			got := moveState(t, addr, "helm_release", 2, readMoveFixture(t, "v2.json"))
			if len(got.diags) != 0 {
				t.Fatalf("diagnostics:\n%s", diagTexts(got.diags))
			}
			want := map[string]string{
				"id": "shop/web", "name": "web", "namespace": "shop", "app": "<null>", "version": "<null>",
				"cluster_connection": "<null>", "status": "deployed", "revision": "3", "chart_version": "0.1.0",
				"app_version": "1.27.0", "installed_at": "2025-12-01T13:00:00Z",
				"wait": "true", "wait_for_jobs": "false", "atomic": "false", "cleanup_on_fail": "false", "skip_crds": "false",
				"dependency_update": "false", "take_ownership": "false", "max_history": "0",
				"installer_image": kube.DefaultInstallerImage, "installer_cluster_admin": "false", "keep_failed_pod": "true",
				"timeouts": "<null>", "repository_username": "<null>", "sensitive_values_version": "<null>", "cluster_issuer": "<null>",
			}
			for name, w := range want {
				if g := attrString(t, got.state, name); g != w {
					t.Errorf("%s = %s, want %s", name, g, w)
				}
			}
			var chart map[string]tftypes.Value
			if err := got.state["chart"].As(&chart); err != nil {
				t.Fatal(err)
			}
			for name, w := range map[string]string{"repository": "https://charts.example.com/stable", "name": "demo", "version": "0.1.0"} {
				if g := attrString(t, chart, name); g != w {
					t.Errorf("chart.%s = %s, want %s", name, g, w)
				}
			}
			// values: the documents in order, as a tuple (what `values = [...]` is in HCL).
			var docs []tftypes.Value
			if err := got.state["values"].As(&docs); err != nil || !got.state["values"].Type().Is(tftypes.Tuple{}) {
				t.Fatalf("values %v is not a tuple (%v)", got.state["values"], err)
			}
			if len(docs) != 2 || attrString(t, map[string]tftypes.Value{"v": docs[0]}, "v") != "replicaCount: 1\n" ||
				attrString(t, map[string]tftypes.Value{"v": docs[1]}, "v") != "replicaCount: 2\n" {
				t.Errorf("values = %v, want the two documents in order", docs)
			}
			var outputs map[string]tftypes.Value
			if err := got.state["outputs"].As(&outputs); err != nil || got.state["outputs"].IsNull() || len(outputs) != 0 {
				t.Errorf("outputs = %v, want an empty map (a custom chart)", got.state["outputs"])
			}
			var private map[string][]byte
			if err := json.Unmarshal(got.private, &private); err != nil || string(private[privateReleaseKey]) != `{"seen":true}` {
				t.Errorf("private state %s, want %s marked seen", got.private, privateReleaseKey)
			}
		})
	}
}

func TestManagedAppMoveState_V1(t *testing.T) {
	got := moveState(t, helmAddr, "helm_release", 1, readMoveFixture(t, "v1.json"))
	if got.state == nil {
		t.Fatalf("no state; diagnostics:\n%s", diagTexts(got.diags))
	}
	for name, w := range map[string]string{
		"id": "backend/api", "revision": "1", "chart_version": "0.2.0", "app_version": "<null>", "installed_at": "2025-12-01T12:00:00Z",
		"atomic": "true", "cleanup_on_fail": "true", "skip_crds": "true", "wait_for_jobs": "true", "max_history": "5",
		"repository_username": "robot", "values": "<null>", "repository_password": "<null>", "sensitive_values": "<null>",
	} {
		if g := attrString(t, got.state, name); g != w {
			t.Errorf("%s = %s, want %s", name, g, w)
		}
	}
	var chart map[string]tftypes.Value
	_ = got.state["chart"].As(&chart)
	if r, n := attrString(t, chart, "repository"), attrString(t, chart, "name"); r != "oci://registry.example.com/charts" || n != "demo" {
		t.Errorf("chart = %s %s, want oci://registry.example.com/charts demo", r, n)
	}
	// helm's timeout of 25 minutes: the operations' timeouts leave helm at least that.
	var to map[string]tftypes.Value
	if err := got.state["timeouts"].As(&to); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"create", "update", "delete"} {
		if g := attrString(t, to, op); g != "27m" {
			t.Errorf("timeouts.%s = %s, want 27m", op, g)
		}
	}
	texts := diagTexts(got.diags)
	for _, w := range []string{
		"WARNING: helm_release values not moved: ",
		"set (image.tag, service.port): write them into a values document",
		"set_sensitive (auth.password): write them into sensitive_values (write-only) and set sensitive_values_version",
		"repository_password: set repository_password (write-only) and repository_password_version",
		"WARNING: helm_release settings without an equivalent: ",
		"the next install or upgrade runs without them: postrender.",
	} {
		if !strings.Contains(texts, w) {
			t.Errorf("diagnostics lack %q:\n%s", w, texts)
		}
	}
	for _, secret := range []string{"hunter2-sensitive", "s3cret-registry-password"} {
		if strings.Contains(texts, secret) {
			t.Errorf("a diagnostic shows a sensitive value:\n%s", texts)
		}
	}
	if len(got.diags) != 2 {
		t.Errorf("%d diagnostics, want the 2 warnings:\n%s", len(got.diags), texts)
	}
}

func TestManagedAppMoveState_V0(t *testing.T) {
	got := moveState(t, helmAddr, "helm_release", 0, readMoveFixture(t, "v0.json"))
	if len(got.diags) != 0 || got.state == nil {
		t.Fatalf("diagnostics:\n%s", diagTexts(got.diags))
	}
	// wait_for_jobs is not in version 0: helm_release's default (false) stands for it.
	for name, w := range map[string]string{
		"id": "legacy/old", "status": "failed", "revision": "7", "app_version": "0.9", "installed_at": "<null>",
		"wait": "false", "wait_for_jobs": "false", "atomic": "false", "dependency_update": "true", "values": "<null>",
		"timeouts": "<null>",
	} {
		if g := attrString(t, got.state, name); g != w {
			t.Errorf("%s = %s, want %s", name, g, w)
		}
	}
	var chart map[string]tftypes.Value
	_ = got.state["chart"].As(&chart)
	if r, n, v := attrString(t, chart, "repository"), attrString(t, chart, "name"), attrString(t, chart, "version"); r != "oci://registry.example.com/charts" || n != "demo" || v != "0.1.0" {
		t.Errorf("chart = %s %s %s, want the oci:// reference split into repository and name", r, n, v)
	}
}

// TestManagedAppMoveState_OtherSources: a source this provider does not move from gets the
// framework's "not supported" error, never a panic or a state.
func TestManagedAppMoveState_OtherSources(t *testing.T) {
	raw := readMoveFixture(t, "v2.json")
	for _, tc := range []struct{ addr, typeName string }{
		{"registry.terraform.io/hashicorp/kubernetes", "kubernetes_manifest"},
		{"registry.terraform.io/example/helm", "helm_release"},
		{helmAddr, "helm_template"},
	} {
		t.Run(tc.addr+"/"+tc.typeName, func(t *testing.T) {
			got := moveState(t, tc.addr, tc.typeName, 2, raw)
			if got.state != nil || len(got.diags) != 1 || got.diags[0].Severity != tfprotov6.DiagnosticSeverityError ||
				got.diags[0].Summary != "Unable to Move Resource State" ||
				!strings.Contains(got.diags[0].Detail, "Source Resource Type: "+tc.typeName) {
				t.Errorf("got state %v, diagnostics:\n%s", got.state, diagTexts(got.diags))
			}
		})
	}
}

// TestManagedAppMoveState_Malformed: each error names what is wrong, and no state is moved.
func TestManagedAppMoveState_Malformed(t *testing.T) {
	var base map[string]any
	if err := json.Unmarshal(readMoveFixture(t, "v2.json"), &base); err != nil {
		t.Fatal(err)
	}
	with := func(changes map[string]any) []byte {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		b, _ := json.Marshal(m)
		return b
	}
	for _, tc := range []struct {
		name    string
		version int64
		raw     []byte
		want    string
	}{
		{"not an object", 2, []byte(`["web"]`), "The helm_release state (schema version 2) is malformed: it is not a JSON object."},
		{"no JSON", 2, nil, "has no JSON data"},
		{"name a number", 2, with(map[string]any{"name": 7}), "malformed: name is not a string."},
		{"no chart", 2, with(map[string]any{"chart": nil}), "malformed: chart is missing."},
		{"values a map", 2, with(map[string]any{"values": map[string]any{"a": "b"}}), "malformed: values is not a list of strings."},
		{"metadata a list in version 2", 2, with(map[string]any{"metadata": []any{base["metadata"]}}), "malformed: metadata is not an object (schema version 2)."},
		{"metadata an object in version 1", 1, with(map[string]any{"metadata": base["metadata"]}), "malformed: metadata is not a list of one object (schema versions 0 and 1)."},
		{"revision a string", 2, with(map[string]any{"metadata": map[string]any{"revision": "three"}}), "malformed: metadata.revision is not a number."},
		{"two errors", 2, with(map[string]any{"wait": "yes", "timeout": 1.5}), "malformed: timeout is not a whole number (1.5); wait is not a boolean."},
		{"set entry without a name", 2, with(map[string]any{"set": []any{map[string]any{"value": "1"}}}), "malformed: set[0] has no name."},
		{"schema version 3", 3, with(nil), "The helm_release state has schema version 3; this provider knows versions 0 to 2"},
		{"bad release name", 2, with(map[string]any{"name": "Web_App"}), `helm_release name: "Web_App" is not a DNS-1123 label`},
		{"the install namespace", 2, with(map[string]any{"namespace": kube.DefaultInstallNamespace}), "helm_release namespace: \"" + kube.DefaultInstallNamespace + "\" is the install namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := moveState(t, helmAddr, "helm_release", tc.version, tc.raw)
			if got.state != nil || len(got.diags) != 1 || got.diags[0].Severity != tfprotov6.DiagnosticSeverityError ||
				got.diags[0].Summary != "Cannot move helm_release to clusterkit_managed_app" || !strings.Contains(got.diags[0].Detail, tc.want) {
				t.Errorf("want one error saying %q; got state %v, diagnostics:\n%s", tc.want, got.state != nil, diagTexts(got.diags))
			}
		})
	}
}

// TestManagedAppMoveState_ChartNotMoved: a chart clusterkit cannot install from (a local
// path, a chart of a `helm repo add` repository) is left out with a warning; the rest moves.
func TestManagedAppMoveState_ChartNotMoved(t *testing.T) {
	var base map[string]any
	if err := json.Unmarshal(readMoveFixture(t, "v2.json"), &base); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ chart, repository, want string }{
		{"./charts/web", "", "without a repository it is a local path"},
		{"bitnami/nginx", "", "without a repository it is a local path, a chart archive URL or a chart of a repository added with `helm repo add`"},
		{"web", "file:///charts", `the repository: "file:///charts" is not an https:// chart repository URL`},
	} {
		t.Run(tc.chart, func(t *testing.T) {
			base["chart"], base["repository"] = tc.chart, tc.repository
			if tc.repository == "" {
				base["repository"] = nil
			}
			raw, _ := json.Marshal(base)
			got := moveState(t, helmAddr, "helm_release", 2, raw)
			if got.state == nil || len(got.diags) != 1 || got.diags[0].Severity != tfprotov6.DiagnosticSeverityWarning ||
				got.diags[0].Summary != "helm_release chart not moved" || !strings.Contains(got.diags[0].Detail, tc.want) {
				t.Fatalf("want a state and one warning saying %q; diagnostics:\n%s", tc.want, diagTexts(got.diags))
			}
			if g := attrString(t, got.state, "chart"); g != "<null>" {
				t.Errorf("chart = %s, want null", g)
			}
			if g := attrString(t, got.state, "chart_version"); g != "0.1.0" {
				t.Errorf("chart_version = %s, want 0.1.0 (from helm's record)", g)
			}
		})
	}
}

// TestManagedAppMoveState_RealHelmProviderState: a state hashicorp/helm 3.1.2 wrote itself
// (see testdata/TestManagedAppMoveState/README.md) moves as the hand-written ones do.
func TestManagedAppMoveState_RealHelmProviderState(t *testing.T) {
	got := moveState(t, helmAddr, "helm_release", 2, readMoveFixture(t, "real-v2.json"))
	if got.state == nil {
		t.Fatalf("no state; diagnostics:\n%s", diagTexts(got.diags))
	}
	for name, w := range map[string]string{
		"id": "real-moved/real-moved", "name": "real-moved", "namespace": "real-moved", "status": "deployed", "revision": "1",
		"chart_version": "0.1.0", "app_version": "1.0.0", "installed_at": "2026-12-01T18:24:51Z",
		"wait": "true", "atomic": "false", "cleanup_on_fail": "false", "max_history": "0", "timeouts": "<null>",
	} {
		if g := attrString(t, got.state, name); g != w {
			t.Errorf("%s = %s, want %s", name, g, w)
		}
	}
	var chart map[string]tftypes.Value
	_ = got.state["chart"].As(&chart)
	if r, n := attrString(t, chart, "repository"), attrString(t, chart, "name"); r != "https://127.0.0.1:45435/public" || n != "demo" {
		t.Errorf("chart = %s %s, want the stack's repository and demo", r, n)
	}
	var docs []tftypes.Value
	_ = got.state["values"].As(&docs)
	if len(docs) != 2 || attrString(t, map[string]tftypes.Value{"v": docs[0]}, "v") != "\"replicaCount\": 1\n" {
		t.Errorf("values = %v, want yamlencode's two documents", docs)
	}
	texts := diagTexts(got.diags)
	for _, w := range []string{"- set (podLabels.tier): write them into a values document",
		"WARNING: helm_release repository_ca_file not moved: helm_release trusted the repository's CA from the file /tmp/wt-move/.stack/pki/ca.crt " +
			"on the machine that ran Terraform, which the install pods in the cluster cannot read. Set repository_ca_cert to the certificate itself (PEM), " +
			`e.g. repository_ca_cert = file("/tmp/wt-move/.stack/pki/ca.crt"); without it helm in the install pod does not trust the repository.`} {
		if !strings.Contains(texts, w) {
			t.Errorf("diagnostics lack %q:\n%s", w, texts)
		}
	}
	if len(got.diags) != 2 {
		t.Errorf("%d diagnostics, want 2 warnings:\n%s", len(got.diags), texts)
	}
}

// TestManagedAppMoveState_VerifyAndRunnerFiles: verify moves; helm_release's keyring and
// repository_ca_file are paths on the machine that ran Terraform, which the install pods
// cannot read: not moved, each with a warning that names the file and the attribute that
// takes its content. verify = false says nothing of the keyring (helm_release always has
// one, its default path).
func TestManagedAppMoveState_VerifyAndRunnerFiles(t *testing.T) {
	var base map[string]any
	if err := json.Unmarshal(readMoveFixture(t, "v2.json"), &base); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		changes map[string]any
		verify  string
		want    []string
	}{
		{"verify with a keyring", map[string]any{"verify": true, "keyring": "/home/ci/.gnupg/signers.gpg"}, "true", []string{
			"WARNING: helm_release keyring not moved: verify = true is moved, but helm_release's keyring is a file on the machine that ran Terraform " +
				"(/home/ci/.gnupg/signers.gpg), which the install pods in the cluster cannot read. Set keyring to the signers' public keys, ASCII-armored, " +
				`e.g. keyring = file("chart-signers.asc") after ` + "`gpg --no-default-keyring --keyring /home/ci/.gnupg/signers.gpg --export --armor > chart-signers.asc`" +
				": verify = true without keyring is refused at plan time.\n"}},
		{"verify with helm's default keyring", map[string]any{"verify": true, "keyring": ""}, "true", []string{
			"(~/.gnupg/pubring.gpg), which the install pods"}},
		{"no verify", map[string]any{"verify": false, "keyring": "/root/.gnupg/pubring.gpg"}, "<null>", nil},
		{"a CA file", map[string]any{"repository_ca_file": "/etc/ssl/repo-ca.pem", "repository_cert_file": "/etc/ssl/client.pem"}, "<null>", []string{
			"WARNING: helm_release repository_ca_file not moved: helm_release trusted the repository's CA from the file /etc/ssl/repo-ca.pem",
			`Set repository_ca_cert to the certificate itself (PEM), e.g. repository_ca_cert = file("/etc/ssl/repo-ca.pem")`,
			// A client certificate still has no equivalent.
			"WARNING: helm_release settings without an equivalent: clusterkit_managed_app has no equivalent of these helm_release settings, " +
				"so the next install or upgrade runs without them: repository_cert_file.\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]any{}
			for k, v := range base {
				m[k] = v
			}
			for k, v := range tc.changes {
				m[k] = v
			}
			raw, _ := json.Marshal(m)
			got := moveState(t, helmAddr, "helm_release", 2, raw)
			if got.state == nil {
				t.Fatalf("no state; diagnostics:\n%s", diagTexts(got.diags))
			}
			if g := attrString(t, got.state, "verify"); g != tc.verify {
				t.Errorf("verify = %s, want %s", g, tc.verify)
			}
			for _, a := range []string{"keyring", "repository_ca_cert"} {
				if g := attrString(t, got.state, a); g != "<null>" {
					t.Errorf("%s = %s, want null (the state holds only the file's path)", a, g)
				}
			}
			texts := diagTexts(got.diags)
			for _, w := range tc.want {
				if !strings.Contains(texts, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, texts)
				}
			}
			if tc.want == nil && len(got.diags) != 0 {
				t.Errorf("diagnostics:\n%s", texts)
			}
			for _, d := range got.diags {
				if d.Severity != tfprotov6.DiagnosticSeverityWarning {
					t.Errorf("not a warning: %s", d.Summary)
				}
			}
		})
	}
}
