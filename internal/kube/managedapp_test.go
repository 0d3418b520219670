package kube

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestManagedApp_InstallThenUninstall(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	finishOnCreate(cs, corev1.PodSucceeded, 0, "Completed")
	// "helm" writes its record when the install pod is created.
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Labels[LabelAction] == "install" {
			rec := EncodeReleaseSecret(Release{Name: "ingress-nginx", Namespace: "ingress", Revision: 1,
				ChartName: "ingress-nginx", ChartVersion: "4.13.3", AppVersion: "1.13.3"})
			if err := cs.Tracker().Add(rec); err != nil {
				t.Error(err)
			}
		}
		return false, nil, nil
	})
	c := NewClientForInterface(cs)
	spec := testSpec()
	res, err := c.ManagedApp(spec).Install(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pod.Pod != "install-ingress-nginx" || res.Release == nil || res.Release.Revision != 1 ||
		res.Release.Status != ReleaseDeployed || res.Release.ChartVersion != "4.13.3" {
		t.Fatalf("%+v %+v", res, res.Release)
	}
	if _, err := c.ManagedApp(spec).Uninstall(ctx, UninstallOptions{Timeout: time.Minute}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(DefaultInstallNamespace).Get(ctx, ValuesConfigMapName("ingress-nginx"), metav1.GetOptions{}); !IsNotFound(err) {
		t.Error("values left behind")
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, DefaultInstallNamespace, metav1.GetOptions{}); !IsNotFound(err) {
		t.Error("the install namespace goes with the last app (the fake deletes at once)")
	}
}

// Uninstalling an app whose installer service account is missing (an imported app) makes
// it for the uninstall pod and removes it again: nothing of the app stays behind.
func TestManagedApp_UninstallRecreatesAndRemovesItsServiceAccount(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DefaultInstallNamespace}},
		&corev1.ConfigMap{ObjectMeta: ownedMeta("values-content-configuration-other", DefaultInstallNamespace, "managed_app/x/other", map[string]string{LabelApp: "other"})})
	finishOnCreate(cs, corev1.PodSucceeded, 0, "Completed")
	var podSA string
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		podSA = a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).Spec.ServiceAccountName
		return false, nil, nil
	})
	c := NewClientForInterface(cs)
	spec := testSpec().WithDefaults()
	if _, err := c.ManagedApp(spec).Uninstall(ctx, UninstallOptions{Timeout: time.Minute}, nil); err != nil {
		t.Fatal(err)
	}
	if podSA != "installer-ingress-nginx" {
		t.Fatalf("uninstall pod ran as %q", podSA)
	}
	if _, err := cs.CoreV1().ServiceAccounts(DefaultInstallNamespace).Get(ctx, "installer-ingress-nginx", metav1.GetOptions{}); !IsNotFound(err) {
		t.Fatalf("the app's installer service account was left behind: %v", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, DefaultInstallNamespace, metav1.GetOptions{}); err != nil {
		t.Fatal("the install namespace must stay while another app's values are in it")
	}
}

// A pending release is in progress while one of the app's install or uninstall pods is
// at work; a finished or failed pod of the app is evidence that its own operation ended.
func TestManagedApp_OperationRunning(t *testing.T) {
	ctx := context.Background()
	pod := func(name string, phase corev1.PodPhase, deleting bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultInstallNamespace}, Status: corev1.PodStatus{Phase: phase}}
		if deleting {
			now := metav1.Now()
			p.DeletionTimestamp, p.Finalizers = &now, []string{"test"}
		}
		return p
	}
	for _, tc := range []struct {
		name           string
		pods           []runtime.Object
		running, ended bool
	}{
		{"no pod", nil, false, false},
		{"install running", []runtime.Object{pod("install-ingress-nginx", corev1.PodRunning, false)}, true, false},
		{"install pending", []runtime.Object{pod("install-ingress-nginx", corev1.PodPending, false)}, true, false},
		{"uninstall running", []runtime.Object{pod("uninstall-ingress-nginx", corev1.PodRunning, false)}, true, false},
		{"install failed", []runtime.Object{pod("install-ingress-nginx", corev1.PodFailed, false)}, false, true},
		{"uninstall succeeded", []runtime.Object{pod("uninstall-ingress-nginx", corev1.PodSucceeded, false)}, false, true},
		{"install being deleted", []runtime.Object{pod("install-ingress-nginx", corev1.PodRunning, true)}, false, false},
		{"another app's pod", []runtime.Object{pod("install-other", corev1.PodFailed, false)}, false, false},
	} {
		c := NewClientForInterface(fake.NewClientset(tc.pods...))
		running, ended, err := c.ManagedApp(testSpec()).OperationRunning(ctx)
		if err != nil || running != tc.running || ended != tc.ended {
			t.Errorf("%s: running %v ended %v (%v), want %v %v", tc.name, running, ended, err, tc.running, tc.ended)
		}
	}
}

// An uninstall that finds the release left pending says so (and uninstalls it as usual).
func TestManagedApp_UninstallReportsAReleaseLeftPending(t *testing.T) {
	ctx := context.Background()
	rec := EncodeReleaseSecret(Release{Name: "ingress-nginx", Namespace: "ingress", Revision: 1, Status: ReleasePendingInstall, ChartName: "ingress-nginx", ChartVersion: "4.13.3"})
	cs := fake.NewClientset(rec)
	finishOnCreate(cs, corev1.PodSucceeded, 0, "Completed")
	c := NewClientForInterface(cs)
	res, err := c.ManagedApp(testSpec()).Uninstall(ctx, UninstallOptions{Timeout: time.Minute, FailedInstall: true, Settle: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pod.Pod != "uninstall-ingress-nginx" || res.LeftPending == nil || res.LeftPending.Status != ReleasePendingInstall || res.LeftPending.Revision != 1 {
		t.Fatalf("pod %q, left pending %+v", res.Pod.Pod, res.LeftPending)
	}
}
