package kube

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestNamespaceGone(t *testing.T) {
	terminating := &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden,
		Details: &metav1.StatusDetails{Name: "x", Kind: "serviceaccounts", Causes: []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}},
	}}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"namespace not found", apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "team-a"), true},
		{"namespace terminating", terminating, true},
		{"wrapped", wrap("create service account x", apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "team-a")), true},
		{"another object not found", apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, "x"), false},
		{"forbidden", apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts"}, "x", errors.New("no")), false},
		{"no API answer", errors.New("dial: connection refused"), false},
		{"nil", nil, false},
	} {
		if got := namespaceGone(tc.err); got != tc.want {
			t.Errorf("%s: namespaceGone = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func namespaceReads(cs *fake.Clientset, n int) int {
	reads := 0
	for _, v := range verbs(cs, n) {
		if v == "get namespaces" {
			reads++
		}
	}
	return reads
}

// The apps of a run share a few namespaces: only the first install reads them; an app
// that meets one deleted since (out of band) reads it again and installs.
func TestManagedApp_NamespacesReadOncePerRun(t *testing.T) {
	ctx := context.Background()
	cs := withUIDs(fake.NewClientset())
	finishOnCreate(cs, corev1.PodSucceeded, 0, "Completed")
	c := NewClientForInterface(cs)
	app := func(name string) InstallSpec {
		s := testSpec()
		s.Name, s.ClusterAdmin, s.Owner = name, false, "managed_app/"+name
		return s
	}
	if _, err := c.ManagedApp(app("a")).Install(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := namespaceReads(cs, 0); got != 2 {
		t.Errorf("first app read the namespaces %d times, want 2 (install and release namespace)", got)
	}
	n := len(cs.Actions())
	if _, err := c.ManagedApp(app("b")).Install(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := namespaceReads(cs, n); got != 0 {
		t.Errorf("second app read the namespaces %d times, want 0: %q", got, verbs(cs, n))
	}

	// The release namespace is gone by the next app's turn: its binding's create says so.
	gone := true
	cs.PrependReactor("create", "rolebindings", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if gone {
			gone = false
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, a.GetNamespace())
		}
		return false, nil, nil
	})
	n = len(cs.Actions())
	if _, err := c.ManagedApp(app("c")).Install(ctx, nil); err != nil {
		t.Fatalf("an install that finds a remembered namespace gone: %v", err)
	}
	if got := namespaceReads(cs, n); got != 2 {
		t.Errorf("after the namespace was found gone: %d namespace reads, want 2: %q", got, verbs(cs, n))
	}
}

// The uninstall mark's answer names the values ConfigMap's UID: the delete after the
// uninstall pod is one DELETE by that UID, without a read.
func TestManagedApp_UninstallDeletesItsMarkedConfigMapByUID(t *testing.T) {
	ctx := context.Background()
	cs := withUIDs(fake.NewClientset())
	finishOnCreate(cs, corev1.PodSucceeded, 0, "Completed")
	c := NewClientForInterface(cs)
	spec := testSpec()
	if _, err := c.ManagedApp(spec).Install(ctx, nil); err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps(DefaultInstallNamespace).Get(ctx, ValuesConfigMapName(spec.Name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := len(cs.Actions())
	if _, err := c.ManagedApp(spec).Uninstall(ctx, UninstallOptions{Timeout: time.Minute}, nil); err != nil {
		t.Fatal(err)
	}
	var cmCalls []string
	for _, a := range cs.Actions()[n:] {
		if a.GetResource().Resource != "configmaps" {
			continue
		}
		cmCalls = append(cmCalls, a.GetVerb())
		if d, ok := a.(k8stesting.DeleteAction); ok {
			if pre := d.GetDeleteOptions().Preconditions; pre == nil || pre.UID == nil || *pre.UID != cm.UID {
				t.Errorf("the delete's precondition %+v, want UID %s", d.GetDeleteOptions().Preconditions, cm.UID)
			}
		}
	}
	// patch: the mark; list: any app's values left (for the shared namespace).
	if want := []string{"patch", "delete", "list"}; !slices.Equal(cmCalls, want) {
		t.Errorf("config map calls %q, want %q", cmCalls, want)
	}
	if _, err := cs.CoreV1().ConfigMaps(DefaultInstallNamespace).Get(ctx, ValuesConfigMapName(spec.Name), metav1.GetOptions{}); !IsNotFound(err) {
		t.Errorf("values config map after uninstall: %v", err)
	}
}

// A ConfigMap replaced after the mark (same name, new UID) is not deleted blindly: the
// UID precondition fails and it is read, and deleted only if the app owns it.
func TestManagedApp_UninstallRereadsAReplacedConfigMap(t *testing.T) {
	ctx := context.Background()
	cs := withUIDs(fake.NewClientset())
	finishOnCreate(cs, corev1.PodSucceeded, 0, "Completed")
	c := NewClientForInterface(cs)
	spec := testSpec().WithDefaults()
	if _, err := c.ManagedApp(spec).Install(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.MarkUninstalling(ctx, spec, time.Minute); err != nil {
		t.Fatal(err)
	}
	name := ValuesConfigMapName(spec.Name)
	if err := cs.CoreV1().ConfigMaps(spec.Namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	foreign := &corev1.ConfigMap{ObjectMeta: ownedMeta(name, spec.Namespace, "someone-else", nil)}
	foreign.UID = "foreign-uid"
	if err := cs.Tracker().Add(foreign); err != nil {
		t.Fatal(err)
	}
	if err := c.deleteOwnedConfigMap(ctx, spec.Namespace, name, spec.Owner); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().ConfigMaps(spec.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil || got.UID != "foreign-uid" {
		t.Fatalf("another owner's config map of the same name must stay: %v %v", got, err)
	}
}

// The first apps of a run start together: they share one read (and create) of each
// namespace instead of each asking.
func TestEnsureNamespaceOnce_SharedByConcurrentCallers(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	release := make(chan struct{})
	cs.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-release // hold the first read until every caller has asked
		return false, nil, nil
	})
	c := NewClientForInterface(cs)
	const callers = 8
	errs := make(chan error, callers)
	for range callers {
		go func() { errs <- c.ensureNamespaceOnce(ctx, "team-a", "managed_app/x") }()
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got, want := verbs(cs, 0), []string{"get namespaces", "create namespaces"}; !slices.Equal(got, want) {
		t.Errorf("%d callers sent %q, want %q", callers, got, want)
	}
	if err := c.ensureNamespaceOnce(ctx, "team-a", "managed_app/x"); err != nil || len(cs.Actions()) != 2 {
		t.Errorf("a later caller: %v, %d requests in all, want none more", err, len(cs.Actions()))
	}
}
