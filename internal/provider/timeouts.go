package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
)

// timeoutsAttribute is timeouts.Attributes with the description the docs need.
func timeoutsAttribute(ctx context.Context, opts timeouts.Opts, defaults string) schema.Attribute {
	a := timeouts.Attributes(ctx, opts)
	if nested, ok := a.(schema.SingleNestedAttribute); ok {
		nested.MarkdownDescription = "How long each operation may take, as Go durations such as `\"30m\"`. " + defaults
		return nested
	}
	return a
}
