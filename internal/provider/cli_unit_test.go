package provider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCLI writes an executable that prints first as its `version` line.
func fakeCLI(t *testing.T, first string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cli")
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho '"+first+"'\necho 'on linux_amd64'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSelectCLI(t *testing.T) {
	cases := []struct {
		name, cli, first, want, wantErr string
	}{
		{"terraform", "terraform", "Terraform v1.11.4", "Terraform 1.11.4", ""},
		{"tofu", "tofu", "OpenTofu v1.12.6", "OpenTofu 1.12.6", ""},
		{"default is tofu", "", "OpenTofu v1.12.0-beta1", "OpenTofu 1.12.0", ""},
		{"wrong product", "terraform", "OpenTofu v1.12.6", "", "is OpenTofu, but CLUSTERKIT_TEST_CLI=terraform wants Terraform"},
		{"too old", "terraform", "Terraform v1.10.5", "", "the suite needs Terraform >= 1.11 (write-only attributes)"},
		{"not a CLI", "tofu", "hello", "", `unexpected first line "hello"`},
		{"unknown name", "pulumi", "OpenTofu v1.12.6", "", `CLUSTERKIT_TEST_CLI="pulumi": want tofu or terraform`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := fakeCLI(t, tc.first)
			t.Setenv("CLUSTERKIT_TEST_CLI", tc.cli)
			t.Setenv("TF_ACC_TERRAFORM_PATH", path)
			cli, err := selectCLI(t.TempDir())
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case cli.String() != tc.want+" ("+path+")":
				t.Fatalf("cli = %s, want %s (%s)", cli, tc.want, path)
			}
		})
	}
}

// Without TF_ACC_TERRAFORM_PATH, Terraform comes from PATH; none there is an error that
// says so, not a skip.
func TestSelectCLI_TerraformMissingFromPath(t *testing.T) {
	t.Setenv("CLUSTERKIT_TEST_CLI", "terraform")
	t.Setenv("TF_ACC_TERRAFORM_PATH", "")
	t.Setenv("PATH", t.TempDir())
	_, err := selectCLI(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "HashiCorp Terraform >= 1.11 is not on PATH") {
		t.Fatalf("err = %v", err)
	}
}

func TestCLIProviderAddress(t *testing.T) {
	for name, want := range map[string]string{
		"tofu":      "registry.opentofu.org/clusterkit-dev/clusterkit",
		"terraform": "registry.terraform.io/clusterkit-dev/clusterkit",
	} {
		if got := knownCLIs[name].providerAddress(); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}

// TestTerraformRunNamesExistingTests: the Terraform run is an allow-list (TERRAFORM_TESTS in
// the GNUmakefile); a renamed or removed test would silently drop out of it.
func TestTerraformRunNamesExistingTests(t *testing.T) {
	mk, err := os.ReadFile("../../GNUmakefile")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(mk), "TERRAFORM_TESTS := \\\n")
	if !ok {
		t.Fatal("GNUmakefile has no TERRAFORM_TESTS list")
	}
	var names []string
	for _, line := range strings.Split(rest, "\n") {
		name := strings.TrimSpace(strings.TrimSuffix(line, "\\"))
		names = append(names, name)
		if !strings.HasSuffix(line, "\\") {
			break
		}
	}
	defined := map[string]bool{}
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(src), "\n") {
			if name, ok := strings.CutPrefix(line, "func Test"); ok {
				name, _, _ = strings.Cut(name, "(")
				defined["Test"+name] = true
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("TERRAFORM_TESTS has %d names (%v), want the CLI-specific set", len(names), names)
	}
	for _, n := range names {
		if !defined[n] {
			t.Errorf("TERRAFORM_TESTS names %q, which is no test of this package", n)
		}
	}
}
