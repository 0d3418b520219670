package kube

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A namespace that exists and is not terminating will never go away: waiting for it must
// return at once (another resource created it while we were about to wait), not hang.
func TestWaitNamespaceGone_ActiveNamespaceIsNotWaitedFor(t *testing.T) {
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "clusterkit-managed-apps"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := NewClientForInterface(cs).WaitNamespaceGone(ctx, "clusterkit-managed-apps"); err != nil {
		t.Fatalf("err = %v, want nil without waiting", err)
	}
	if ctx.Err() != nil {
		t.Fatal("waited until the deadline")
	}
}

func TestWaitNamespaceGone_MissingNamespace(t *testing.T) {
	if err := NewClientForInterface(fake.NewClientset()).WaitNamespaceGone(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
}
