package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// secretLists counts the LISTs of Secrets the clientset saw, by namespace.
func secretLists(cs *fake.Clientset) map[string]int {
	n := map[string]int{}
	for _, a := range cs.Actions() {
		if a.GetVerb() == "list" && a.GetResource().Resource == "secrets" {
			n[a.GetNamespace()]++
		}
	}
	return n
}

func record(ns, name string, rev int, st ReleaseStatus) *corev1.Secret {
	return EncodeReleaseSecret(Release{Name: name, Namespace: ns, Revision: rev, Status: st, ChartName: "demo", ChartVersion: fmt.Sprintf("0.%d.0", rev)})
}

func TestFindReleaseCached_OneListPerNamespace(t *testing.T) {
	var objs []runtime.Object
	for i := range 200 {
		ns, name := fmt.Sprintf("ns-%d", i%4), fmt.Sprintf("app-%d", i)
		objs = append(objs, record(ns, name, 1, ReleaseSuperseded), record(ns, name, 2, ReleaseDeployed))
	}
	cs := fake.NewClientset(objs...)
	c := NewClientForInterface(cs).WithClock(clocktesting.NewFakeClock(orderT0))
	var wg sync.WaitGroup
	got := make([]*Release, 200)
	errs := make([]error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = c.FindReleaseCached(context.Background(), fmt.Sprintf("ns-%d", i%4), fmt.Sprintf("app-%d", i))
		}()
	}
	wg.Wait()
	for i := range 200 {
		if errs[i] != nil || got[i] == nil || got[i].Name != fmt.Sprintf("app-%d", i) || got[i].Revision != 2 ||
			got[i].Status != ReleaseDeployed || got[i].ChartVersion != "0.2.0" {
			t.Fatalf("app-%d: %+v %v", i, got[i], errs[i])
		}
	}
	if r, err := c.FindReleaseCached(context.Background(), "ns-0", "absent"); r != nil || err != nil {
		t.Fatalf("absent: %+v %v", r, err)
	}
	if n := secretLists(cs); len(n) != 4 || n["ns-0"] != 1 || n["ns-1"] != 1 || n["ns-2"] != 1 || n["ns-3"] != 1 {
		t.Fatalf("lists by namespace: %v, want one per namespace", n)
	}
	if len(cs.Actions()) != 4 {
		t.Fatalf("%d API calls, want 4", len(cs.Actions()))
	}
	// The list leaves superseded revisions out.
	for _, a := range cs.Actions() {
		if sel := a.(k8stesting.ListAction).GetListRestrictions().Labels.String(); sel != "owner=helm,status!=superseded" {
			t.Fatalf("selector %q", sel)
		}
	}
}

func TestFindReleaseCached_OnlyTheLatestRecordIsDecoded(t *testing.T) {
	broken := record("ns", "old-broken", 1, ReleaseFailed)
	broken.Data["release"] = []byte("not base64!")
	latestBroken := record("ns", "new-broken", 2, ReleaseDeployed)
	latestBroken.Data["release"] = []byte("not base64!")
	cs := fake.NewClientset(broken, record("ns", "old-broken", 2, ReleaseDeployed),
		record("ns", "new-broken", 1, ReleaseFailed), latestBroken)
	c := NewClientForInterface(cs).WithClock(clocktesting.NewFakeClock(orderT0))
	if r, err := c.FindReleaseCached(context.Background(), "ns", "old-broken"); err != nil || r == nil || r.Revision != 2 {
		t.Fatalf("old-broken: %+v %v", r, err)
	}
	_, err := c.FindReleaseCached(context.Background(), "ns", "new-broken")
	if de := (*ReleaseDecodeError)(nil); !errors.As(err, &de) || de.Secret != "sh.helm.release.v1.new-broken.v2" {
		t.Fatalf("new-broken: %v", err)
	}
}

// A release read once is kept decoded, without its record: a large refresh holds one
// summary per app, and reads it again without a request.
func TestFindReleaseCached_KeepsNoRecordOnceDecoded(t *testing.T) {
	cs := fake.NewClientset(record("ns", "a", 1, ReleaseSuperseded), record("ns", "a", 2, ReleaseDeployed), record("ns", "b", 1, ReleaseDeployed))
	c := NewClientForInterface(cs).WithClock(clocktesting.NewFakeClock(orderT0))
	ctx := context.Background()
	for i := range 2 {
		if r, err := c.FindReleaseCached(ctx, "ns", "a"); err != nil || r == nil || r.Revision != 2 || r.ChartVersion != "0.2.0" {
			t.Fatalf("read %d of a: %+v %v", i+1, r, err)
		}
	}
	l, err := c.releaseList(ctx, "ns")
	if err != nil {
		t.Fatal(err)
	}
	if _, kept := l.latest["a"]; kept || l.decoded["a"] == nil {
		t.Fatalf("a: record kept %v, decoded %v; want only the decoded summary", kept, l.decoded["a"] != nil)
	}
	if l.latest["b"] == nil || l.decoded["b"] != nil {
		t.Fatalf("b, not read yet: record %v, decoded %v; want the record only", l.latest["b"] != nil, l.decoded["b"] != nil)
	}
	if len(cs.Actions()) != 1 {
		t.Fatalf("%d API calls, want the one list", len(cs.Actions()))
	}
}

