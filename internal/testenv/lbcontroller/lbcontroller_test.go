package lbcontroller

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestRun(t *testing.T) {
	svc := func(name string, typ corev1.ServiceType, ann map[string]string, ingress ...corev1.LoadBalancerIngress) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps", Annotations: ann}, Spec: corev1.ServiceSpec{Type: typ}}
		s.Status.LoadBalancer.Ingress = ingress
		return s
	}
	cs := fake.NewClientset(
		svc("web", corev1.ServiceTypeLoadBalancer, nil),
		svc("internal", corev1.ServiceTypeClusterIP, nil),
		svc("own", corev1.ServiceTypeLoadBalancer, nil, corev1.LoadBalancerIngress{IP: "192.0.2.7"}),
		svc("skip", corev1.ServiceTypeLoadBalancer, map[string]string{AnnotationSkip: "true"}),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { Run(ctx, cs, t.Logf); close(done) }()
	get := func(name string) *corev1.Service {
		s, err := cs.CoreV1().Services("apps").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for len(get("web").Status.LoadBalancer.Ingress) == 0 {
		if ctx.Err() != nil {
			t.Fatal("web never got an ingress")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := get("web").Status.LoadBalancer.Ingress; len(got) != 1 || got[0].Hostname != "web.apps.lb.clusterkit.test" || got[0].IP != "" {
		t.Errorf("web ingress %+v", got)
	}
	// The informer has seen all four by now; give a wrong write a moment to land.
	time.Sleep(200 * time.Millisecond)
	if got := get("own").Status.LoadBalancer.Ingress; len(got) != 1 || got[0].IP != "192.0.2.7" || got[0].Hostname != "" {
		t.Errorf("own ingress changed: %+v", got)
	}
	for _, n := range []string{"internal", "skip"} {
		if got := get(n).Status.LoadBalancer.Ingress; len(got) != 0 {
			t.Errorf("%s got ingress %+v", n, got)
		}
	}
	cancel()
	<-done
}
