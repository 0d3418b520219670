package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// A sensitive attribute's diagnostic never repeats the value.
func TestExternalIDValidator_NeverEchoesTheValue(t *testing.T) {
	for value, want := range map[string]string{
		"s3cr3t external id!": "must be 2 to 1224 characters of letters, digits and +=,.@:/-: it contains other characters.",
		"x":                   "must be 2 to 1224 characters of letters, digits and +=,.@:/-: it is 1 characters long.",
		"ok-External_ID=1":    "",
	} {
		var diags []string
		for _, v := range externalID() {
			resp := &validator.StringResponse{}
			v.ValidateString(context.Background(), validator.StringRequest{Path: path.Root("external_id"), ConfigValue: types.StringValue(value)}, resp)
			for _, d := range resp.Diagnostics {
				diags = append(diags, d.Detail())
			}
		}
		got := strings.Join(diags, "\n")
		if got != want {
			t.Errorf("%q: diagnostics %q, want %q", value, got, want)
		}
		if want != "" && strings.Contains(got, value) {
			t.Errorf("the diagnostic repeats the value %q", value)
		}
	}
}

// An invalid values document: one diagnostic, in the user's words, no Go type names.
func TestYAMLMapping_UsersWords(t *testing.T) {
	for doc, want := range map[string]string{
		"- a\n- b":   "a list, not a mapping of chart values",
		"just text":  "a single value, not a mapping of chart values",
		"a: [1":      "not valid YAML (yaml: line 1: did not find expected ',' or ']')",
		"a: 1\nb: 2": "",
		"":           "",
	} {
		got := ""
		if err := yamlMapping(doc, true); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("yamlMapping(%q) = %q, want %q", doc, got, want)
		}
		if strings.Contains(got, "Go value") || strings.Contains(got, "interface {}") {
			t.Errorf("Go type names in %q", got)
		}
	}
	if err := yamlMapping("password: [hunter2", false); err == nil || strings.Contains(err.Error(), "hunter2") || err.Error() != "not valid YAML" {
		t.Errorf("sensitive: %v", err)
	}
}
