package chartsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// helm runs the real helm binary with a home of its own under workDir, so nothing reads
// or writes the user's helm configuration (registry credentials included).
type helm struct {
	bin, workDir, caFile string
	env                  []string
}

func newHelm(bin, workDir, caFile string) *helm {
	home := filepath.Join(workDir, "helm-home")
	return &helm{bin: bin, workDir: workDir, caFile: caFile, env: []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + home,
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
		"HELM_REGISTRY_CONFIG=" + filepath.Join(home, "registry.json"),
	}}
}

// run runs helm with args and stdin. Its error quotes args and helm's output, so no secret
// ever goes in args (login passes the password on stdin).
func (h *helm) run(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = h.env
	cmd.Dir = h.workDir
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("chartsrc: helm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// login stores the registry credentials in helm's (private) registry config; the password
// goes through stdin, never argv.
func (h *helm) login(ctx context.Context, host, user, password string) error {
	_, err := h.run(ctx, password, "registry", "login", host, "--username", user, "--password-stdin", "--ca-file", h.caFile)
	return err
}

// FindChartsDir finds internal/testenv/testdata/charts from the working directory up to
// the module root, so tests (run in their package directory) and the stack command (run
// from the checkout) both find it.
func FindChartsDir() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "internal", "testenv", "testdata", "charts"), nil
}

// ModuleRoot is the nearest directory above the working directory holding this module's
// go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/clusterkit-dev/terraform-provider-clusterkit\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("chartsrc: not inside the clusterkit checkout (no go.mod of github.com/clusterkit-dev/terraform-provider-clusterkit above the working directory)")
		}
		dir = parent
	}
}

// BuildHelm runs tools/build.sh for tool ("helm4" or "helm3"), which builds helm from the
// Go module proxy on first use (minutes) and prints its cache directory, and returns the
// binary's path.
func BuildHelm(ctx context.Context, tool string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "tools", "build.sh"), tool)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("chartsrc: tools/build.sh %s: %w: %s", tool, err, strings.TrimSpace(stderr.String()))
	}
	bin := filepath.Join(strings.TrimSpace(string(out)), "helm")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("chartsrc: tools/build.sh %s printed no directory holding helm: %w", tool, err)
	}
	return bin, nil
}
