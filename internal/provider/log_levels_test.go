package provider

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-log/tfsdklog"
)

func TestSDKLogLevelsFromCLI(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want map[string]string // what it sets
	}{
		{"nothing asked: the CLI keeps nothing", nil,
			map[string]string{"TF_LOG_SDK": "OFF", "TF_LOG_SDK_PROTO": "OFF", "TF_LOG_SDK_FRAMEWORK": "OFF"}},
		{"TF_LOG=DEBUG", map[string]string{"TF_LOG": "debug"},
			map[string]string{"TF_LOG_SDK": "DEBUG", "TF_LOG_SDK_PROTO": "DEBUG", "TF_LOG_SDK_FRAMEWORK": "DEBUG"}},
		{"TF_LOG_PROVIDER wins over TF_LOG", map[string]string{"TF_LOG": "TRACE", "TF_LOG_PROVIDER": "WARN"},
			map[string]string{"TF_LOG_SDK": "WARN", "TF_LOG_SDK_PROTO": "WARN", "TF_LOG_SDK_FRAMEWORK": "WARN"}},
		{"TF_LOG_PROVIDER alone", map[string]string{"TF_LOG_PROVIDER": " info "},
			map[string]string{"TF_LOG_SDK": "INFO", "TF_LOG_SDK_PROTO": "INFO", "TF_LOG_SDK_FRAMEWORK": "INFO"}},
		{"a level the user set stays", map[string]string{"TF_LOG": "ERROR", "TF_LOG_SDK_FRAMEWORK": "TRACE"},
			map[string]string{"TF_LOG_SDK": "ERROR", "TF_LOG_SDK_PROTO": "ERROR"}},
		{"TRACE: everything, as before", map[string]string{"TF_LOG": "TRACE"}, map[string]string{}},
		{"JSON is TRACE to the CLI", map[string]string{"TF_LOG": "json"}, map[string]string{}},
		{"an unknown value is TRACE to the CLI", map[string]string{"TF_LOG": "verbose"}, map[string]string{}},
		{"TF_LOG_PROVIDER=TRACE over TF_LOG=OFF", map[string]string{"TF_LOG": "OFF", "TF_LOG_PROVIDER": "TRACE"}, map[string]string{}},
	} {
		set := map[string]string{}
		getenv := func(k string) string {
			if v, ok := set[k]; ok {
				return v
			}
			return tc.env[k]
		}
		err := SDKLogLevelsFromCLI(getenv, func(k, v string) error { set[k] = v; return nil })
		if err != nil || !maps.Equal(set, tc.want) {
			t.Errorf("%s: set %v (%v), want %v", tc.name, set, err, tc.want)
		}
	}
}

// The variables it sets are the ones the SDK's loggers read: at TF_LOG_PROVIDER=DEBUG
// the framework's TRACE lines are never written, its DEBUG lines still are; without it the
// SDK writes the TRACE lines too. The SDK's loggers write to the process's standard error,
// so each case runs in a child process of the test binary.
func TestSDKLogLevelsFromCLI_FrameworkTraceNotWritten(t *testing.T) {
	if mode := os.Getenv("CLUSTERKIT_TEST_LOG_LEVELS_CHILD"); mode != "" {
		if mode == "aligned" {
			if err := SDKLogLevelsFromCLI(os.Getenv, os.Setenv); err != nil {
				t.Fatal(err)
			}
		}
		ctx := tfsdklog.NewRootSDKLogger(context.Background(), tfsdklog.WithLevelFromEnv("TF_LOG_SDK"))
		ctx = tfsdklog.NewSubsystem(ctx, "framework", tfsdklog.WithLevelFromEnv("TF_LOG_SDK_FRAMEWORK"))
		tfsdklog.SubsystemTrace(ctx, "framework", "checking attribute")
		tfsdklog.SubsystemDebug(ctx, "framework", "calling Read")
		return
	}
	run := func(mode string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSDKLogLevelsFromCLI_FrameworkTraceNotWritten$")
		cmd.Env = append(os.Environ(), "CLUSTERKIT_TEST_LOG_LEVELS_CHILD="+mode, "TF_LOG=", "TF_LOG_PROVIDER=DEBUG",
			"TF_LOG_SDK=", "TF_LOG_SDK_PROTO=", "TF_LOG_SDK_FRAMEWORK=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, out)
		}
		return string(out)
	}
	if got := run("aligned"); strings.Contains(got, "checking attribute") || !strings.Contains(got, "calling Read") {
		t.Errorf("the framework's log at TF_LOG_PROVIDER=DEBUG:\n%s", got)
	}
	if got := run("sdk-default"); !strings.Contains(got, "checking attribute") {
		t.Errorf("without the alignment the SDK logs TRACE (the cost this removes); got:\n%s", got)
	}
}

// TestAccProviderLogs_SDKTraceOnlyWhenAsked: served by the CLI, the provider still logs
// what the user asks for: DEBUG lines at TF_LOG_PROVIDER=DEBUG, and the framework's TRACE
// lines at TRACE. (The CLI drops lines below its level itself, so the log file cannot
// show what the provider no longer writes: TestSDKLogLevelsFromCLI_FrameworkTraceNotWritten
// does.)
func TestAccProviderLogs_SDKTraceOnlyWhenAsked(t *testing.T) {
	stackFromEnv(t)
	config := providerLocal + `
data "clusterkit_catalog" "all" {}

output "apps" { value = length(data.clusterkit_catalog.all.names) }
`
	frameworkTrace := func(w *tofuWorkdir) (traces, debug int) {
		data, err := os.ReadFile(w.logPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.Contains(line, "provider.terraform-provider-clusterkit") {
				continue
			}
			switch {
			case strings.Contains(line, "[TRACE]") && strings.Contains(line, "@module=sdk.framework"):
				traces++
			case strings.Contains(line, "[DEBUG]"):
				debug++
			}
		}
		return traces, debug
	}
	ctx := context.Background()
	w := newTofuWorkdir(t, config) // TF_LOG_PROVIDER=DEBUG
	if _, err := w.run(ctx, "plan"); err != nil {
		t.Fatal(err)
	}
	if traces, debug := frameworkTrace(w); traces != 0 || debug == 0 {
		t.Errorf("TF_LOG_PROVIDER=DEBUG: %d framework TRACE lines (want none), %d provider DEBUG lines (want some)", traces, debug)
	}
	w = newTofuWorkdir(t, config, "TF_LOG_PROVIDER=TRACE")
	if _, err := w.run(ctx, "plan"); err != nil {
		t.Fatal(err)
	}
	if traces, _ := frameworkTrace(w); traces == 0 {
		t.Error("TF_LOG_PROVIDER=TRACE: no framework TRACE lines in the log")
	}
}
