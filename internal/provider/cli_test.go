package provider

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// testCLI is the one CLI an acceptance test binary runs: OpenTofu (built by tools/build.sh)
// or HashiCorp Terraform (on PATH), chosen by CLUSTERKIT_TEST_CLI. `make testacc` runs the
// suite once under each. terraform-plugin-testing and the tests that drive the CLI
// themselves (tofuWorkdir) both take it from here.
type testCLI struct {
	Name    string // "tofu" or "terraform": CLUSTERKIT_TEST_CLI's values
	Product string // "OpenTofu" or "Terraform", as `version` prints it
	Path    string
	Version [3]int
	// ProviderHost is the registry host under which this CLI resolves the configs'
	// `source = "clusterkit-dev/clusterkit"`: the address dev_overrides and
	// terraform-plugin-testing's reattach must use.
	ProviderHost string
}

// accCLI is this run's CLI (TF_ACC=1 only).
var accCLI testCLI

var knownCLIs = map[string]testCLI{
	"tofu":      {Name: "tofu", Product: "OpenTofu", ProviderHost: "registry.opentofu.org"},
	"terraform": {Name: "terraform", Product: "Terraform", ProviderHost: "registry.terraform.io"},
}

// minVersion is the oldest release of each CLI the suite supports: write-only attributes
// (sensitive_values, repository_password) need Terraform 1.11 and OpenTofu 1.11.
var minVersion = map[string][3]int{"tofu": {1, 11, 0}, "terraform": {1, 11, 0}}

// providerAddress is the provider's full address under this CLI.
func (c testCLI) providerAddress() string { return c.ProviderHost + "/clusterkit-dev/clusterkit" }

func (c testCLI) String() string {
	return fmt.Sprintf("%s %d.%d.%d (%s)", c.Product, c.Version[0], c.Version[1], c.Version[2], c.Path)
}

// selectCLI finds the CLI CLUSTERKIT_TEST_CLI names (tofu when unset). TF_ACC_TERRAFORM_PATH,
// when set, is the binary and must be that CLI. A missing Terraform is an error, never a
// skip: CI runs both.
func selectCLI(root string) (testCLI, error) {
	name := os.Getenv("CLUSTERKIT_TEST_CLI")
	if name == "" {
		name = "tofu"
	}
	cli, ok := knownCLIs[name]
	if !ok {
		return cli, fmt.Errorf("CLUSTERKIT_TEST_CLI=%q: want tofu or terraform", name)
	}
	cli.Path = os.Getenv("TF_ACC_TERRAFORM_PATH")
	switch {
	case cli.Path != "":
	case name == "tofu":
		out, err := exec.Command(filepath.Join(root, "tools/build.sh"), "tofu").Output()
		if err != nil {
			return cli, fmt.Errorf("building OpenTofu with tools/build.sh: %w", err)
		}
		cli.Path = filepath.Join(strings.TrimSpace(string(out)), "tofu")
	default:
		p, err := exec.LookPath("terraform")
		if err != nil {
			return cli, fmt.Errorf("CLUSTERKIT_TEST_CLI=terraform: HashiCorp Terraform >= 1.11 is not on PATH (%w); install it, or set TF_ACC_TERRAFORM_PATH to its binary", err)
		}
		cli.Path = p
	}
	product, version, err := cliVersion(cli.Path)
	if err != nil {
		return cli, err
	}
	if product != cli.Product {
		return cli, fmt.Errorf("%s is %s, but CLUSTERKIT_TEST_CLI=%s wants %s", cli.Path, product, name, cli.Product)
	}
	cli.Version = version
	if oldest := minVersion[name]; lessVersion(version, oldest) {
		return cli, fmt.Errorf("%s: the suite needs %s >= %d.%d (write-only attributes)", cli, cli.Product, oldest[0], oldest[1])
	}
	return cli, nil
}

// cliVersion reads the first line of `version`: "OpenTofu v1.12.6" or "Terraform v1.11.4".
func cliVersion(path string) (string, [3]int, error) {
	var v [3]int
	cmd := exec.Command(path, "version")
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "TF_CLI_CONFIG_FILE=")
	out, err := cmd.Output()
	if err != nil {
		return "", v, fmt.Errorf("%s version: %w", path, err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	product, ver, ok := strings.Cut(strings.TrimSpace(first), " v")
	parts := strings.SplitN(ver, ".", 3)
	if !ok || len(parts) != 3 {
		return "", v, fmt.Errorf("%s version: unexpected first line %q", path, first)
	}
	for i, p := range parts {
		p, _, _ = strings.Cut(p, "-") // 1.12.0-beta1
		n, err := strconv.Atoi(p)
		if err != nil {
			return "", v, fmt.Errorf("%s version: unexpected first line %q", path, first)
		}
		v[i] = n
	}
	return product, v, nil
}

func lessVersion(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// useCLI points terraform-plugin-testing at cli, under the provider address its configs
// resolve to.
func useCLI(cli testCLI) {
	accCLI = cli
	os.Setenv("TF_ACC_TERRAFORM_PATH", cli.Path)
	os.Setenv("TF_ACC_PROVIDER_HOST", cli.ProviderHost)
	os.Setenv("TF_ACC_PROVIDER_NAMESPACE", "clusterkit-dev")
	// Terraform asks checkpoint.hashicorp.com for news on every command; there is no network.
	os.Setenv("CHECKPOINT_DISABLE", "1")
}
