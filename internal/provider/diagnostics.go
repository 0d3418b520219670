package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
)

// addKubeError reports a failed Kubernetes operation. Refused addresses point at the host
// attribute; API failures carry our own wording (kube.APIError never holds server text);
// the cause, in words free of server text too, goes to the debug log only.
func addKubeError(ctx context.Context, diags *diag.Diagnostics, summary string, hostPath path.Path, err error) {
	var blocked *netguard.BlockedError
	var badURL *netguard.URLError
	var redirect *netguard.RedirectError
	switch {
	case errors.As(err, &blocked), errors.As(err, &badURL):
		diags.AddAttributeError(hostPath, "Cluster URL refused", err.Error())
		return
	case errors.As(err, &redirect):
		diags.AddAttributeError(hostPath, "Cluster API redirected",
			"The cluster URL answered with a redirect; redirects are never followed. Use the API server's own URL. "+err.Error())
		return
	}
	var apiErr *kube.APIError
	if errors.As(err, &apiErr) && apiErr.Cause != nil {
		tflog.SubsystemDebug(ctx, subsystemKubernetes, "Kubernetes operation failed", map[string]any{"op": apiErr.Op, "cause": apiErr.DebugCause()})
	}
	diags.AddError(summary, err.Error())
}
