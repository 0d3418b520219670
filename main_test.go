package main

import (
	"io"
	"os"
	"testing"

	"k8s.io/klog/v2"
)

func TestQuietClientGo_ServerTextNeverReachesStderr(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = stderr }()
	quietClientGo()
	klog.ErrorS(nil, "Failed to watch", "err", "the server said: SERVER-CHOSEN-TEXT")
	klog.Warning("W1201 reflector.go: SERVER-CHOSEN-TEXT")
	klog.Flush()
	_ = w.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 0 {
		t.Fatalf("client-go logged to stderr: %q", out)
	}
}
