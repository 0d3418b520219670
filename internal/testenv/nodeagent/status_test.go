package nodeagent

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLogTail(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	got := logTail([]byte(b.String()))
	if !strings.HasPrefix(got, "line 21\n") || !strings.HasSuffix(got, "line 100") || strings.Count(got, "\n") != 79 {
		t.Errorf("80-line tail: %q", got)
	}
	long := strings.Repeat("x", 3000) + "\nlast\n"
	if got := logTail([]byte(long)); len(got) != 2048 || !strings.HasSuffix(got, "x\nlast") {
		t.Errorf("2048-byte tail: %d bytes, ends %q", len(got), got[len(got)-10:])
	}
	if got := logTail([]byte("only\n")); got != "only" {
		t.Errorf("short tail %q", got)
	}
}

func TestTerminationMessage(t *testing.T) {
	logs := func() []byte { return []byte("a\nError: boom\n") }
	fallback := corev1.TerminationMessageFallbackToLogsOnError
	for _, tc := range []struct {
		file   string
		policy corev1.TerminationMessagePolicy
		code   int32
		want   string
	}{
		{"from file", fallback, 1, "from file"},
		{"", fallback, 1, "a\nError: boom"},
		{"", fallback, 0, ""},
		{"", corev1.TerminationMessageReadFile, 1, ""},
		{strings.Repeat("y", 5000), "", 0, strings.Repeat("y", 4096)},
	} {
		if got := terminationMessage([]byte(tc.file), tc.policy, tc.code, logs); got != tc.want {
			t.Errorf("terminationMessage(%.10q, %s, %d) = %.20q, want %.20q", tc.file, tc.policy, tc.code, got, tc.want)
		}
	}
}

func TestExitCodeAndDeadline(t *testing.T) {
	// WaitStatus encoding: exit code in bits 8-15, a killing signal in the low 7 bits.
	if got := exitCode(syscall.WaitStatus(3 << 8)); got != 3 {
		t.Errorf("exit 3 -> %d", got)
	}
	if got := exitCode(syscall.WaitStatus(syscall.SIGKILL)); got != 137 {
		t.Errorf("SIGKILL -> %d", got)
	}
	if got := exitCode(syscall.WaitStatus(syscall.SIGTERM)); got != 143 {
		t.Errorf("SIGTERM -> %d", got)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	two := int64(2)
	if at, ok := deadline(start, &two); !ok || !at.Equal(start.Add(2*time.Second)) {
		t.Errorf("deadline %v %v", at, ok)
	}
	if _, ok := deadline(start, nil); ok {
		t.Error("a deadline without activeDeadlineSeconds")
	}
	five, thirty := int64(5), int64(30)
	pod := &corev1.Pod{Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &thirty}}
	if g := gracePeriod(pod); g != 30*time.Second {
		t.Errorf("grace %v", g)
	}
	pod.DeletionGracePeriodSeconds = &five
	if g := gracePeriod(pod); g != 5*time.Second {
		t.Errorf("deletion grace %v", g)
	}
	if g := gracePeriod(&corev1.Pod{}); g != 30*time.Second {
		t.Errorf("default grace %v", g)
	}
}

func TestApplyStatus(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u1"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "helm", Image: "alpine/helm:4.3.2"}}}}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}}
	applyStatus(&st, pod, containerState{image: "alpine/helm:4.3.2", started: t0}, t0, t0, "", "")
	cs := st.ContainerStatuses[0]
	if st.Phase != corev1.PodRunning || !cs.Ready || cs.State.Running == nil || !cs.State.Running.StartedAt.Equal(&metav1.Time{Time: t0}) || st.HostIP != "127.0.0.1" || !st.StartTime.Time.Equal(t0) {
		t.Fatalf("running status %+v", st)
	}
	cond := map[corev1.PodConditionType]corev1.ConditionStatus{}
	for _, c := range st.Conditions {
		cond[c.Type] = c.Status
	}
	for _, typ := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if cond[typ] != corev1.ConditionTrue {
			t.Errorf("%s = %s", typ, cond[typ])
		}
	}
	t1 := t0.Add(time.Second)
	applyStatus(&st, pod, containerState{image: "x", started: t0, done: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}, t0, t1, "DeadlineExceeded", DeadlineExceededMessage)
	if st.Phase != corev1.PodFailed || st.Reason != "DeadlineExceeded" {
		t.Errorf("a deadline kill with exit 0 is %s/%s, want Failed/DeadlineExceeded", st.Phase, st.Reason)
	}
	for _, c := range st.Conditions {
		if c.Type == corev1.PodReady && (c.Status != corev1.ConditionFalse || !c.LastTransitionTime.Time.Equal(t1)) {
			t.Errorf("Ready after the end: %+v", c)
		}
		if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
			t.Errorf("PodScheduled lost: %+v", c)
		}
	}
}

func TestCapabilities(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		sc   *corev1.SecurityContext
		want []int
	}{
		{nil, []int{0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31}},
		{&corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}, nil},
		{&corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}}}, []int{10}},
		{&corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"CAP_KILL", "NET_RAW"}, Add: []corev1.Capability{"SYS_ADMIN"}}}, []int{0, 1, 3, 4, 6, 7, 8, 10, 18, 21, 27, 29, 31}},
		{&corev1.SecurityContext{Privileged: &yes}, func() (all []int) {
			for i := 0; i <= 40; i++ {
				all = append(all, i)
			}
			return all
		}()},
	} {
		if got := capabilities(tc.sc); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("capabilities(%+v) = %v, want %v", tc.sc, got, tc.want)
		}
	}
}
