package nodeagent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
)

// InitArg0 is argv[0] of the re-executed binary when it is to act as a container's init.
const InitArg0 = "clusterkit-node-agent-init"

// initSpec is what the agent hands its init (as a JSON file): everything the container
// needs, already resolved on the host side.
type initSpec struct {
	Root     string      `json:"root"`     // the mount point for the tmpfs root (in the pod dir)
	Hostname string      `json:"hostname"` // the pod name, in the pod's own UTS namespace
	Files    []initFile  `json:"files"`    // written into the tmpfs root (/etc)
	Mounts   []initMount `json:"mounts"`   // bind mounts, in order
	Args     []string    `json:"args"`
	Env      []string    `json:"env"`
	Dir      string      `json:"dir"`
	UID      uint32      `json:"uid"`
	GID      uint32      `json:"gid"`
	Groups   []uint32    `json:"groups"`
	// NoNewPrivs: allowPrivilegeEscalation=false (or a non-root user, as runtimes do).
	NoNewPrivs   bool `json:"no_new_privs"`
	ReadOnlyRoot bool `json:"read_only_root"`
	// Caps is the capability bounding set kept for the command (the rest is dropped).
	Caps []int `json:"caps"`
}

type initFile struct {
	Path    string      `json:"path"`
	Content string      `json:"content"`
	Mode    os.FileMode `json:"mode"`
}

type initMount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
}

// hostDirs are bound read-only from the host into every root; merged-usr symlinks stay symlinks.
var hostDirs = []string{"/usr", "/bin", "/lib", "/lib64", "/sbin"}

// devices are bound from the host's /dev into the container's minimal /dev.
var devices = []string{"null", "zero", "random", "urandom", "full", "tty"}

// runInit is the container init: it is PID 1 of a new pid namespace in a new mount
// namespace, and ends by exec'ing the container's command (or exiting 1, after writing why to
// fd 3, the start-error pipe the agent reads).
func runInit(specFile string) {
	// no_new_privs and the parent-death signal are per thread: the thread that sets them
	// must be the one that execs.
	runtime.LockOSThread()
	errPipe := os.NewFile(3, "start-error")
	fail := func(err error) {
		fmt.Fprintf(errPipe, "%v", err)
		os.Exit(1)
	}
	b, err := os.ReadFile(specFile)
	if err != nil {
		fail(err)
	}
	var s initSpec
	if err := json.Unmarshal(b, &s); err != nil {
		fail(err)
	}
	if err := setupRoot(&s); err != nil {
		fail(err)
	}
	path, err := lookPath(s.Args[0], s.Env, s.Dir)
	if err != nil {
		fail(err)
	}
	if err := dropPrivileges(&s); err != nil {
		fail(err)
	}
	syscall.CloseOnExec(3)
	fail(fmt.Errorf("exec %s: %w", s.Args[0], syscall.Exec(path, s.Args, s.Env)))
}

