package testenv

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// agentStack starts a stack with the node agent (TF_ACC=1 only) and a namespace with an
// installer service account allowed to read secrets there (what helm list needs).
func agentStack(t *testing.T, ctx context.Context) (*Stack, kubernetes.Interface, string) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("starts the real stack; runs with TF_ACC=1 (make testacc)")
	}
	t0 := time.Now()
	s, err := Start(ctx, Options{Log: t.Logf, NodeAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stack with node agent started in %s", since(t0))
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: s.Host, BearerToken: s.AdminToken, TLSClientConfig: rest.TLSClientConfig{CAData: []byte(s.CAPEM)}})
	if err != nil {
		t.Fatal(err)
	}
	ns := "agent-test"
	objs := []func() error{
		func() error {
			_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "installer"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "helm-reader"},
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch"}}}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "helm-reader"},
				RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "helm-reader"},
				Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "installer", Namespace: ns}}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"},
				Data: map[string][]byte{"password": []byte("s3cret")}}, metav1.CreateOptions{})
			return err
		},
	}
	for _, f := range objs {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	// The ServiceAccount admission plugin needs the service account's token controller to
	// have seen it; kube-root-ca.crt must exist for the projected volume.
	for {
		_, err1 := cs.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err1 == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("kube-root-ca.crt never appeared in %s: %v", ns, err1)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s, cs, ns
}

// helmPod is an install-like pod: nobody, read-only root, /tmp emptyDir, a 0440 secret.
func helmPod(ns, name, image, script string) *corev1.Pod {
	uid, yes, no := int64(65534), true, false
	ro, def := int32(0o440), int32(0o444)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			RestartPolicy:      corev1.RestartPolicyNever,
			ServiceAccountName: "installer",
			SecurityContext:    &corev1.PodSecurityContext{RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid, RunAsNonRoot: &yes},
			Containers: []corev1.Container{{
				Name: "helm", Image: image, Command: []string{"/bin/sh", "-ec", script},
				Env: []corev1.EnvVar{{Name: "HOME", Value: "/tmp"}, {Name: "HELM_CACHE_HOME", Value: "/tmp/helm/cache"},
					{Name: "HELM_CONFIG_HOME", Value: "/tmp/helm/config"}, {Name: "HELM_DATA_HOME", Value: "/tmp/helm/data"},
					{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
					{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}}},
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/config", ReadOnly: true}, {Name: "tmp", MountPath: "/tmp"}},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			}},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: &def, Sources: []corev1.VolumeProjection{
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"},
						Items: []corev1.KeyToPath{{Key: "password", Path: "password", Mode: &ro}}}}}}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
}

// untilPod waits for the pod to satisfy done, starting from the current state.
func untilPod(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name string, done func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return cs.CoreV1().Pods(ns).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return cs.CoreV1().Pods(ns).Watch(ctx, o)
		},
	}
	ev, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(e watch.Event) (bool, error) {
		p, ok := e.Object.(*corev1.Pod)
		return ok && e.Type != watch.Deleted && done(p), nil
	})
	if err != nil {
		p, _ := cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		t.Fatalf("pod %s/%s: %v; last status %+v", ns, name, err, p.Status)
	}
	return ev.Object.(*corev1.Pod)
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func run(t *testing.T, ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) (*corev1.Pod, string) {
	t.Helper()
	t0 := time.Now()
	if _, err := cs.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	untilPod(t, ctx, cs, pod.Namespace, pod.Name, func(p *corev1.Pod) bool { return p.Status.Phase != corev1.PodPending || terminal(p) })
	t.Logf("%s: create -> Running in %s", pod.Name, since(t0))
	got := untilPod(t, ctx, cs, pod.Namespace, pod.Name, terminal)
	logs, err := cs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "helm"}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("pods/log: %v", err)
	}
	return got, string(logs)
}

func terminated(t *testing.T, p *corev1.Pod) *corev1.ContainerStateTerminated {
	t.Helper()
	if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Terminated == nil {
		t.Fatalf("container statuses: %+v", p.Status.ContainerStatuses)
	}
	return p.Status.ContainerStatuses[0].State.Terminated
}

func TestNodeAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, cs, ns := agentStack(t, ctx)
	apiPort := strings.TrimPrefix(s.Host, "https://127.0.0.1:")

	t.Run("helm4", func(t *testing.T) {
		// $$$$: kubelet turns $$ into $ in a command (its $(VAR) escaping), so the shell sees $$.
		script := `echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
echo "pid=$$$$ host=$(uname -n) HOSTNAME=$HOSTNAME"
echo "ns=$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace) env-ns=$POD_NAMESPACE password=$PASSWORD"
test "$(cat /config/password)" = s3cret && echo secret-readable
if touch /rootfile 2>/dev/null; then echo root-writable; else echo root-read-only; fi
touch /tmp/x && echo tmp-writable
echo "api=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"
echo "version=$(helm version --template '{{.Version}}')"
echo "releases=$(helm list -n "$POD_NAMESPACE" -q | wc -l)"
`
		got, logs := run(t, ctx, cs, helmPod(ns, "helm4", Helm4Image, script))
		for _, want := range []string{
			"uid=65534 gid=65534 groups=65534\n", "pid=1 host=helm4 HOSTNAME=helm4\n", "ns=" + ns + " env-ns=" + ns + " password=s3cret\n",
			"secret-readable\n", "root-read-only\n", "tmp-writable\n", "api=127.0.0.1:" + apiPort + "\n", "version=v4.3.2\n", "releases=0\n",
		} {
			if !strings.Contains(logs, want) {
				t.Errorf("logs lack %q:\n%s", want, logs)
			}
		}
		term := terminated(t, got)
		if got.Status.Phase != corev1.PodSucceeded || term.ExitCode != 0 || term.Reason != "Completed" || term.StartedAt.IsZero() || term.FinishedAt.Before(&term.StartedAt) {
			t.Errorf("phase %s, terminated %+v", got.Status.Phase, term)
		}
		if got.Status.StartTime == nil || got.Status.HostIP != "127.0.0.1" {
			t.Errorf("startTime %v hostIP %q", got.Status.StartTime, got.Status.HostIP)
		}
		tail, err := cs.CoreV1().Pods(ns).GetLogs("helm4", &corev1.PodLogOptions{TailLines: ptr(int64(1))}).DoRaw(ctx)
		if err != nil || string(tail) != "releases=0\n" {
			t.Errorf("tailLines=1: %q %v", tail, err)
		}
	})

	t.Run("helm3", func(t *testing.T) {
		got, logs := run(t, ctx, cs, helmPod(ns, "helm3", "docker.io/"+Helm3Image, `helm version --template '{{.Version}}'; echo`))
		if logs != "v3.22.0\n" || got.Status.Phase != corev1.PodSucceeded {
			t.Errorf("phase %s, logs %q", got.Status.Phase, logs)
		}
	})

	// The chart sources: an install pod reaches the HTTP repository and the OCI registry on
	// 127.0.0.1 over TLS, trusting the stack's CA as its image does.
	t.Run("chart sources", func(t *testing.T) {
		if s.Charts == nil || !strings.HasPrefix(s.Charts.RepoURL, "https://127.0.0.1:") || !strings.HasPrefix(s.Charts.OCIPublicRegistry, "oci://127.0.0.1:") {
			t.Fatalf("chart sources %+v", s.Charts)
		}
		env := s.Env()
		if env["CLUSTERKIT_TEST_CHART_REPO_URL"] != s.Charts.RepoURL || env["CLUSTERKIT_TEST_CHART_MIRRORS"] == "" {
			t.Fatalf("stack env lacks the chart sources: %v", env)
		}
		script := "helm show chart demo --repo " + s.Charts.RepoURL + " --version 0.1.0 | grep -E '^(name|version):'\n" +
			"helm show chart " + s.Charts.OCIPublicRegistry + "/demo --version 0.2.0 2>/dev/null | grep -E '^version:'\n"
		got, logs := run(t, ctx, cs, helmPod(ns, "charts", Helm4Image, script))
		if got.Status.Phase != corev1.PodSucceeded || logs != "name: demo\nversion: 0.1.0\nversion: 0.2.0\n" {
			t.Errorf("phase %s, logs %q", got.Status.Phase, logs)
		}
	})

	// A root container keeps the runtime's default bounding set unless it drops it, and a
	// dropped CAP_SYS_ADMIN keeps the read-only root read-only.
	t.Run("root", func(t *testing.T) {
		pod := helmPod(ns, "root", Helm4Image, `id -u; grep CapBnd /proc/self/status; mount -o remount,rw / 2>/dev/null && echo remounted || echo not-remounted`)
		pod.Spec.SecurityContext = nil
		_, logs := run(t, ctx, cs, pod)
		if want := "0\nCapBnd:\t0000000000000000\nnot-remounted\n"; logs != want {
			t.Errorf("drop ALL: logs %q, want %q", logs, want)
		}
		pod = helmPod(ns, "root-default", Helm4Image, `grep CapBnd /proc/self/status`)
		pod.Spec.SecurityContext, pod.Spec.Containers[0].SecurityContext = nil, nil
		if _, logs := run(t, ctx, cs, pod); logs != "CapBnd:\t00000000a80425fb\n" {
			t.Errorf("default capabilities: %q", logs)
		}
	})

	t.Run("start error", func(t *testing.T) {
		pod := helmPod(ns, "no-such-command", Helm4Image, "")
		pod.Spec.Containers[0].Command = []string{"helmfile", "apply"}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := untilPod(t, ctx, cs, ns, pod.Name, terminal)
		term := terminated(t, got)
		if got.Status.Phase != corev1.PodFailed || term.Reason != "StartError" || term.ExitCode != 128 || term.Message != `executable file "helmfile" not found in $PATH` {
			t.Errorf("phase %s, terminated %+v", got.Status.Phase, term)
		}
	})

	t.Run("fails", func(t *testing.T) {
		// stdout and stderr are separate pipes (as with a runtime): their order may differ.
		got, logs := run(t, ctx, cs, helmPod(ns, "fails", Helm4Image, `echo step one; echo "Error: it broke" >&2; exit 3`))
		term := terminated(t, got)
		for _, text := range []string{logs, term.Message + "\n"} {
			if text != "step one\nError: it broke\n" && text != "Error: it broke\nstep one\n" {
				t.Errorf("logs or termination message %q", text)
			}
		}
		if got.Status.Phase != corev1.PodFailed || term.ExitCode != 3 || term.Reason != "Error" {
			t.Errorf("phase %s, terminated %+v", got.Status.Phase, term)
		}
		// FallbackToLogsOnError takes the last 80 lines.
		got, _ = run(t, ctx, cs, helmPod(ns, "fails-long", Helm4Image, `seq 1 100; exit 1`))
		if want := strings.Join(strings.Fields(seqString(21, 100)), "\n"); terminated(t, got).Message != want {
			t.Errorf("termination message %q, want lines 21-100", terminated(t, got).Message)
		}
		got, _ = run(t, ctx, cs, helmPod(ns, "fails-file", Helm4Image, `echo helm said no > /dev/termination-log; echo noise; exit 2`))
		if term := terminated(t, got); term.ExitCode != 2 || term.Message != "helm said no\n" {
			t.Errorf("terminated %+v", term)
		}
	})

	// Deleting a running pod: SIGTERM to PID 1, SIGKILL after the grace period, the final
	// status, then the pod is gone.
	deleteRunning := func(t *testing.T, name, script string, grace int64) (last *corev1.Pod, took time.Duration) {
		pod := helmPod(ns, name, Helm4Image, script)
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		untilPod(t, ctx, cs, ns, name, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		for { // the script is up once it printed "ready"
			logs, _ := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
			if strings.Contains(string(logs), "ready") {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		t0 := time.Now()
		if err := cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
			t.Fatal(err)
		}
		for e := range w.ResultChan() {
			if p, ok := e.Object.(*corev1.Pod); ok && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Terminated != nil {
				last = p
			}
			if e.Type == watch.Deleted {
				return last, time.Since(t0)
			}
		}
		t.Fatal("watch ended before the pod was deleted")
		return nil, 0
	}
	t.Run("sigterm", func(t *testing.T) {
		last, took := deleteRunning(t, "trap", `trap 'echo got SIGTERM > /dev/termination-log; exit 0' TERM; echo ready; while :; do sleep 0.1; done`, 5)
		if last == nil || terminated(t, last).ExitCode != 0 || terminated(t, last).Message != "got SIGTERM\n" || took > 4*time.Second {
			t.Errorf("after %s: %+v", took, last)
		}
	})
	t.Run("sigkill", func(t *testing.T) {
		last, took := deleteRunning(t, "sleeper", `echo ready; sleep 1000`, 2)
		if last == nil || terminated(t, last).ExitCode != 137 || took < 2*time.Second || took > 6*time.Second {
			t.Errorf("after %s: %+v", took, last)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		pod := helmPod(ns, "deadline", Helm4Image, `echo started; sleep 1000`)
		two, one := int64(2), int64(1)
		pod.Spec.ActiveDeadlineSeconds, pod.Spec.TerminationGracePeriodSeconds = &two, &one
		got, logs := run(t, ctx, cs, pod)
		term := terminated(t, got)
		if got.Status.Phase != corev1.PodFailed || got.Status.Reason != "DeadlineExceeded" || got.Status.Message != "Pod was active on the node longer than the specified deadline" || term.ExitCode != 137 || logs != "started\n" {
			t.Errorf("status %s/%s/%q, terminated %+v, logs %q", got.Status.Phase, got.Status.Reason, got.Status.Message, term, logs)
		}
		if d := term.FinishedAt.Sub(got.Status.StartTime.Time); d < 2*time.Second || d > 5*time.Second {
			t.Errorf("killed %s after start", d)
		}
	})

	t.Run("unknown image", func(t *testing.T) {
		image := "registry.example.com/mirror/helm:0.0.1"
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, helmPod(ns, "unknown", image, "true"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		got := untilPod(t, ctx, cs, ns, "unknown", func(p *corev1.Pod) bool {
			if cs := p.Status.ContainerStatuses; len(cs) == 1 && cs[0].State.Waiting != nil {
				seen[cs[0].State.Waiting.Reason] = true
				if !strings.Contains(cs[0].State.Waiting.Message, `"`+image+`"`) {
					t.Errorf("waiting message %q does not name the image", cs[0].State.Waiting.Message)
				}
			}
			return seen["ErrImagePull"] && seen["ImagePullBackOff"]
		})
		if got.Status.Phase != corev1.PodPending || got.Status.ContainerStatuses[0].Ready {
			t.Errorf("phase %s ready %v", got.Status.Phase, got.Status.ContainerStatuses[0].Ready)
		}
		for _, c := range got.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status != corev1.ConditionFalse {
				t.Errorf("Ready %s", c.Status)
			}
		}
	})

	t.Run("kwok workloads", func(t *testing.T) { kwokWorkloads(t, ctx, cs, ns) })
}

func ptr[T any](v T) *T { return &v }

func seqString(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		b.WriteString(strconv.Itoa(i) + " ")
	}
	return b.String()
}

// kwokWorkloads: what charts create stays with kwok and becomes ready (or, annotated, never).
func kwokWorkloads(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string) {
	deploy := func(name string, ann map[string]string) {
		labels := map[string]string{"app": name}
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: ann},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10"}}}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	deploy("web", nil)
	deploy("stuck", map[string]string{AnnotationNeverReady: "true"})
	for {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status.ReadyReplicas == 2 && d.Status.AvailableReplicas == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("deployment web: %+v", d.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=stuck"})
	if err != nil || len(pods.Items) != 2 {
		t.Fatalf("stuck pods: %v %v", len(pods.Items), err)
	}
	got := untilPod(t, ctx, cs, ns, pods.Items[0].Name, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	for _, c := range got.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionFalse {
			t.Errorf("never-ready pod Ready=%s", c.Status)
		}
	}
	if d, _ := cs.AppsV1().Deployments(ns).Get(ctx, "stuck", metav1.GetOptions{}); d.Status.ReadyReplicas != 0 {
		t.Errorf("stuck deployment has %d ready replicas", d.Status.ReadyReplicas)
	}

	// A Job's pod that exits 1 (kwok annotation) with backoffLimit 0 fails the Job.
	_, err = cs.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "fails"},
		Spec: batchv1.JobSpec{BackoffLimit: ptr(int32(0)), Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationExitCode: "1", AnnotationRunTime: "100ms"}},
			Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "job", Image: "busybox:1.37"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for failed := false; !failed; {
		j, err := cs.BatchV1().Jobs(ns).Get(ctx, "fails", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range j.Status.Conditions {
			failed = failed || (c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue && c.Reason == "BackoffLimitExceeded")
		}
		if ctx.Err() != nil {
			t.Fatalf("job never failed: %+v", j.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// LoadBalancer Services get a test-domain hostname unless annotated.
	for _, name := range []string{"lb", "lb-off"} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}
		if name == "lb-off" {
			svc.Annotations = map[string]string{AnnotationNoLoadBalancer: "true"}
		}
		if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for {
		svc, err := cs.CoreV1().Services(ns).Get(ctx, "lb", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if in := svc.Status.LoadBalancer.Ingress; len(in) > 0 {
			if len(in) != 1 || in[0].Hostname != "lb."+ns+".lb.clusterkit.test" || in[0].IP != "" {
				t.Errorf("ingress %+v", in)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatal("service lb never got an ingress")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if svc, _ := cs.CoreV1().Services(ns).Get(ctx, "lb-off", metav1.GetOptions{}); len(svc.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("annotated service got %+v", svc.Status.LoadBalancer.Ingress)
	}
}
