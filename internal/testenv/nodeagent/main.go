package nodeagent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// AgentArg0 is argv[0] of the re-executed binary when it is to run the agent; os.Args[1]
// is then the Config file.
const AgentArg0 = "clusterkit-node-agent"

// The hook runs before the importing program's main (or a test binary's TestMain): the stack
// starts the agent, and the agent each container's init, by re-executing the same binary
// with one of these argv[0] values, so no separate binary has to be built.
func init() {
	if len(os.Args) != 2 {
		return
	}
	switch os.Args[0] {
	case InitArg0:
		runInit(os.Args[1])
	case AgentArg0:
		os.Exit(agentMain(os.Args[1]))
	}
}

func agentMain(configFile string) int {
	b, err := os.ReadFile(configFile)
	if err == nil {
		var cfg Config
		if err = json.Unmarshal(b, &cfg); err == nil {
			ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer cancel()
			err = Run(ctx, cfg, Options{Log: func(f string, a ...any) {
				fmt.Fprintf(os.Stderr, time.Now().UTC().Format(time.RFC3339Nano)+" "+f+"\n", a...)
			}})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "node-agent:", err)
		return 1
	}
	return 0
}
