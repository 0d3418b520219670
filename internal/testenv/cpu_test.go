package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestStatCPU(t *testing.T) {
	// utime 250, stime 50, cutime 1000, cstime 200 ticks; the command name holds spaces
	// and a parenthesis.
	line := "4242 (kube api) server) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 1000 200 20 0 12 0 3000 1000000 2000 18446744073709551615\n"
	got, err := statCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 15 * time.Second; got != want {
		t.Errorf("statCPU = %s, want %s", got, want)
	}
	if _, err := statCPU("4242 (short) S 1 2 3"); err == nil {
		t.Error("a short line gave no error")
	}
}

func TestComponentCPU_ReadsPidFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "etcd.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		t.Fatal(err)
	}
	spins := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; spins++ { // burn a little CPU
	}
	t.Logf("%d spins", spins)
	got, err := ComponentCPU(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["etcd"] <= 0 {
		t.Errorf("ComponentCPU = %v, want etcd (this test's process) with some CPU and nothing else", got)
	}
}
