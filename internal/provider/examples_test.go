package provider

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// What the doc fragments under examples/ assume and this test supplies. tfplugindocs shows
// resources/<type>/resource.tf, provider/provider.tf and ephemeral-resources/<type>/ as
// snippets without a terraform block, so every directory without required_providers gets
// clusterkit's (without it a CLI would look for hashicorp/clusterkit).
var (
	// exampleCompanions: files of other examples a fragment refers to.
	exampleCompanions = map[string][]string{
		// It reads clusterkit_eks_cluster.shop, the eks_cluster example's resource.
		"ephemeral-resources/clusterkit_eks_token": {"resources/clusterkit_eks_cluster/resource.tf"},
	}
	// exampleStubs: third-party providers an example uses. No registry can be reached from
	// these machines, so testdata/stubprovider stands in for them; it declares only the
	// attributes these examples use (with the real providers' names and types): those
	// names are not checked against the real schemas, everything else is.
	exampleStubs = map[string][]string{
		"customer-role": {"aws"},
		"ephemeral-resources/clusterkit_eks_token": {"kubernetes"},
	}
)

// exampleProviderVersion is the version the mirror offers each provider under.
const exampleProviderVersion = "0.0.1"

const exampleRequiredProviders = `terraform {
  required_providers {
    clusterkit = { source = "clusterkit-dev/clusterkit" }
  }
}
`

// TestAccExamples_Validate runs `init` and `validate` on every directory under examples/
// that holds .tf files, under this run's CLI (make testacc runs it under both), with the
// provider built from this checkout. Any error fails; warnings are logged.
func TestAccExamples_Validate(t *testing.T) {
	accOnly(t)
	tmp := t.TempDir()
	// init installs every provider from a local filesystem mirror, as it would from a
	// registry (no dev_overrides, whose init only warns): the build under its own address,
	// the stubs as hashicorp/aws and hashicorp/kubernetes.
	mirror := filepath.Join(tmp, "mirror")
	platform := runtime.GOOS + "_" + runtime.GOARCH
	for name, pkg := range map[string]string{"clusterkit-dev/clusterkit": "../..", "hashicorp/aws": "./testdata/stubprovider", "hashicorp/kubernetes": "./testdata/stubprovider"} {
		typ := filepath.Base(name)
		out := filepath.Join(mirror, accCLI.ProviderHost, name, exampleProviderVersion, platform, "terraform-provider-"+typ)
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("building %s (%s): %v\n%s", name, pkg, err, b)
		}
	}
	rc := filepath.Join(tmp, "cli.rc")
	// No direct {} block: a provider that is neither the build nor a stub fails init
	// at once instead of waiting on a registry.
	writeFile(t, rc, fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", mirror))

	// A copy of the whole tree: module sources are relative (../modules/...) and init
	// writes .terraform/ next to the configuration.
	src, _ := filepath.Abs("../../examples")
	root := filepath.Join(tmp, "examples")
	dirs := copyExamples(t, src, root)
	if len(dirs) < 8 {
		t.Fatalf("found only %d example directories under %s: %v", len(dirs), src, dirs)
	}
	t.Logf("%d example directories under %s", len(dirs), accCLI)
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "TF_LOG=", "TF_LOG_PATH=")
	for _, rel := range dirs {
		t.Run(strings.ReplaceAll(rel, "/", "_"), func(t *testing.T) {
			dir := filepath.Join(root, rel)
			if !declaresRequiredProviders(t, dir) {
				writeFile(t, filepath.Join(dir, "zz_test_required_providers.tf"), exampleRequiredProviders)
			}
			for _, c := range exampleCompanions[rel] {
				text, err := os.ReadFile(filepath.Join(src, c))
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "zz_test_companion_"+filepath.Base(filepath.Dir(c))+".tf"), string(text))
			}
			run := func(args ...string) []byte {
				cmd := exec.Command(accCLI.Path, args...)
				cmd.Dir, cmd.Env = dir, env
				out, err := cmd.CombinedOutput()
				if err != nil && args[0] == "init" {
					t.Fatalf("%s %s in examples/%s: %v\n%s", accCLI.Name, args[0], rel, err, out)
				}
				return out
			}
			run("init", "-backend=false", "-input=false", "-no-color")
			out := run("validate", "-json", "-no-color")
			var res struct {
				Valid        bool `json:"valid"`
				ErrorCount   int  `json:"error_count"`
				WarningCount int  `json:"warning_count"`
				Diagnostics  []struct {
					Severity string `json:"severity"`
					Summary  string `json:"summary"`
					Detail   string `json:"detail"`
				} `json:"diagnostics"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("%s validate -json in examples/%s: %v\n%s", accCLI.Name, rel, err, out)
			}
			for _, d := range res.Diagnostics {
				t.Logf("%s: %s: %s", d.Severity, d.Summary, d.Detail)
			}
			if !res.Valid || res.ErrorCount != 0 {
				t.Fatalf("examples/%s is not valid under %s: %d errors (above), stubs %v", rel, accCLI.Product, res.ErrorCount, exampleStubs[rel])
			}
		})
	}
}

// copyExamples copies src to dst and returns the directories (relative, sorted) that hold
// .tf files.
func copyExamples(t *testing.T, src, dst string) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if d.Name() == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(d.Name(), ".tf") {
			seen[filepath.ToSlash(filepath.Dir(rel))] = true
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), text, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for d := range seen {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs
}

func declaresRequiredProviders(t *testing.T, dir string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(text), "required_providers") {
			return true
		}
	}
	return false
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
