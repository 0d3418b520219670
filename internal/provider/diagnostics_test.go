package provider

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// statusErrorWithBody is how client-go reports a response that is no Kubernetes Status:
// its text quotes the body, which the server (any URL a user configured) chose.
type statusErrorWithBody struct{}

func (statusErrorWithBody) Error() string {
	return `an error on the server ("<html>SERVER-CHOSEN-TEXT</html>") has prevented the request from succeeding`
}

func TestAddKubeError_DebugLogHoldsNoServerText(t *testing.T) {
	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &buf)
	ctx = withLogging(ctx)
	var diags diag.Diagnostics
	err := &kube.APIError{Op: "read namespace team-a", Status: 502, Cause: statusErrorWithBody{}}
	addKubeError(ctx, &diags, "Could not read the namespace", path.Root("host"), err)
	entries, derr := tflogtest.MultilineJSONDecode(&buf)
	if derr != nil {
		t.Fatal(derr)
	}
	var cause any
	for _, e := range entries {
		if e["@message"] == "Kubernetes operation failed" {
			cause = e["cause"]
		}
	}
	if cause != "the API server could not be reached" {
		t.Errorf("logged cause %v, want our own words", cause)
	}
	if strings.Contains(buf.String(), "SERVER-CHOSEN-TEXT") {
		t.Errorf("the debug log carries the server's text: %s", buf.String())
	}
	if len(diags) != 1 || strings.Contains(diags[0].Detail(), "SERVER-CHOSEN-TEXT") ||
		diags[0].Detail() != "read namespace team-a: the API server answered HTTP 502 (the API server failed or is unavailable)" {
		t.Errorf("diagnostics %v", diags)
	}
}