func setupRoot(s *initSpec) error {
	// Nothing below may propagate to the host's mount table.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making / private: %w", err)
	}
	r := s.Root
	if err := syscall.Mount("tmpfs", r, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=0755,size=64m"); err != nil {
		return fmt.Errorf("tmpfs root: %w", err)
	}
	for _, d := range hostDirs {
		fi, err := os.Lstat(d)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			return err
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(d)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, r+d); err != nil {
				return err
			}
		default:
			if err := bind(d, r+d, true); err != nil {
				return err
			}
		}
	}
	for _, f := range s.Files {
		if err := os.MkdirAll(filepath.Dir(r+f.Path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(r+f.Path, []byte(f.Content), f.Mode); err != nil {
			return err
		}
	}
	if err := os.Mkdir(r+"/proc", 0o555); err != nil {
		return err
	}
	if err := syscall.Mount("proc", r+"/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	if err := setupDev(r); err != nil {
		return err
	}
	for _, d := range []string{"/tmp", "/root"} {
		mode := os.FileMode(0o700)
		if d == "/tmp" {
			mode = 0o777 | os.ModeSticky
		}
		if err := os.Mkdir(r+d, mode); err != nil {
			return err
		}
		if err := os.Chmod(r+d, mode); err != nil { // umask
			return err
		}
	}
	// Parents before children, as runtimes order them by destination depth.
	sort.SliceStable(s.Mounts, func(i, j int) bool {
		return strings.Count(filepath.Clean(s.Mounts[i].Target), "/") < strings.Count(filepath.Clean(s.Mounts[j].Target), "/")
	})
	for _, m := range s.Mounts {
		if err := bind(m.Source, r+m.Target, m.ReadOnly); err != nil {
			return err
		}
	}
	if s.Dir != "" {
		if err := os.MkdirAll(r+s.Dir, 0o755); err != nil {
			return fmt.Errorf("working directory %s: %w", s.Dir, err)
		}
	}
	if err := pivot(r); err != nil {
		return err
	}
	if s.ReadOnlyRoot {
		// Only the root mount: volumes, /dev, /proc and /dev/termination-log stay writable,
		// as with a runtime's readonly rootfs.
		if err := syscall.Mount("", "/", "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV, ""); err != nil {
			return fmt.Errorf("remounting / read-only: %w", err)
		}
	}
	if err := syscall.Sethostname([]byte(s.Hostname)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	return nil
}

func setupDev(r string) error {
	dev := r + "/dev"
	if err := os.Mkdir(dev, 0o755); err != nil {
		return err
	}
	if err := syscall.Mount("tmpfs", dev, "tmpfs", syscall.MS_NOSUID|syscall.MS_STRICTATIME, "mode=0755,size=65536k"); err != nil {
		return fmt.Errorf("tmpfs /dev: %w", err)
	}
	for _, d := range devices {
		if err := bind("/dev/"+d, dev+"/"+d, false); err != nil {
			return err
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, dev+"/"+name); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dev+"/shm", 0o1777); err != nil {
		return err
	}
	return syscall.Mount("shm", dev+"/shm", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "mode=1777,size=65536k")
}

// bind mounts source at target (created as a file or directory like source), read-only
// when asked: a bind mount takes the read-only flag only from a second, remounting call.
func bind(source, target string, readOnly bool) error {
	fi, err := os.Stat(source)
	if err != nil {
		return fmt.Errorf("mount source: %w", err)
	}
	if fi.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("mount point %s: %w", target, err)
	}
	if err := syscall.Mount(source, target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", source, target, err)
	}
	if readOnly {
		if err := syscall.Mount("", target, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV, ""); err != nil {
			return fmt.Errorf("remount %s read-only: %w", target, err)
		}
	}
	return nil
}

// pivot makes r the root and detaches the host's tree, so nothing of it stays reachable.
func pivot(r string) error {
	old := r + "/.oldroot"
	if err := os.Mkdir(old, 0o700); err != nil {
		return err
	}
	if err := syscall.PivotRoot(r, old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := syscall.Unmount("/.oldroot", syscall.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	return os.Remove("/.oldroot")
}

func dropPrivileges(s *initSpec) error {
	keep := map[int]bool{}
	for _, c := range s.Caps {
		keep[c] = true
	}
	last := 40
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		_, _ = fmt.Sscan(string(b), &last) // unreadable: keep the default
	}
	for c := 0; c <= last; c++ {
		if !keep[c] {
			if err := prctl(prCapbsetDrop, uintptr(c)); err != nil {
				return fmt.Errorf("dropping capability %d: %w", c, err)
			}
		}
	}
	groups := make([]int, len(s.Groups))
	for i, g := range s.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(int(s.GID)); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(int(s.UID)); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	// A credential change clears the parent-death signal: set it again.
	if err := prctl(prSetPdeathsig, uintptr(syscall.SIGKILL)); err != nil {
		return err
	}
	if s.Dir != "" {
		if err := os.Chdir(s.Dir); err != nil {
			return fmt.Errorf("working directory: %w", err)
		}
	}
	if s.NoNewPrivs {
		if err := prctl(prSetNoNewPrivs, 1); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	return nil
}

// lookPath finds the command on the container's PATH, as a runtime does.
func lookPath(cmd string, env []string, dir string) (string, error) {
	if strings.Contains(cmd, "/") {
		if !filepath.IsAbs(cmd) && dir != "" {
			return filepath.Join(dir, cmd), nil
		}
		return cmd, nil
	}
	path := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, cmd)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("executable file %q not found in $PATH", cmd)
}

const (
	prSetPdeathsig  = 1
	prSetNoNewPrivs = 38
	prCapbsetDrop   = 24
)

func prctl(option, arg uintptr) error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, option, arg, 0); e != 0 {
		return e
	}
	return nil
}
