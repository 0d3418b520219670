package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The profiling build (main_profile.go) writes the plugin process's CPU profile and a heap
// profile, named by its pid, and still writes them whole when the process is stopped by a
// signal rather than by the CLI.
func TestProfilingBuild_WritesCPUAndHeapProfiles(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "terraform-provider-clusterkit")
	if out, err := exec.Command("go", "build", "-tags", "benchprofile", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building with -tags benchprofile: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"CLUSTERKIT_PROFILE_DIR="+dir,
		// go-plugin's handshake: without it the binary refuses to serve.
		"TF_PLUGIN_MAGIC_COOKIE=d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
		"PLUGIN_PROTOCOL_VERSIONS=6")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	handshake := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		handshake <- line
	}()
	select {
	case line := <-handshake:
		if !strings.HasPrefix(line, "1|6|") {
			t.Fatalf("handshake line %q, want protocol 6", line)
		}
	case <-time.After(time.Minute):
		t.Fatal("no handshake within a minute")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Fatalf("exit code %d (%v), want 143 after SIGTERM", code, err)
	}
	pid := cmd.Process.Pid
	for file, want := range map[string]string{
		fmt.Sprintf("cpu-%d.pprof", pid):  "PeriodType: cpu nanoseconds",
		fmt.Sprintf("heap-%d.pprof", pid): "PeriodType: space bytes",
	} {
		out, err := exec.Command("go", "tool", "pprof", "-raw", filepath.Join(dir, file)).CombinedOutput()
		if err != nil {
			t.Fatalf("go tool pprof -raw %s: %v\n%s", file, err, out)
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("%s: no %q in\n%.600s", file, want, out)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("%d files in the profile directory, want the 2 profiles only", len(entries))
	}
}