func TestFindReleaseCached_NeverStaleAcrossOwnChanges(t *testing.T) {
	t.Run("an app installed during the run is read back fresh", func(t *testing.T) {
		cs := fake.NewClientset(record("apps", "a", 1, ReleaseDeployed), record("apps", "b", 1, ReleaseDeployed))
		c := NewClientForInterface(cs).WithClock(clocktesting.NewFakeClock(orderT0))
		ctx := context.Background()
		if r, _ := c.FindReleaseCached(ctx, "apps", "a"); r == nil || r.Revision != 1 {
			t.Fatalf("before: %+v", r)
		}
		// The install starts (here it fails at once: its context is over), then helm writes
		// revision 2 and 3 of a while the list of the namespace is still young.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, _ = c.ManagedApp(InstallSpec{Name: "a", ReleaseNamespace: "apps", Repository: "https://charts.example.com", Chart: "demo", Version: "0.1.0"}).Install(cctx, nil)
		for _, s := range []*corev1.Secret{record("apps", "a", 2, ReleaseDeployed), record("apps", "a", 3, ReleasePendingUpgrade)} {
			if _, err := cs.CoreV1().Secrets("apps").Create(ctx, s, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := c.FindReleaseCached(ctx, "apps", "a"); err != nil || r == nil || r.Revision != 3 || r.Status != ReleasePendingUpgrade {
			t.Fatalf("after the install: %+v %v", r, err)
		}
		// Other releases of the namespace still come from the list.
		lists := secretLists(cs)["apps"]
		if r, _ := c.FindReleaseCached(ctx, "apps", "b"); r == nil || r.Revision != 1 || secretLists(cs)["apps"] != lists {
			t.Fatalf("b: %+v, lists %d -> %d", r, lists, secretLists(cs)["apps"])
		}
	})

	t.Run("an app uninstalled during the run is read back fresh", func(t *testing.T) {
		cs := fake.NewClientset(record("apps", "a", 1, ReleaseDeployed))
		cs.PrependReactor("patch", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "x", nil)
		})
		c := NewClientForInterface(cs).WithClock(clocktesting.NewFakeClock(orderT0))
		ctx := context.Background()
		if r, _ := c.FindReleaseCached(ctx, "apps", "a"); r == nil {
			t.Fatal("before: no release")
		}
		if _, err := c.ManagedApp(InstallSpec{Name: "a", ReleaseNamespace: "apps", Repository: "https://charts.example.com", Chart: "demo", Version: "0.1.0"}).
			Uninstall(ctx, UninstallOptions{Timeout: time.Minute}, nil); err == nil {
			t.Fatal("the uninstall's mark was refused, want an error")
		}
		if err := cs.CoreV1().Secrets("apps").Delete(ctx, ReleaseSecretName("a", 1), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if r, err := c.FindReleaseCached(ctx, "apps", "a"); r != nil || err != nil {
			t.Fatalf("after the uninstall: %+v %v", r, err)
		}
	})
}

func TestFindReleaseCached_OutOfBandChanges(t *testing.T) {
	cs := fake.NewClientset(record("apps", "a", 1, ReleaseDeployed))
	fc := clocktesting.NewFakeClock(orderT0)
	c := NewClientForInterface(cs).WithClock(fc)
	ctx := context.Background()
	if r, _ := c.FindReleaseCached(ctx, "apps", "a"); r == nil || r.Revision != 1 {
		t.Fatalf("first read: %+v", r)
	}
	// helm upgrades a outside Terraform.
	if _, err := cs.CoreV1().Secrets("apps").Create(ctx, record("apps", "a", 2, ReleaseDeployed), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The next run (a new provider process: a new client) reads it.
	if r, _ := NewClientForInterface(cs).FindReleaseCached(ctx, "apps", "a"); r == nil || r.Revision != 2 {
		t.Fatalf("next run: %+v", r)
	}
	// In this run, a list serves reads for ReleaseCacheMaxAge, then is made again.
	fc.Step(ReleaseCacheMaxAge - time.Second)
	if r, _ := c.FindReleaseCached(ctx, "apps", "a"); r == nil || r.Revision != 1 {
		t.Fatalf("within the list's age: %+v", r)
	}
	fc.Step(time.Second)
	if r, _ := c.FindReleaseCached(ctx, "apps", "a"); r == nil || r.Revision != 2 {
		t.Fatalf("after ReleaseCacheMaxAge: %+v", r)
	}
	if n := secretLists(cs)["apps"]; n != 3 { // this run's two lists, the next run's one
		t.Fatalf("%d lists, want 3", n)
	}
}

func TestFindReleaseCached_AFailedListIsNotKept(t *testing.T) {
	cs := fake.NewClientset(record("apps", "a", 1, ReleaseDeployed))
	refuse := true
	cs.PrependReactor("list", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if refuse {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "", nil)
		}
		return false, nil, nil
	})
	c := NewClientForInterface(cs).WithClock(clocktesting.NewFakeClock(orderT0))
	if _, err := c.FindReleaseCached(context.Background(), "apps", "a"); apiStatusCode(err) != 403 {
		t.Fatalf("got %v, want the 403", err)
	}
	refuse = false
	if r, err := c.FindReleaseCached(context.Background(), "apps", "a"); err != nil || r == nil || r.Revision != 1 {
		t.Fatalf("second read: %+v %v", r, err)
	}
	if n := secretLists(cs)["apps"]; n != 2 {
		t.Fatalf("%d lists, want 2", n)
	}
}
