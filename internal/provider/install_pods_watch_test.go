package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

// podLog records every state of one release's install pods that the API server showed
// a watch: install pods are deleted once they succeed, so tests check their spec and
// outcome here.
type podLog struct {
	mu   sync.Mutex
	pods map[string][]corev1.Pod // by pod name, in the order seen
	uids map[string]bool
}

// podEnv is the install pod's environment: the script's inputs.
func podEnv(p *corev1.Pod) map[string]string {
	env := map[string]string{}
	for _, e := range p.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	return env
}

func watchInstallPods(t *testing.T, cs kubernetes.Interface, release string) *podLog {
	t.Helper()
	l := &podLog{pods: map[string][]corev1.Pod{}, uids: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	api := cs.CoreV1().Pods(kube.DefaultInstallNamespace)
	opts := metav1.ListOptions{LabelSelector: kube.LabelApp + "=" + release}
	list, err := api.List(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		rv := list.ResourceVersion
		for ctx.Err() == nil {
			w, err := api.Watch(ctx, metav1.ListOptions{LabelSelector: opts.LabelSelector, ResourceVersion: rv})
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			for ev := range w.ResultChan() {
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					if ev.Type == watch.Error { // expired: start from now
						rv = ""
					}
					continue
				}
				rv = p.ResourceVersion
				l.add(p)
			}
			w.Stop()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return l
}

func (l *podLog) add(p *corev1.Pod) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pods[p.Name] = append(l.pods[p.Name], *p.DeepCopy())
	l.uids[string(p.UID)] = true
}

// seen returns the states of pod name seen so far, oldest first.
func (l *podLog) seen(name string) []corev1.Pod {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]corev1.Pod(nil), l.pods[name]...)
}

// podUIDs lists the distinct pods called name, in creation order.
func (l *podLog) podUIDs(name string) []string {
	var out []string
	have := map[string]bool{}
	for _, p := range l.seen(name) {
		if !have[string(p.UID)] {
			have[string(p.UID)] = true
			out = append(out, string(p.UID))
		}
	}
	return out
}

// expectRan checks that a pod called name ended in phase (count pods in all).
func (l *podLog) expectRan(name string, count int, phase corev1.PodPhase) error {
	uids := l.podUIDs(name)
	if len(uids) != count {
		return fmt.Errorf("want %d pods %s, saw %d", count, name, len(uids))
	}
	last := uids[len(uids)-1]
	for _, p := range l.seen(name) {
		if string(p.UID) == last && p.Status.Phase == phase {
			return nil
		}
	}
	return fmt.Errorf("pod %s (uid %s) was never seen in phase %s", name, last, phase)
}

// created is the newest pod called name as it was created.
func (l *podLog) created(name string) (corev1.Pod, error) {
	uids := l.podUIDs(name)
	if len(uids) == 0 {
		return corev1.Pod{}, fmt.Errorf("no pod %s was seen", name)
	}
	for _, p := range l.seen(name) {
		if string(p.UID) == uids[len(uids)-1] {
			return p, nil
		}
	}
	panic("unreachable")
}

// addReleaseRecord stores one more revision of a release the way helm's Secret driver
// does, as another helm client would (a release left failed or pending by someone else's
// operation), for Read's reaction to such states.
func addReleaseRecord(t *testing.T, cs kubernetes.Interface, r kube.Release) {
	t.Helper()
	if _, err := cs.CoreV1().Secrets(r.Namespace).Create(context.Background(), kube.EncodeReleaseSecret(r), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// deleteNamespaceAtEnd removes a release namespace the test (or helm) made: destroy
// leaves release namespaces alone on purpose.
// deleteNamespaceAtEnd deletes the namespace after the test and waits until it is gone, so
// the next test that uses the same name does not meet it terminating.
func deleteNamespaceAtEnd(t *testing.T, cs kubernetes.Interface, name string) {
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
		waitGone(t, cs, name)
	})
}

// waitPodGone waits until pod ns/name no longer exists.
func waitPodGone(cs kubernetes.Interface, ns, name string) error {
	return wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, nil
	})
}

// expectValuesConfigMap checks the values ConfigMap of release name: owned by the app,
// holding every wanted fragment of values.yaml and none of the unwanted ones.
func expectValuesConfigMap(cs kubernetes.Interface, name, owner string, want, unwanted []string) error {
	cm, err := cs.CoreV1().ConfigMaps(installNS).Get(context.Background(), kube.ValuesConfigMapName(name), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("values config map: %w", err)
	}
	if err := expectOwned("config map", cm.Name, cm.Labels, cm.Annotations, owner); err != nil {
		return err
	}
	values := cm.Data[kube.ValuesFile]
	for _, w := range want {
		if !strings.Contains(values, w) {
			return fmt.Errorf("values.yaml lacks %q:\n%s", w, values)
		}
	}
	for _, u := range unwanted {
		for k, v := range cm.Data {
			if strings.Contains(v, u) {
				return fmt.Errorf("config map key %s holds %q", k, u)
			}
		}
	}
	return nil
}

func expectAbsent(kind string, err error) error {
	if err == nil {
		return fmt.Errorf("%s still exists", kind)
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// expectInstallPodSpec checks what the install pod was created with.
func expectInstallPodSpec(p corev1.Pod, name, release, version string, labels map[string]string) error {
	c := p.Spec.Containers[0]
	env := podEnv(&p)
	switch {
	case c.Image != kube.DefaultInstallerImage:
		return fmt.Errorf("image %s", c.Image)
	case p.Spec.ServiceAccountName != kube.InstallerServiceAccountName(p.Labels[kube.LabelApp]):
		return fmt.Errorf("service account %s", p.Spec.ServiceAccountName)
	case p.Spec.RestartPolicy != corev1.RestartPolicyNever:
		return fmt.Errorf("restart policy %s", p.Spec.RestartPolicy)
	case env["CLUSTERKIT_ACTION"] != "install" || env["RELEASE_NAME"] != name || env["RELEASE_NAMESPACE"] != release ||
		env["CHART_VERSION"] != version:
		return fmt.Errorf("pod does not install %s %s into %s: inputs %v", name, version, release, env)
	case len(c.VolumeMounts) == 0 || c.VolumeMounts[0].MountPath != kube.ConfigDir(name) || !c.VolumeMounts[0].ReadOnly:
		return fmt.Errorf("values mount %v", c.VolumeMounts)
	case p.Labels[kube.LabelAction] != "install" || p.Labels[kube.LabelApp] != name:
		return fmt.Errorf("labels %v", p.Labels)
	}
	for k, v := range labels {
		if p.Labels[k] != v {
			return fmt.Errorf("label %s=%q, want %q", k, p.Labels[k], v)
		}
	}
	return nil
}
