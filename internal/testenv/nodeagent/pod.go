package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// podWorker is one owned pod's life on the node: it prepares, runs and reports the pod,
// reacting to its newest version (deletion) and its deadline.
type podWorker struct {
	a               *Agent
	uid             types.UID
	namespace, name string
	dir             string
	ctx             context.Context
	cancel          context.CancelFunc
	updates         chan *corev1.Pod // capacity 1: only the newest version matters
	container       string

	mu   sync.Mutex
	logs *logFile // nil until the container started

	pod   *corev1.Pod // newest seen
	start time.Time   // status.startTime: when the agent first saw the pod
}

func (a *Agent) newWorker(parent context.Context, pod *corev1.Pod) *podWorker {
	ctx, cancel := context.WithCancel(parent)
	return &podWorker{a: a, uid: pod.UID, namespace: pod.Namespace, name: pod.Name, dir: a.podDir(pod.UID),
		ctx: ctx, cancel: cancel, updates: make(chan *corev1.Pod, 1), pod: pod, container: pod.Spec.Containers[0].Name}
}

func (w *podWorker) offer(pod *corev1.Pod) {
	for {
		select {
		case w.updates <- pod:
			return
		default:
			select {
			case <-w.updates:
			default:
			}
		}
	}
}

func (w *podWorker) logf(format string, args ...any) {
	w.a.opts.Log("pod %s/%s: "+format, append([]any{w.namespace, w.name}, args...)...)
}

// event is what a worker waits for besides its process.
type event int

const (
	evNone event = iota
	evDeleted
	evDeadline
	evGone
)

// wait blocks until d passes (0: forever), the pod is being deleted, its deadline passes or
// the worker is cancelled.
func (w *podWorker) wait(d time.Duration, deadlineC <-chan time.Time) event {
	var timeout <-chan time.Time
	if d > 0 {
		t := w.a.opts.Clock.NewTimer(d)
		defer t.Stop()
		timeout = t.C()
	}
	for {
		if w.pod.DeletionTimestamp != nil {
			return evDeleted
		}
		select {
		case p := <-w.updates:
			w.pod = p
		case <-deadlineC:
			return evDeadline
		case <-timeout:
			return evNone
		case <-w.ctx.Done():
			return evGone
		}
	}
}

