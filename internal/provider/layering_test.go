package provider

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayering enforces DESIGN.md's rules of the house on the import graph: resource files
// speak Terraform and call internal/cloud and internal/kube, never an AWS or Kubernetes
// SDK; cloud, kube, netguard and apps never import the plugin framework.
func TestLayering(t *testing.T) {
	rules := map[string][]string{
		".":           {"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go", "k8s.io/client-go", "k8s.io/api/"},
		"../cloud":    {"github.com/hashicorp/terraform-plugin-"},
		"../kube":     {"github.com/hashicorp/terraform-plugin-", "github.com/aws/"},
		"../netguard": {"github.com/hashicorp/terraform-plugin-", "github.com/aws/", "k8s.io/"},
		"../apps":     {"github.com/hashicorp/terraform-plugin-", "github.com/aws/"},
	}
	checked := 0
	for dir, forbidden := range rules {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue // tests look at the cluster and AWS directly, on purpose
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range parsed.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range forbidden {
					if strings.HasPrefix(path, bad) {
						t.Errorf("%s imports %s (forbidden in %s by the layering rules)", f, path, dir)
					}
				}
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d files: the layering rules look at the wrong place", checked)
	}
}
