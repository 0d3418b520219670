package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// TestProtocolManagedAppDestroyBeforeFirstApply: what `terraform destroy` sends for an app
// imported (by ID or identity) and never applied. Nothing in those calls says how to reach
// the cluster: the import gets no configuration, the refresh only the state (whose
// cluster_connection is null until the first apply records it), and a destroy's plan and
// apply get no configuration either, only state. So the release cannot be uninstalled, and
// the apply refuses rather than drop the resource from state with the release left
// running; the destroy plan refuses already, before the user confirms.
func TestProtocolManagedAppDestroyBeforeFirstApply(t *testing.T) {
	const typ = "clusterkit_managed_app"
	ctx := context.Background()
	server, stateType, _ := importServer(t, typ)
	imp, err := server.ImportResourceState(ctx, &tfprotov6.ImportResourceStateRequest{TypeName: typ, ID: "web/shop"})
	if err != nil || len(imp.Diagnostics) > 0 || len(imp.ImportedResources) != 1 {
		t.Fatalf("import: %v %q", err, diagStrings(imp.Diagnostics))
	}
	state, identity := imp.ImportedResources[0].State, imp.ImportedResources[0].Identity

	read, err := server.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: typ, CurrentState: state, CurrentIdentity: identity})
	if err != nil || len(read.Diagnostics) > 0 {
		t.Fatalf("refresh: %v %q", err, diagStrings(read.Diagnostics))
	}
	if got := objectStrings(t, read.NewState, stateType, []string{"id", "cluster_connection"}); got["id"] != "web/shop" || got["cluster_connection"] != "<null>" {
		t.Fatalf("refreshed state %v, want the import's", got)
	}

	null, err := tfprotov6.NewDynamicValue(stateType, tftypes.NewValue(stateType, nil))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := server.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName: typ, PriorState: read.NewState, ProposedNewState: &null, Config: &null, PriorIdentity: read.NewIdentity,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "Cannot delete an imported managed app before its first apply | The resource was imported and has no cluster_connection in state yet,"
	if diags := diagStrings(plan.Diagnostics); len(diags) != 1 || !strings.HasPrefix(diags[0], want) {
		t.Fatalf("destroy plan: %q, want %q", diags, want)
	}

	apply, err := server.ApplyResourceChange(ctx, &tfprotov6.ApplyResourceChangeRequest{
		TypeName: typ, PriorState: read.NewState, PlannedState: &null, Config: &null, PlannedIdentity: read.NewIdentity,
	})
	if err != nil {
		t.Fatal(err)
	}
	diags := diagStrings(apply.Diagnostics)
	if len(diags) != 1 || !strings.HasPrefix(diags[0], want) {
		t.Fatalf("destroy apply: %q, want %q", diags, want)
	}
}
