//go:build benchprofile

package main

import (
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
)

// A profiling build (go build -tags benchprofile; BenchmarkScale builds one for
// CLUSTERKIT_BENCH_PROFILE) writes, when CLUSTERKIT_PROFILE_DIR names a directory, a CPU
// profile of the whole plugin process (cpu-<pid>.pprof) and a heap profile each time the
// heap in use reaches a new peak, 4 MiB above the last one written (heap-<pid>.pprof): where
// one Terraform operation's time and memory go inside the provider. Release builds hold
// none of it (main_profile_off.go).

const (
	heapStep     = 4 << 20
	heapInterval = 100 * time.Millisecond
	heapObjects  = "/memory/classes/heap/objects:bytes"
	heapUnused   = "/memory/classes/heap/unused:bytes"
)

func startProfiles(getenv func(string) string) (stop func()) {
	dir := getenv("CLUSTERKIT_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	// Finer than the default 512 KiB: a provider's heap is tens of MiB.
	runtime.MemProfileRate = 64 << 10
	pid := os.Getpid()
	cpu, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", pid)))
	if err != nil {
		log.Printf("profiling: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		log.Printf("profiling: %v", err)
		_ = cpu.Close()
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		watchHeap(filepath.Join(dir, fmt.Sprintf("heap-%d.pprof", pid)), done)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			pprof.StopCPUProfile()
			_ = cpu.Close()
		})
	}
	// A plugin the CLI could not stop over gRPC gets a signal: the profile is still whole.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		<-sigs
		stop()
		os.Exit(128 + int(syscall.SIGTERM))
	}()
	return stop
}

// watchHeap writes the heap profile to path at each new peak of the heap in use (objects
// and the spans' free space, the runtime's HeapInuse), until done.
func watchHeap(path string, done <-chan struct{}) {
	samples := []metrics.Sample{{Name: heapObjects}, {Name: heapUnused}}
	var written uint64
	tick := time.NewTicker(heapInterval)
	defer tick.Stop()
	for {
		metrics.Read(samples)
		if inUse := samples[0].Value.Uint64() + samples[1].Value.Uint64(); inUse >= written+heapStep {
			written = inUse
			if err := writeHeapProfile(path); err != nil {
				log.Printf("profiling: %v", err)
				return
			}
		}
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}

func writeHeapProfile(path string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
