package chartsrc

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// ServeArg0 is argv[0] of a binary importing this package re-executed to serve the charts
// in a process of its own (the local stack's chart-sources component): os.Args[1] is the
// Config file, os.Args[2] the state file Serve writes.
const ServeArg0 = "clusterkit-chart-sources"

// The hook runs before the importing program's main (or a test binary's TestMain), so the
// stack needs no separate binary for its chart sources.
func init() {
	if len(os.Args) != 3 || os.Args[0] != ServeArg0 {
		return
	}
	if err := serveFromFile(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "chart-sources:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serveFromFile(configFile, stateFile string) error {
	b, err := os.ReadFile(configFile)
	if err != nil {
		return err
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("%s: %w", configFile, err)
	}
	cfg.Log = func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	return Serve(ctx, cfg, stateFile)
}
