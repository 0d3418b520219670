package kube

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// finishWith makes every created pod end in *phase (read at creation time).
func finishWith(cs *fake.Clientset, phase *corev1.PodPhase) {
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.UID = types.UID("uid-" + p.Name + "-" + time.Now().Format("150405.000000000"))
		p.Status.Phase = *phase
		code := int32(0)
		if *phase == corev1.PodFailed {
			code = 3
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "helm", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Completed"},
		}}}
		return false, nil, nil
	})
}

func TestInstallRecord_WrittenOnSuccessAndFailure(t *testing.T) {
	ctx := context.Background()
	fc := clocktesting.NewFakeClock(time.Date(2026, 11, 24, 9, 30, 15, 500, time.UTC))

	cs := fake.NewClientset()
	phase := corev1.PodSucceeded
	finishWith(cs, &phase)
	c := NewClientForInterface(cs).WithClock(fc)
	spec := testSpec()

	if rec, err := c.FindInstallRecord(ctx, spec); err != nil || rec != nil {
		t.Fatalf("before any install: %+v %v", rec, err)
	}

	res, err := c.ManagedApp(spec).Install(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := InstallRecord{Status: ReleaseDeployed, Chart: "ingress-nginx", Version: "4.13.3", InstalledAt: time.Date(2026, 11, 24, 9, 30, 15, 0, time.UTC)}
	if res.Record != want {
		t.Fatalf("result record %+v, want %+v", res.Record, want)
	}
	rec, err := c.FindInstallRecord(ctx, spec)
	if err != nil || rec == nil || *rec != want {
		t.Fatalf("found %+v %v, want %+v", rec, err, want)
	}
	cm, _ := cs.CoreV1().ConfigMaps(DefaultInstallNamespace).Get(ctx, ValuesConfigMapName(spec.Name), metav1.GetOptions{})
	if got := cm.Annotations[AnnotationInstalledAt]; got != "2026-11-24T09:30:15Z" {
		t.Errorf("installed-at annotation %q", got)
	}
	if !Owned(cm, spec.Owner) || cm.Data[ValuesFile] != spec.Values {
		t.Errorf("the record must not disturb ownership or values: %+v", cm)
	}

	// A failed upgrade to another version: the record says failed and still describes
	// the last install that worked.
	phase = corev1.PodFailed
	fc.SetTime(fc.Now().Add(time.Hour))
	upgrade := spec
	upgrade.Version = "4.14.0"
	var failed *InstallFailedError
	if _, err := c.ManagedApp(upgrade).Install(ctx, nil); !errors.As(err, &failed) || failed.ExitCode != 3 {
		t.Fatalf("upgrade: %v", err)
	}
	rec, err = c.FindInstallRecord(ctx, spec)
	want.Status = ReleaseFailed
	if err != nil || rec == nil || *rec != want {
		t.Fatalf("after failure %+v %v, want %+v", rec, err, want)
	}
}

func TestFindInstallRecord_UnknownForeignAndGarbled(t *testing.T) {
	ctx := context.Background()
	spec := testSpec()
	meta := ownedMeta(ValuesConfigMapName(spec.Name), DefaultInstallNamespace, spec.Owner, nil)
	fresh := &corev1.ConfigMap{ObjectMeta: meta}
	rec, err := NewClientForInterface(fake.NewClientset(fresh)).FindInstallRecord(ctx, spec)
	if err != nil || rec == nil || rec.Status != ReleaseUnknown || rec.Version != "" || !rec.InstalledAt.IsZero() {
		t.Fatalf("no install finished yet: %+v %v", rec, err)
	}

	garbled := fresh.DeepCopy()
	garbled.Annotations[AnnotationInstallStatus] = "pending-everything"
	garbled.Annotations[AnnotationInstalledAt] = "yesterday"
	rec, err = NewClientForInterface(fake.NewClientset(garbled)).FindInstallRecord(ctx, spec)
	if err != nil || rec == nil || rec.Status != ReleaseUnknown || !rec.InstalledAt.IsZero() {
		t.Fatalf("garbled annotations: %+v %v", rec, err)
	}

	foreign := fresh.DeepCopy()
	foreign.Annotations[AnnotationOwner] = "clusterkit_managed_app.other"
	rec, err = NewClientForInterface(fake.NewClientset(foreign)).FindInstallRecord(ctx, spec)
	if err != nil || rec != nil {
		t.Fatalf("someone else's config map is no record of ours: %+v %v", rec, err)
	}
}
