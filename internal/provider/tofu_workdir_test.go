package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tofuWorkdir runs this run's CLI (accCLI: OpenTofu or Terraform; the name is older than
// the Terraform runs) on one configuration with the provider built as a plugin binary
// (dev_overrides under the CLI's own registry host), its debug log going to a file.
type tofuWorkdir struct {
	dir, tofu, logPath string
	env                []string
}

func newTofuWorkdir(tb testing.TB, config string, env ...string) *tofuWorkdir {
	tb.Helper()
	dir := tb.TempDir()
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-clusterkit"), "../..")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("building the provider: %v\n%s", err, out)
	}
	rc := filepath.Join(dir, "tofurc")
	rcText := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n", accCLI.providerAddress(), bin)
	cfg := filepath.Join(dir, "cfg")
	for path, text := range map[string]string{rc: rcText, filepath.Join(cfg, "main.tf"): config} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	w := &tofuWorkdir{dir: cfg, tofu: accCLI.Path, logPath: filepath.Join(dir, "tofu.log")}
	w.env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "TF_LOG_PROVIDER=DEBUG", "TF_LOG_PATH="+w.logPath)
	w.env = append(w.env, env...)
	return w
}

func (w *tofuWorkdir) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, w.tofu, args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s%s", accCLI.Name, args[0], err, out, stderr.Bytes())
	}
	return out, nil
}

func (w *tofuWorkdir) logSize(tb testing.TB) int64 {
	st, err := os.Stat(w.logPath)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		tb.Fatal(err)
	}
	return st.Size()
}

// logLines returns, from the log lines after offset that contain s, what follows s up
// to the next colon (for an API call: verb and path).
func (w *tofuWorkdir) logLines(tb testing.TB, offset int64, s string) []string {
	data, err := os.ReadFile(w.logPath)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data[offset:]), "\n") {
		if _, rest, ok := strings.Cut(line, s); ok {
			what, _, _ := strings.Cut(rest, ":")
			out = append(out, what)
		}
	}
	return out
}

// start runs the CLI in the background; its output (stdout and stderr) goes to out.
func (w *tofuWorkdir) start(args ...string) (*exec.Cmd, *bytes.Buffer, error) {
	cmd := exec.Command(w.tofu, args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out, cmd.Start()
}

// state is `show -json` of the current state.
func (w *tofuWorkdir) state(ctx context.Context, tb testing.TB) map[string]any {
	tb.Helper()
	out, err := w.run(ctx, "show", "-json")
	if err != nil {
		tb.Fatal(err)
	}
	var st struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		tb.Fatal(err)
	}
	byAddr := map[string]any{}
	for _, r := range st.Values.RootModule.Resources {
		byAddr[r.Address] = r.Values
	}
	return byAddr
}
