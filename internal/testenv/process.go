package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// component is one running binary of the stack.
type component struct {
	name string
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed when an owned process exits; nil for attached ones
	// How it was started, so it can be started again (owned components only).
	dir, bin, argv0 string
	args, env       []string
	detach          bool
}

// startComponent runs bin with args (argv[0] argv0 when set), output to dir/logs/name.log.
// Without detach the child dies with this process (Pdeathsig), so a crashed test run leaves
// nothing behind.
func startComponent(dir, name, bin, argv0 string, args []string, env []string, detach bool) (*component, error) {
	return runComponent(dir, name, bin, argv0, args, env, detach, os.O_TRUNC)
}

// restart starts a stopped component again as it was first started; its log goes on in
// the same file.
func (c *component) restart() (*component, error) {
	if c.bin == "" {
		return nil, fmt.Errorf("%s was not started by this process: cannot restart it", c.name)
	}
	return runComponent(c.dir, c.name, c.bin, c.argv0, c.args, c.env, c.detach, os.O_APPEND)
}

func runComponent(dir, name, bin, argv0 string, args []string, env []string, detach bool, logMode int) (*component, error) {
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_WRONLY|os.O_CREATE|logMode, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	if argv0 != "" {
		cmd.Args[0] = argv0
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &component{name: name, cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{}),
		dir: dir, bin: bin, argv0: argv0, args: args, env: env, detach: detach}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	return c, os.WriteFile(filepath.Join(dir, name+".pid"), []byte(strconv.Itoa(c.pid)), 0o644)
}

// attachComponent finds a component a detached stack left running.
func attachComponent(dir, name string) (*component, error) {
	b, err := os.ReadFile(filepath.Join(dir, name+".pid"))
	if err != nil {
		return nil, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s.pid: %w", name, err)
	}
	c := &component{name: name, pid: pid}
	if !c.alive() {
		return nil, fmt.Errorf("%s (pid %d) is not running", name, pid)
	}
	return c, nil
}

func (c *component) alive() bool {
	if c.done != nil {
		select {
		case <-c.done:
			return false
		default:
			return true
		}
	}
	return syscall.Kill(c.pid, 0) == nil
}

// stop sends SIGTERM, then SIGKILL after grace.
func (c *component) stop(grace time.Duration) {
	if !c.alive() {
		return
	}
	_ = syscall.Kill(c.pid, syscall.SIGTERM)
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	if c.done != nil {
		select {
		case <-c.done:
			return
		case <-deadline.C:
		}
	} else {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
	wait:
		for c.alive() {
			select {
			case <-tick.C:
			case <-deadline.C:
				break wait
			}
		}
	}
	_ = syscall.Kill(c.pid, syscall.SIGKILL)
	if c.done != nil {
		<-c.done
	}
}

// tail returns the last lines of a component's log, for start-up errors.
func tail(dir, name string, lines int) string {
	b, err := os.ReadFile(filepath.Join(dir, "logs", name+".log"))
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// freePorts asks the kernel for n distinct free ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// findBinary looks for name in dirs.
func findBinary(dirs []string, name string) (string, error) {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s (run tools/build.sh kube etcd kwok, or set CLUSTERKIT_BIN_PATH)", name, strings.Join(dirs, ":"))
}

// buildTools runs tools/build.sh from the repository root above the working directory.
func buildTools(names ...string) ([]string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for d := wd; ; d = filepath.Dir(d) {
		script := filepath.Join(d, "tools", "build.sh")
		if _, err := os.Stat(script); err == nil {
			cmd := exec.Command(script, names...)
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				return nil, fmt.Errorf("tools/build.sh %s: %w", strings.Join(names, " "), err)
			}
			return strings.Fields(string(out)), nil
		}
		if filepath.Dir(d) == d {
			return nil, errors.New("tools/build.sh not found above " + wd + "; set CLUSTERKIT_BIN_PATH")
		}
	}
}
