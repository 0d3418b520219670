// Command stack starts and stops the local stack in the background (make up / make down).
//
//	stack up   --dir .stack [--tofu PATH] [--provider-dir bin] [--node-agent=false]  (or CLUSTERKIT_NODE_AGENT=0)
//	stack down --dir .stack
//	stack status --dir .stack
//	stack serve-aws --config FILE   (internal: the detached stack's AWS emulator)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", ".stack", "directory for certificates, data, logs and the env file")
	tofu := fs.String("tofu", "", "OpenTofu binary to record as TF_ACC_TERRAFORM_PATH")
	providerDir := fs.String("provider-dir", "", "directory with the built provider, for a dev_overrides CLI config")
	awsConfig := fs.String("config", "", "serve-aws: the emulator configuration a stack wrote")
	// On by default; CLUSTERKIT_NODE_AGENT=0 sets the default to off, so
	// `CLUSTERKIT_NODE_AGENT=0 make up` gets a stack where kwok fakes the install pods.
	nodeAgent := fs.Bool("node-agent", os.Getenv("CLUSTERKIT_NODE_AGENT") != "0",
		"up: run helm install pods as real processes with real helm and serve the chart sources (testenv.Options.NodeAgent); --node-agent=false or CLUSTERKIT_NODE_AGENT=0 to let kwok fake them")
	_ = fs.Parse(os.Args[2:])
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fail(err)
	}
	switch os.Args[1] {
	case "up":
		err = up(abs, *tofu, *providerDir, *nodeAgent)
	case "down":
		var n int
		n, err = testenv.StopDir(abs)
		if err == nil {
			fmt.Printf("stopped %d processes\n", n)
			err = os.Remove(filepath.Join(abs, "env"))
			if os.IsNotExist(err) {
				err = nil
			}
		}
	case "serve-aws": // run by `up` as the stack's aws-emulator process
		ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer cancel()
		err = testenv.RunAWS(ctx, *awsConfig)
	case "status":
		var s *testenv.Stack
		if s, err = testenv.Attach(abs); err == nil {
			fmt.Printf("running: %s (logs in %s/logs)\n", s.Host, s.Dir)
		}
	default:
		usage()
	}
	if err != nil {
		fail(err)
	}
}

func up(dir, tofu, providerDir string, nodeAgent bool) error {
	if _, err := testenv.Attach(dir); err == nil {
		return fmt.Errorf("a stack is already running in %s (make down first)", dir)
	}
	_, _ = testenv.StopDir(dir)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	s, err := testenv.Start(ctx, testenv.Options{Dir: dir, Detach: true, AWSCommand: []string{self, "serve-aws"}, NodeAgent: nodeAgent,
		Log: func(f string, a ...any) { fmt.Printf(f+"\n", a...) }})
	if err != nil {
		return err
	}
	env := s.Env()
	if tofu != "" {
		if env["TF_ACC_TERRAFORM_PATH"], err = filepath.Abs(tofu); err != nil {
			return err
		}
		env["TF_ACC_PROVIDER_HOST"] = "registry.opentofu.org"
		env["TF_ACC_PROVIDER_NAMESPACE"] = "clusterkit-dev"
	}
	if providerDir != "" {
		rc, err := writeDevOverrides(dir, providerDir)
		if err != nil {
			return err
		}
		env["TF_CLI_CONFIG_FILE"] = rc
	}
	envFile := filepath.Join(dir, "env")
	if err := testenv.WriteEnvFile(envFile, env); err != nil {
		return err
	}
	fmt.Printf("stack up at %s; `source %s` to use it, `make down` to stop it\n", s.Host, envFile)
	return nil
}

// writeDevOverrides points both registry addresses of the provider at the local build.
func writeDevOverrides(dir, providerDir string) (string, error) {
	abs, err := filepath.Abs(providerDir)
	if err != nil {
		return "", err
	}
	rc := fmt.Sprintf(`provider_installation {
  dev_overrides {
    "registry.opentofu.org/clusterkit-dev/clusterkit"   = %q
    "registry.terraform.io/clusterkit-dev/clusterkit" = %q
  }
  direct {}
}
`, abs, abs)
	path := filepath.Join(dir, "tofurc")
	return path, os.WriteFile(path, []byte(rc), 0o600)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: stack up|down|status --dir DIR [--tofu PATH] [--provider-dir DIR] [--node-agent=false]")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "stack:", err)
	os.Exit(1)
}
