// Package lbcontroller gives LoadBalancer Services of the local test stack an ingress
// hostname, as a cloud provider's service controller would, so readiness checks such as
// helm --wait pass. The hostname, <service>.<namespace>.lb.clusterkit.test, is in a reserved
// test domain and resolves nowhere: nothing ever sends traffic to it.
//
// Only an empty status is filled (tests that set the status themselves keep theirs), and a
// Service annotated AnnotationSkip "true" is left alone.
package lbcontroller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// AnnotationSkip on a Service ("true") keeps this controller away from it.
const AnnotationSkip = "testenv.clusterkit.dev/no-load-balancer"

// Hostname is the ingress hostname a Service gets.
func Hostname(svc *corev1.Service) string {
	return svc.Name + "." + svc.Namespace + ".lb.clusterkit.test"
}

// Wants reports whether the controller fills in svc's status.
func Wants(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		svc.Annotations[AnnotationSkip] != "true" &&
		len(svc.Status.LoadBalancer.Ingress) == 0 &&
		svc.DeletionTimestamp == nil
}

// Run keeps LoadBalancer Services' status filled until ctx ends.
func Run(ctx context.Context, cs kubernetes.Interface, logf func(string, ...any)) {
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer q.ShutDown()
	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Core().V1().Services().Informer()
	enqueue := func(obj any) {
		if svc, ok := obj.(*corev1.Service); ok && Wants(svc) {
			if key, err := cache.MetaNamespaceKeyFunc(svc); err == nil {
				q.Add(key)
			}
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }}); err != nil {
		logf("lbcontroller: %v", err)
		return
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	go func() {
		<-ctx.Done()
		q.ShutDown()
	}()
	for {
		key, quit := q.Get()
		if quit {
			return
		}
		err := sync(ctx, cs, inf.GetIndexer(), key)
		if err != nil {
			logf("lbcontroller: %s: %v", key, err)
			q.AddRateLimited(key)
		} else {
			q.Forget(key)
		}
		q.Done(key)
	}
}

func sync(ctx context.Context, cs kubernetes.Interface, store cache.Indexer, key string) error {
	obj, ok, err := store.GetByKey(key)
	if err != nil || !ok {
		return err
	}
	svc := obj.(*corev1.Service).DeepCopy()
	if !Wants(svc) {
		return nil
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: Hostname(svc)}}
	_, err = cs.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{})
	return err
}
