package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux
// architecture Go runs on.
const clockTicks = 100

// ComponentCPU is the CPU time each running component of the stack in dir has used so far,
// its own and its waited-for children's (the node agent's: every container's, so every
// helm run in an install pod), by component name. Benchmarks take two readings and
// subtract, to say where an operation's CPU went.
func ComponentCPU(dir string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, name := range componentNames {
		b, err := os.ReadFile(filepath.Join(dir, name+".pid"))
		if os.IsNotExist(err) {
			continue // not part of this stack (in process, or only with the node agent)
		}
		if err != nil {
			return nil, err
		}
		stat, err := os.ReadFile(filepath.Join("/proc", strings.TrimSpace(string(b)), "stat"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		d, err := statCPU(string(stat))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = d
	}
	return out, nil
}

// statCPU adds utime, stime, cutime and cstime (fields 14-17) of a /proc/<pid>/stat line.
// The command name (field 2) is in parentheses and may hold spaces: count after its ")".
func statCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 15", len(f))
	}
	var ticks int64
	for _, s := range f[11:15] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
