package testenv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

func TestEnvFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env")
	in := map[string]string{"A": "https://127.0.0.1:1234", "B_TOKEN": "abc123", "C": "/tmp/x y"}
	if err := WriteEnvFile(path, in); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if got, want := string(b), "export A='https://127.0.0.1:1234'\nexport B_TOKEN='abc123'\nexport C='/tmp/x y'\n"; got != want {
		t.Fatalf("env file:\n%s\nwant:\n%s", got, want)
	}
	out, err := LoadEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range in {
		if out[k] != v {
			t.Errorf("%s = %q, want %q", k, out[k], v)
		}
	}
	if err := WriteEnvFile(path, map[string]string{"BAD": "it's"}); err == nil {
		t.Fatal("a value with a quote was written")
	}
}

func TestPKI(t *testing.T) {
	p, err := newPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.adminToken) != 48 || p.adminToken == p.userToken {
		t.Fatalf("tokens %q %q", p.adminToken, p.userToken)
	}
	tokens, _ := os.ReadFile(p.path("tokens.csv"))
	if !strings.Contains(string(tokens), p.adminToken+",clusterkit-testenv-admin,uid-admin,\"system:masters\"") {
		t.Fatalf("tokens.csv: %s", tokens)
	}
	for _, f := range []string{"ca.crt", "apiserver.crt", "apiserver.key", "admin.crt", "admin.key", "sa.key", "sa.pub"} {
		if st, err := os.Stat(p.path(f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
}

// TestStack_PodsRunToTheirExitCode starts the real stack (TF_ACC=1, as in CI) and drives
// pods through the scheduler and kwok to the outcome their annotations ask for.
func TestStack_PodsRunToTheirExitCode(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("starts the real stack; runs with TF_ACC=1 (make testacc)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		dir := s.Dir
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("temporary dir %s survived Stop", dir)
		}
	}()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: s.Host, BearerToken: s.AdminToken, TLSClientConfig: rest.TLSClientConfig{CAData: []byte(s.CAPEM)}})
	if err != nil {
		t.Fatal(err)
	}

	// The user token authenticates but has no rights: RBAC is on.
	user, _ := kubernetes.NewForConfig(&rest.Config{Host: s.Host, BearerToken: s.UserToken, TLSClientConfig: rest.TLSClientConfig{CAData: []byte(s.CAPEM)}})
	if _, err := user.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("user token listing namespaces: %v, want forbidden", err)
	}

	cases := []struct {
		name      string
		ann       map[string]string
		wantPhase corev1.PodPhase
		wantCode  int32
	}{
		{"succeeds", map[string]string{AnnotationRunTime: "200ms"}, corev1.PodSucceeded, 0},
		{"fails", map[string]string{AnnotationExitCode: "3", AnnotationRunTime: "200ms"}, corev1.PodFailed, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "pod-" + tc.name, Namespace: "default", Annotations: tc.ann},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "main", Image: "example.invalid/none:1"}},
				},
			}
			if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			lw := &cache.ListWatch{
				ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
					o.FieldSelector = fields.OneTermEqualSelector("metadata.name", pod.Name).String()
					return cs.CoreV1().Pods("default").List(ctx, o)
				},
				WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
					o.FieldSelector = fields.OneTermEqualSelector("metadata.name", pod.Name).String()
					return cs.CoreV1().Pods("default").Watch(ctx, o)
				},
			}
			ev, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(e watch.Event) (bool, error) {
				p, ok := e.Object.(*corev1.Pod)
				return ok && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got := ev.Object.(*corev1.Pod)
			if got.Spec.NodeName != NodeName {
				t.Errorf("scheduled to %q, want %q", got.Spec.NodeName, NodeName)
			}
			if got.Status.Phase != tc.wantPhase {
				t.Errorf("phase %s, want %s", got.Status.Phase, tc.wantPhase)
			}
			if n := len(got.Status.ContainerStatuses); n != 1 || got.Status.ContainerStatuses[0].State.Terminated == nil {
				t.Fatalf("container statuses: %+v", got.Status.ContainerStatuses)
			}
			if code := got.Status.ContainerStatuses[0].State.Terminated.ExitCode; code != tc.wantCode {
				t.Errorf("exit code %d, want %d", code, tc.wantCode)
			}
			logs, err := cs.CoreV1().Pods("default").GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := "clusterkit testenv: container finished"; !strings.Contains(string(logs), want) {
				t.Errorf("logs %q do not contain %q", logs, want)
			}
		})
	}
}
