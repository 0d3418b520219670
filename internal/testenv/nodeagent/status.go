package nodeagent

import (
	"bytes"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kubelet's limits for a termination message taken from the logs, and for the file.
const (
	maxTerminationLogLines = 80
	maxTerminationLogBytes = 2048
	maxTerminationFile     = 4096

	// DeadlineExceededMessage is the pod message of a pod killed for activeDeadlineSeconds.
	DeadlineExceededMessage = "Pod was active on the node longer than the specified deadline"
)

// logTail is what FallbackToLogsOnError puts in the termination message: the last 80 lines,
// then at most the last 2048 bytes of those.
func logTail(out []byte) string {
	out = bytes.TrimSuffix(out, []byte("\n"))
	lines := 0
	start := len(out)
	for start > 0 {
		i := bytes.LastIndexByte(out[:start], '\n')
		lines++
		if lines == maxTerminationLogLines || i < 0 {
			start = i + 1
			break
		}
		start = i
	}
	tail := out[start:]
	if len(tail) > maxTerminationLogBytes {
		tail = tail[len(tail)-maxTerminationLogBytes:]
	}
	return string(tail)
}

// terminationMessage picks the container's termination message as kubelet does: the file's
// content when there is any, else (FallbackToLogsOnError, failed) the log tail.
func terminationMessage(file []byte, policy corev1.TerminationMessagePolicy, exitCode int32, logs func() []byte) string {
	if len(file) > maxTerminationFile {
		file = file[:maxTerminationFile]
	}
	if len(file) > 0 || policy != corev1.TerminationMessageFallbackToLogsOnError || exitCode == 0 {
		return string(file)
	}
	return logTail(logs())
}

// exitCode is a process's code as a runtime reports it: 128+signal when killed.
func exitCode(ws syscall.WaitStatus) int32 {
	if ws.Signaled() {
		return 128 + int32(ws.Signal())
	}
	return int32(ws.ExitStatus())
}

// deadline is when a pod started at start passes activeDeadlineSeconds; ok is false without one.
func deadline(start time.Time, activeDeadlineSeconds *int64) (at time.Time, ok bool) {
	if activeDeadlineSeconds == nil || start.IsZero() {
		return time.Time{}, false
	}
	return start.Add(time.Duration(*activeDeadlineSeconds) * time.Second), true
}

// gracePeriod is how long a deleted pod's PID 1 has between SIGTERM and SIGKILL.
func gracePeriod(pod *corev1.Pod) time.Duration {
	if g := pod.DeletionGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
}

// setCondition sets one pod condition, keeping the transition time when the status stays.
func setCondition(st *corev1.PodStatus, now metav1.Time, typ corev1.PodConditionType, status corev1.ConditionStatus, reason string) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type == typ {
			if c.Status != status {
				c.LastTransitionTime = now
			}
			c.Status, c.Reason = status, reason
			return
		}
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: typ, Status: status, Reason: reason, LastTransitionTime: now})
}

// containerState is what the agent knows of a pod's one container.
type containerState struct {
	image   string
	started time.Time // zero until it runs
	waiting *corev1.ContainerStateWaiting
	done    *corev1.ContainerStateTerminated
}

// applyStatus writes the kubelet's view of the pod into st (the pod's current status, so
// conditions others own, PodScheduled above all, survive).
func applyStatus(st *corev1.PodStatus, pod *corev1.Pod, cs containerState, startTime time.Time, now time.Time, podReason, podMessage string) {
	t := metav1.NewTime(now)
	st.HostIP = "127.0.0.1"
	st.HostIPs = []corev1.HostIP{{IP: "127.0.0.1"}}
	st.PodIP, st.PodIPs = "127.0.0.1", []corev1.PodIP{{IP: "127.0.0.1"}} // host network
	if st.StartTime == nil {
		st.StartTime = &metav1.Time{Time: startTime}
	}
	st.Reason, st.Message = podReason, podMessage
	c := pod.Spec.Containers[0]
	status := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: "", ContainerID: ""}
	if !cs.started.IsZero() {
		status.ImageID = "clusterkit-node-agent://" + cs.image
		status.ContainerID = "clusterkit-node-agent://" + string(pod.UID)
	}
	f := false
	status.Started = &f
	switch {
	case cs.done != nil:
		st.Phase = corev1.PodSucceeded
		if cs.done.ExitCode != 0 || podReason != "" {
			st.Phase = corev1.PodFailed
		}
		status.State.Terminated = cs.done
		for _, typ := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
			setCondition(st, t, typ, corev1.ConditionFalse, "PodCompleted")
		}
		setCondition(st, t, corev1.PodInitialized, corev1.ConditionTrue, "PodCompleted")
		setCondition(st, t, "PodReadyToStartContainers", corev1.ConditionFalse, "")
	case !cs.started.IsZero():
		st.Phase = corev1.PodRunning
		tr := true
		status.Ready, status.Started = true, &tr
		status.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cs.started)}
		setCondition(st, t, "PodReadyToStartContainers", corev1.ConditionTrue, "")
		for _, typ := range []corev1.PodConditionType{corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
			setCondition(st, t, typ, corev1.ConditionTrue, "")
		}
	default:
		st.Phase = corev1.PodPending
		status.State.Waiting = cs.waiting
		setCondition(st, t, "PodReadyToStartContainers", corev1.ConditionTrue, "")
		setCondition(st, t, corev1.PodInitialized, corev1.ConditionTrue, "")
		for _, typ := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
			setCondition(st, t, typ, corev1.ConditionFalse, "ContainersNotReady")
		}
	}
	st.ContainerStatuses = []corev1.ContainerStatus{status}
}