func (w *podWorker) run() {
	defer func() {
		if err := removePodDir(w.dir); err != nil {
			w.logf("cleanup: %v", err)
		}
	}()
	pod := <-w.updates
	w.pod = pod
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		w.finished() // a pod this agent (or an earlier one) already ran
		return
	}
	if pod.Status.Phase == corev1.PodRunning {
		// The process it ran is gone with the agent that started it.
		w.report(containerState{image: pod.Spec.Containers[0].Image, done: &corev1.ContainerStateTerminated{
			ExitCode: 137, Reason: "ContainerStatusUnknown", Message: "The node agent restarted while the container ran"}}, "", "")
		w.finished()
		return
	}
	now := w.a.opts.Clock.Now()
	start := now
	if pod.Status.StartTime != nil {
		start = pod.Status.StartTime.Time
	}
	w.start = start
	var deadlineC <-chan time.Time
	if at, ok := deadline(start, pod.Spec.ActiveDeadlineSeconds); ok {
		t := w.a.opts.Clock.NewTimer(at.Sub(now))
		defer t.Stop()
		deadlineC = t.C()
	}
	c := pod.Spec.Containers[0]
	cs := containerState{image: c.Image}
	fail := func(reason, msg string) {
		cs.done = &corev1.ContainerStateTerminated{ExitCode: 128, Reason: reason, Message: msg}
		w.report(cs, "", "")
		w.finished()
	}
	if len(pod.Spec.Containers) != 1 || len(pod.Spec.InitContainers) != 0 || pod.Spec.RestartPolicy == corev1.RestartPolicyAlways {
		fail("Unsupported", "the clusterkit node agent runs pods with exactly one container, no init containers and restartPolicy Never or OnFailure (run once)")
		return
	}
	if ev := w.prepare(&cs, deadlineC); ev != evNone {
		w.stopBeforeStart(cs, ev)
		return
	}
	proc, err := w.startContainer(&cs)
	if err != nil {
		fail("StartError", err.Error())
		return
	}
	cs.started = proc.started
	w.report(cs, "", "")
	w.logf("running as pid %d", proc.pid)

	var podReason, podMessage string
	var killAt <-chan time.Time
	kill := func(grace time.Duration) {
		_ = syscall.Kill(proc.pid, syscall.SIGTERM)
		t := w.a.opts.Clock.NewTimer(grace)
		killAt = t.C()
	}
	terminating := false
	for running := true; running; {
		select {
		case <-proc.done:
			running = false
		case p := <-w.updates:
			w.pod = p
			if p.DeletionTimestamp != nil && !terminating {
				terminating = true
				kill(gracePeriod(p))
			}
		case <-deadlineC:
			deadlineC = nil
			podReason, podMessage = "DeadlineExceeded", DeadlineExceededMessage
			if !terminating {
				terminating = true
				kill(gracePeriod(&corev1.Pod{Spec: w.pod.Spec}))
			}
		case <-killAt:
			killAt = nil
			_ = syscall.Kill(proc.pid, syscall.SIGKILL)
		case <-w.ctx.Done():
			_ = syscall.Kill(proc.pid, syscall.SIGKILL)
			<-proc.done
			return
		}
	}
	cs.done = w.terminated(proc, c)
	w.report(cs, podReason, podMessage)
	w.logf("exited %d (%s)", cs.done.ExitCode, cs.done.Reason)
	w.finished()
}

// finished waits, the pod being terminal, for its deletion, which it completes.
func (w *podWorker) finished() {
	if w.wait(0, nil) == evDeleted {
		w.deletePod()
		<-w.ctx.Done() // until the informer reports it gone
	}
}

// stopBeforeStart ends a pod whose container never started.
func (w *podWorker) stopBeforeStart(cs containerState, ev event) {
	switch ev {
	case evDeadline:
		w.report(cs, "DeadlineExceeded", DeadlineExceededMessage)
		w.finished()
	case evDeleted:
		w.report(cs, "", "")
		w.deletePod()
		<-w.ctx.Done()
	}
}

// deletePod finishes a deletion the way kubelet does: grace 0, for this pod's UID only.
func (w *podWorker) deletePod() {
	zero := int64(0)
	err := w.a.cs.CoreV1().Pods(w.namespace).Delete(w.ctx, w.name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &w.uid}})
	// A terminal pod is deleted at once by the apiserver, so its worker may be cancelled first.
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && w.ctx.Err() == nil {
		w.logf("delete: %v", err)
	}
}

// report writes the pod status from cs, re-reading the pod on conflicts.
func (w *podWorker) report(cs containerState, podReason, podMessage string) {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := w.a.cs.CoreV1().Pods(w.namespace).Get(w.ctx, w.name, metav1.GetOptions{})
		if err != nil || cur.UID != w.uid {
			return err
		}
		applyStatus(&cur.Status, cur, cs, w.start, w.a.opts.Clock.Now(), podReason, podMessage)
		_, err = w.a.cs.CoreV1().Pods(w.namespace).UpdateStatus(w.ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) && !errors.Is(err, context.Canceled) {
		w.logf("status: %v", err)
	}
}

