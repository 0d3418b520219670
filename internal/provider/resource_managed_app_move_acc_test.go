package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// TestAccManagedApp_MovedFromHelmRelease: `moved { from = helm_release.web  to =
// clusterkit_managed_app.web }` on a release that exists in the local stack. The release is
// installed first (by clusterkit through the CLI, with the switches helm_release uses), then
// the state is replaced by a hand-written helm_release one (testdata, schema version 2)
// describing that very release, as hashicorp/helm would have left it.
//
// Through the CLI: both CLIs need the hashicorp/helm provider installed to plan the move
// (the state names it), and it cannot be installed offline, so the test asserts exactly
// that refusal, which the migration guide documents (keep hashicorp/helm in
// required_providers until the move is applied):
//   - Terraform 1.11 refuses before planning: "Missing required provider".
//   - OpenTofu 1.12 calls MoveResourceState and plans, then loads the schemas of every
//     provider of the prior state to check the apply graph: "Failed to load plugin schemas".
//
// Then in process, through the provider's protocol server, what the CLI does after the
// move, on the same release (a protocol test, named so): MoveResourceState, ReadResource,
// PlanResourceChange with main.tf's configuration, ApplyResourceChange, and a second plan.
// The plan adopts the release in place: no replacement, and its only change is
// cluster_connection, which helm_release never had in state: the release runs the
// configured chart, version and values, so, as after an import, the apply records it
// without an install pod (helm's revision stays 1, the same Deployment); the next plan is
// empty.
func TestAccManagedApp_MovedFromHelmRelease(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	name := "ck-moved"
	deleteNamespaceAtEnd(t, cs, name)
	const addr = "clusterkit_managed_app.web"
	dir := filepath.Join("testdata", "TestAccManagedApp_MovedFromHelmRelease")
	cfg, err := os.ReadFile(filepath.Join(dir, "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	repo := os.Getenv("CLUSTERKIT_TEST_CHART_REPO_URL")
	w := newTofuWorkdir(t, string(cfg), "TF_VAR_host="+s.Host, "TF_VAR_ca="+s.CAPEM, "TF_VAR_token="+s.Token, "TF_VAR_name="+name,
		"TF_VAR_chart_mirrors="+os.Getenv("CLUSTERKIT_TEST_CHART_MIRRORS"), "TF_VAR_chart_repo="+repo)
	statePath := filepath.Join(w.dir, "terraform.tfstate")
	var clusterkitState []byte // the state before the swap, for the cleanup under Terraform
	t.Cleanup(func() {
		if clusterkitState != nil {
			if err := os.WriteFile(statePath, clusterkitState, 0o600); err != nil {
				t.Error(err)
			}
			_ = os.Remove(filepath.Join(w.dir, "moved.tf"))
		}
		if _, err := w.run(context.Background(), "destroy", "-auto-approve"); err != nil {
			t.Errorf("destroy: %v", err)
		}
		if err := expectChartGone(cs, name, name); err != nil {
			t.Error(err)
		}
	})

	start := time.Now()
	if _, err := w.run(ctx, "apply", "-auto-approve"); err != nil {
		t.Fatal(err)
	}
	t.Logf("install took %s", time.Since(start).Round(100*time.Millisecond))
	rel, err := kube.NewClientForInterface(cs).FindRelease(ctx, name, name)
	if err != nil || rel == nil || rel.Revision != 1 || rel.Status != kube.ReleaseDeployed {
		t.Fatalf("helm's release after the install: %+v (%v), want revision 1 deployed", rel, err)
	}
	deployment := name + "-demo"
	before, err := cs.AppsV1().Deployments(name).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The values documents as the configuration gives them, which helm_release keeps as they are.
	docs, _ := w.state(ctx, t)[addr].(map[string]any)["values"].([]any)
	if len(docs) != 2 {
		t.Fatalf("values in state: %v, want the two documents", docs)
	}

	// Swap the state: the same release, as helm_release describes it.
	if clusterkitState, err = os.ReadFile(statePath); err != nil {
		t.Fatal(err)
	}
	var prior struct {
		Serial  int    `json:"serial"`
		Lineage string `json:"lineage"`
	}
	if err := json.Unmarshal(clusterkitState, &prior); err != nil {
		t.Fatal(err)
	}
	valuesJSON, _ := json.Marshal(map[string]any{"replicaCount": 1, "podAnnotations": map[string]string{"example.com/moved": "from-helm-release"}})
	tmpl, err := template.New("helm_release.tfstate.tmpl").Funcs(template.FuncMap{"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}}).ParseFiles(filepath.Join(dir, "helm_release.tfstate.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	appVersion := rel.AppVersion
	var helmState bytes.Buffer
	if err := tmpl.Execute(&helmState, map[string]any{
		"Serial": prior.Serial + 1, "Lineage": prior.Lineage,
		"Provider": `provider["` + accCLI.ProviderHost + `/hashicorp/helm"]`,
		"Name":     name, "Repository": repo, "ChartVersion": rel.ChartVersion, "AppVersion": appVersion,
		"Revision": rel.Revision, "LastDeployed": rel.LastDeployed.Unix(), "Values": docs, "ValuesJSON": string(valuesJSON),
	}); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(helmState.Bytes()) {
		t.Fatalf("the helm_release state is not JSON:\n%s", helmState.Bytes())
	}
	if err := os.WriteFile(statePath, helmState.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	moved, err := os.ReadFile(filepath.Join(dir, "moved.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "moved.tf"), moved, 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := w.run(ctx, "plan", "-no-color")
	msg := flat(out)
	if err != nil {
		msg = flat([]byte(err.Error()))
	}
	var exit *exec.ExitError
	var want []string
	switch accCLI.Name {
	case "terraform":
		want = []string{"Error: Missing required provider", "This state requires provider registry.terraform.io/hashicorp/helm, but that provider isn't available"}
	case "tofu":
		want = []string{"Error: Failed to load plugin schemas", `failed to instantiate provider "registry.opentofu.org/hashicorp/helm" to obtain schema`}
	default:
		t.Fatalf("no expectation for CLI %s", accCLI)
	}
	for _, w := range want {
		if !errors.As(err, &exit) || !strings.Contains(msg, w) {
			t.Errorf("%s: want the plan refused for the missing hashicorp/helm provider (%q); got %v\n%s", accCLI, w, err, out)
		}
	}
	t.Logf("%s needs hashicorp/helm installed to plan the move: %s", accCLI, want[0])
	if err := os.WriteFile(statePath, clusterkitState, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(w.dir, "moved.tf")); err != nil {
		t.Fatal(err)
	}
	clusterkitState = nil

	// In process: the move and what follows it, through the protocol server.
	var rendered struct {
		Resources []struct {
			Instances []struct {
				SchemaVersion int64           `json:"schema_version"`
				Attributes    json.RawMessage `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(helmState.Bytes(), &rendered); err != nil || len(rendered.Resources) != 1 || len(rendered.Resources[0].Instances) != 1 {
		t.Fatalf("the helm_release state has no one instance: %v", err)
	}
	inst := rendered.Resources[0].Instances[0]
	p := newMoveProtocol(t, s)
	movedState := p.move(t, inst.SchemaVersion, inst.Attributes)
	refreshed, private := p.read(t, movedState.state, movedState.private)
	config := p.object(t, map[string]tftypes.Value{
		"cluster_connection": tftypes.NewValue(p.typ.AttributeTypes["cluster_connection"], map[string]tftypes.Value{
			"host": str(s.Host), "cluster_ca_certificate": str(s.CAPEM), "token": str(s.Token),
			"eks": tftypes.NewValue(p.typ.AttributeTypes["cluster_connection"].(tftypes.Object).AttributeTypes["eks"], nil),
		}),
		"name": str(name), "namespace": str(name),
		"chart":  tftypes.NewValue(p.typ.AttributeTypes["chart"], map[string]tftypes.Value{"repository": str(repo), "name": str("demo"), "version": str(chartsrc.DemoVersion)}),
		"values": tftypes.NewValue(tftypes.Tuple{ElementTypes: []tftypes.Type{tftypes.String, tftypes.String}}, []tftypes.Value{str(docs[0].(string)), str(docs[1].(string))}),
		"atomic": tftypes.NewValue(tftypes.Bool, false), "cleanup_on_fail": tftypes.NewValue(tftypes.Bool, false), "max_history": tftypes.NewValue(tftypes.Number, 0),
	})
	planned, plannedPrivate, requiresReplace := p.plan(t, refreshed, config, private)
	if len(requiresReplace) > 0 {
		t.Errorf("the plan replaces the app (requires_replace %v): the move must adopt the release", requiresReplace)
	}
	if changed, want := changedAttributes(refreshed, planned), []string{"cluster_connection"}; !slices.Equal(changed, want) {
		t.Errorf("the plan changes %v, want only %v", changed, want)
	}
	for k, want := range map[string]string{"id": name + "/" + name, "status": "deployed", "revision": "1", "chart_version": chartsrc.DemoVersion,
		"atomic": "false", "cleanup_on_fail": "false", "max_history": "0", "wait": "true", "installed_at": rel.LastDeployed.UTC().Format(time.RFC3339)} {
		if got := attrString(t, refreshed, k); got != want {
			t.Errorf("moved state %s = %s, want %s", k, got, want)
		}
	}
	applied := p.apply(t, refreshed, planned, config, plannedPrivate)
	if err := expectRelease(cs, name, name, 1, kube.ReleaseDeployed, chartsrc.DemoVersion); err != nil {
		t.Error(err)
	}
	after, err := cs.AppsV1().Deployments(name).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.UID != before.UID {
		t.Errorf("Deployment %s/%s was replaced (uid %s, then %s): the move must adopt the release, not reinstall it", name, deployment, before.UID, after.UID)
	}
	if err := expectDeployment(cs, name, deployment, 1, map[string]string{"example.com/moved": "from-helm-release"}); err != nil {
		t.Error(err)
	}
	if got := attrString(t, applied.state, "revision"); got != "1" || attrString(t, applied.state, "status") != "deployed" || applied.state["cluster_connection"].IsNull() {
		// Never print the connection: it holds the token.
		t.Errorf("state after the apply: revision %s, status %s, cluster_connection set %v; want 1, deployed, set",
			got, attrString(t, applied.state, "status"), !applied.state["cluster_connection"].IsNull())
	}
	again, againPrivate := p.read(t, applied.state, applied.private)
	if replanned, _, _ := p.plan(t, again, config, againPrivate); len(changedAttributes(again, replanned)) > 0 {
		t.Errorf("the plan after the apply changes %v, want nothing", changedAttributes(again, replanned))
	}
}

// moveProtocol drives the provider's protocol server as the CLI does around a move.
type moveProtocol struct {
	srv    tfprotov6.ProviderServer
	schema *tfprotov6.Schema
	typ    tftypes.Object
}

type protoState struct {
	state   map[string]tftypes.Value
	raw     *tfprotov6.DynamicValue
	private []byte
}

func newMoveProtocol(t *testing.T, s testStack) *moveProtocol {
	t.Helper()
	ctx := context.Background()
	var mirrors map[string]string
	if err := json.Unmarshal([]byte(os.Getenv("CLUSTERKIT_TEST_CHART_MIRRORS")), &mirrors); err != nil {
		t.Fatal(err)
	}
	mv := map[string]tftypes.Value{}
	for k, v := range mirrors {
		mv[k] = str(v)
	}
	srv := newTestServer(t)
	resp, err := srv.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: providerConfig(t, srv, map[string]tftypes.Value{
		"allow_local_requests":     tftypes.NewValue(tftypes.Bool, true),
		"chart_repository_mirrors": tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, mv),
	}, nil)})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("configure: %v %q", err, diagStrings(resp.Diagnostics))
	}
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sch := schemas.ResourceSchemas["clusterkit_managed_app"]
	return &moveProtocol{srv: srv, schema: sch, typ: sch.ValueType().(tftypes.Object)}
}

func (p *moveProtocol) object(t *testing.T, attrs map[string]tftypes.Value) tftypes.Value {
	t.Helper()
	return objectOf(t, p.schema, attrs)
}

func (p *moveProtocol) decode(t *testing.T, dv *tfprotov6.DynamicValue, private []byte) protoState {
	t.Helper()
	if dv == nil {
		t.Fatal("no state")
	}
	v, err := dv.Unmarshal(p.typ)
	if err != nil {
		t.Fatal(err)
	}
	out := protoState{raw: dv, private: private}
	if err := v.As(&out.state); err != nil {
		t.Fatal(err)
	}
	return out
}

func (p *moveProtocol) encode(t *testing.T, attrs map[string]tftypes.Value) *tfprotov6.DynamicValue {
	t.Helper()
	dv, err := tfprotov6.NewDynamicValue(p.typ, tftypes.NewValue(p.typ, attrs))
	if err != nil {
		t.Fatal(err)
	}
	return &dv
}

func (p *moveProtocol) move(t *testing.T, version int64, attributes []byte) protoState {
	t.Helper()
	resp, err := p.srv.MoveResourceState(context.Background(), &tfprotov6.MoveResourceStateRequest{
		SourceProviderAddress: accCLI.ProviderHost + "/hashicorp/helm", SourceTypeName: "helm_release", SourceSchemaVersion: version,
		SourceState: &tfprotov6.RawState{JSON: attributes}, TargetTypeName: "clusterkit_managed_app",
	})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("MoveResourceState: %v %q", err, diagStrings(resp.Diagnostics))
	}
	return p.decode(t, resp.TargetState, resp.TargetPrivate)
}

func (p *moveProtocol) read(t *testing.T, st map[string]tftypes.Value, private []byte) (map[string]tftypes.Value, []byte) {
	t.Helper()
	resp, err := p.srv.ReadResource(context.Background(), &tfprotov6.ReadResourceRequest{TypeName: "clusterkit_managed_app", CurrentState: p.encode(t, st), Private: private})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("ReadResource: %v %q", err, diagStrings(resp.Diagnostics))
	}
	got := p.decode(t, resp.NewState, resp.Private)
	return got.state, got.private
}

// plan is PlanResourceChange with the proposed new state the CLI computes: the
// configuration, and the prior value of each computed attribute the configuration leaves null.
func (p *moveProtocol) plan(t *testing.T, prior map[string]tftypes.Value, config tftypes.Value, private []byte) (map[string]tftypes.Value, []byte, []string) {
	t.Helper()
	var cfg map[string]tftypes.Value
	if err := config.As(&cfg); err != nil {
		t.Fatal(err)
	}
	proposed := map[string]tftypes.Value{}
	for _, a := range p.schema.Block.Attributes {
		proposed[a.Name] = cfg[a.Name]
		if cfg[a.Name].IsNull() && a.Computed {
			proposed[a.Name] = prior[a.Name]
		}
	}
	cdv, err := tfprotov6.NewDynamicValue(p.typ, config)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.srv.PlanResourceChange(context.Background(), &tfprotov6.PlanResourceChangeRequest{
		TypeName: "clusterkit_managed_app", PriorState: p.encode(t, prior), ProposedNewState: p.encode(t, proposed), Config: &cdv, PriorPrivate: private,
	})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("PlanResourceChange: %v %q", err, diagStrings(resp.Diagnostics))
	}
	var replace []string
	for _, ap := range resp.RequiresReplace {
		replace = append(replace, ap.String())
	}
	got := p.decode(t, resp.PlannedState, resp.PlannedPrivate)
	return got.state, got.private, replace
}

func (p *moveProtocol) apply(t *testing.T, prior, planned map[string]tftypes.Value, config tftypes.Value, private []byte) protoState {
	t.Helper()
	cdv, err := tfprotov6.NewDynamicValue(p.typ, config)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.srv.ApplyResourceChange(context.Background(), &tfprotov6.ApplyResourceChangeRequest{
		TypeName: "clusterkit_managed_app", PriorState: p.encode(t, prior), PlannedState: p.encode(t, planned), Config: &cdv, PlannedPrivate: private,
	})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("ApplyResourceChange: %v %q", err, diagStrings(resp.Diagnostics))
	}
	return p.decode(t, resp.NewState, resp.Private)
}

// changedAttributes names the attributes whose planned value differs from the prior one
// (unknown counts as a change).
func changedAttributes(prior, planned map[string]tftypes.Value) []string {
	var out []string
	for k, v := range planned {
		if !v.IsFullyKnown() || !v.Equal(prior[k]) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
