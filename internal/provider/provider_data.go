package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
)

// providerData is what Configure hands every resource: the one place clients are built,
// shared by all resources of a run.
type providerData struct {
	policy netguard.Policy
	kube   *kube.Factory
	cloud  *cloud.Factory
	// region is the provider's default AWS region (configuration or environment).
	region string
	// mirrors maps chart repositories to the mirrors to install from.
	mirrors map[string]string
}

// providerDataFrom type-checks the value Configure stored; nil means the provider is not
// configured yet (validation and early plan calls).
func providerDataFrom(v any) (*providerData, diag.Diagnostics) {
	var diags diag.Diagnostics
	if v == nil {
		return nil, diags
	}
	d, ok := v.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data",
			fmt.Sprintf("Expected *providerData, got %T. Please report this issue to the provider developers.", v))
	}
	return d, diags
}