// prepare finds the image's toolset and materialises the volumes and env; until it can, the
// container waits the way kubelet shows it (ErrImagePull/ImagePullBackOff, ContainerCreating,
// CreateContainerConfigError).
func (w *podWorker) prepare(cs *containerState, deadlineC <-chan time.Time) event {
	c := w.pod.Spec.Containers[0]
	backoff := w.a.opts.ImagePullBackoff
	for {
		if _, ok := w.a.cfg.Toolsets[c.Image]; ok {
			break
		}
		var known []string
		for k := range w.a.cfg.Toolsets {
			known = append(known, k)
		}
		sort.Strings(known)
		cs.waiting = &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: fmt.Sprintf(
			"Failed to pull image %q: not available on this test node (the node agent has %s)", c.Image, strings.Join(known, ", "))}
		w.report(*cs, "", "")
		if ev := w.wait(time.Second, deadlineC); ev != evNone {
			return ev
		}
		cs.waiting = &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: fmt.Sprintf("Back-off pulling image %q", c.Image)}
		w.report(*cs, "", "")
		if ev := w.wait(backoff, deadlineC); ev != evNone {
			return ev
		}
		backoff = min(2*backoff, 5*time.Minute)
	}
	for {
		reason, err := w.materialise()
		if err == nil {
			return evNone
		}
		cs.waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: err.Error()}
		w.logf("%s: %v", reason, err)
		w.report(*cs, "", "")
		if ev := w.wait(2*time.Second, deadlineC); ev != evNone {
			return ev
		}
	}
}

// process is a started container.
type process struct {
	pid     int
	started time.Time
	done    chan struct{} // closed when reaped and its output read
	status  syscall.WaitStatus
	err     error
}

func (w *podWorker) specFile() string { return filepath.Join(w.dir, "init.json") }

// startContainer runs the init in new namespaces and waits until it has exec'd the command
// (or failed to, which fd 3 reports).
func (w *podWorker) startContainer(cs *containerState) (*process, error) {
	logs, err := newLogFile(filepath.Join(w.dir, "container.log"), w.a.opts.Clock)
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	startR, startW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{Path: w.a.self, Args: []string{InitArg0, w.specFile()}, Env: []string{},
		Stdin: devNull, Stdout: outW, Stderr: errW, ExtraFiles: []*os.File{startW},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
			Pdeathsig:  syscall.SIGKILL,
		}}
	p := &process{done: make(chan struct{})}
	started := make(chan error, 1)
	// The parent-death signal follows the thread that forked: it stays locked and alive
	// until the child is reaped.
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		outW.Close()
		errW.Close()
		startW.Close()
		devNull.Close()
		started <- err
		if err != nil {
			outR.Close()
			errR.Close()
			return
		}
		copied := make(chan struct{}, 2)
		go func() { logs.copyFrom("stdout", outR); outR.Close(); copied <- struct{}{} }()
		go func() { logs.copyFrom("stderr", errR); errR.Close(); copied <- struct{}{} }()
		p.err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			p.status = ws
		}
		// The pid namespace died with PID 1, so the pipes reach EOF promptly.
		<-copied
		<-copied
		logs.close()
		close(p.done)
	}()
	if err := <-started; err != nil {
		startR.Close()
		return nil, err
	}
	msg, _ := io.ReadAll(startR)
	startR.Close()
	if len(msg) > 0 {
		<-p.done
		return nil, errors.New(string(msg))
	}
	p.pid, p.started = cmd.Process.Pid, w.a.opts.Clock.Now()
	w.mu.Lock()
	w.logs = logs
	w.mu.Unlock()
	return p, nil
}

// terminated is the container's final state: exit code, reason and termination message.
func (w *podWorker) terminated(p *process, c corev1.Container) *corev1.ContainerStateTerminated {
	code := exitCode(p.status)
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	file, _ := os.ReadFile(filepath.Join(w.dir, "termination-log"))
	return &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason,
		StartedAt:  metav1.NewTime(p.started),
		FinishedAt: metav1.NewTime(w.a.opts.Clock.Now()),
		Message:    terminationMessage(file, c.TerminationMessagePolicy, code, w.currentLogs().output),
	}
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func (w *podWorker) currentLogs() *logFile {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logs
}
