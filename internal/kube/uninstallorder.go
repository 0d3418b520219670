package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/clock"
)

// Apps destroyed together are uninstalled in order: an app waits for the apps with a
// lower uninstall order that are being uninstalled at the same time (the ingress
// controller outlives the apps reached through it, the CNI goes last). Terraform runs
// independent deletes in parallel, so the apps coordinate through their values
// ConfigMaps: each records its order, and marks itself as uninstalling (with a deadline)
// when its delete starts; the ConfigMap goes when the delete is done.
const (
	AnnotationUninstallOrder = "clusterkit.dev/uninstall-order"
	// AnnotationUninstalling holds the RFC 3339 time until which the app's delete may run.
	AnnotationUninstalling = "clusterkit.dev/uninstalling-until"
	// DefaultUninstallSettle is how long an app gives the deletes started in the same run
	// to mark themselves before it stops looking for more apps to wait for.
	DefaultUninstallSettle = 3 * time.Second
)

// MarkUninstalling marks the app as being uninstalled until now+timeout. An app whose
// values ConfigMap is gone has nothing to mark.
func (c *Client) MarkUninstalling(ctx context.Context, spec InstallSpec, timeout time.Duration) error {
	until := c.clock.Now().Add(timeout).UTC().Format(time.RFC3339)
	return c.patchUninstalling(ctx, spec, &until)
}

// UnmarkUninstalling clears the mark after a delete that failed, so that no other app
// waits for it.
func (c *Client) UnmarkUninstalling(ctx context.Context, spec InstallSpec) error {
	return c.patchUninstalling(ctx, spec, nil)
}

func (c *Client) patchUninstalling(ctx context.Context, spec InstallSpec, until *string) error {
	spec = spec.WithDefaults()
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{AnnotationUninstalling: until}}})
	if err != nil {
		return err
	}
	name := ValuesConfigMapName(spec.Name)
	op := fmt.Sprintf("mark config map %s/%s", spec.Namespace, name)
	// The merge patch is idempotent: a blip is retried a few times, like a read.
	var got *corev1.ConfigMap
	err = c.retryCall(ctx, op, readAttempts, nil, func() error {
		var err error
		got, err = c.cs.CoreV1().ConfigMaps(spec.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	key := spec.Namespace + "/" + name
	c.marked.forget(key)
	if IsNotFound(err) {
		return nil
	}
	if err == nil && until != nil && Owned(got, spec.Owner) {
		// The answer names the ConfigMap's UID: the delete after the uninstall needs no read.
		c.marked.put(key, got.UID)
	}
	return wrap(op, err)
}

// WaitForEarlierUninstalls waits while apps that uninstall before this one (a lower
// uninstall order) are being uninstalled. For up to settle it also waits for such apps
// to mark themselves; an app that has not by then is staying. It returns the apps it
// waited for, in name order.
//
// Only an app with an order relation ever waits: one that some app of the namespace's
// records (their values ConfigMaps' order annotations) precedes. An app of order 0 (every
// custom chart; no order is lower) returns at once without a call.
func (c *Client) WaitForEarlierUninstalls(ctx context.Context, spec InstallSpec, settle time.Duration) ([]string, error) {
	spec = spec.WithDefaults()
	if spec.UninstallOrder <= 0 {
		return nil, nil
	}
	api := c.cs.CoreV1().ConfigMaps(spec.Namespace)
	op := "watch config maps in " + spec.Namespace
	sel := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedByValue}).String() + "," + LabelApp
	var list *corev1.ConfigMapList
	err := c.retryCall(ctx, "list config maps in "+spec.Namespace, 0, nil, func() error {
		var err error
		list, err = api.List(ctx, metav1.ListOptions{LabelSelector: sel})
		return err
	})
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("list config maps in "+spec.Namespace, err)
	}
	earlier := map[string]bool{}
	for i := range list.Items {
		if app := list.Items[i].Labels[LabelApp]; app != spec.Name && uninstallOrder(&list.Items[i]) < spec.UninstallOrder {
			earlier[app] = true
		}
	}
	if len(earlier) == 0 {
		return nil, nil
	}

	// The informer behind UntilWithSync retries failed lists and watches by itself, with
	// its own backoff: right for transient errors, but a permanent one (403, say) would
	// hold the wait until ctx ends. The ListWatch keeps the first permanent error and
	// ends the wait at once (every phase's context derives from lwCtx).
	lwCtx, lwCancel := context.WithCancel(ctx)
	defer lwCancel()
	var failMu sync.Mutex
	var failed error
	keep := func(callCtx context.Context, err error) error {
		if err == nil || callCtx.Err() != nil || errors.Is(err, context.Canceled) ||
			apierrors.IsResourceExpired(err) || apierrors.IsGone(err) { // the informer lists again
			return err
		}
		if ok, _ := transientError(err); !ok {
			failMu.Lock()
			if failed == nil {
				failed = err
			}
			failMu.Unlock()
			lwCancel()
		}
		return err
	}
	permanent := func() error {
		failMu.Lock()
		defer failMu.Unlock()
		return failed
	}
	// The client says whether it can stream the initial list (a real API server can, the
	// fake clientset of unit tests cannot).
	lw := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = sel
			l, err := api.List(ctx, o)
			return l, keep(ctx, err)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = sel
			w, err := api.Watch(ctx, o)
			return w, keep(ctx, err)
		},
	}, c.cs)
	marked := map[string]time.Time{} // earlier apps being uninstalled now, until their mark's deadline
	settled := map[string]bool{}     // earlier apps marked, or already gone
	waitedFor := map[string]bool{}
	observe := func(cm *corev1.ConfigMap, deleted bool) {
		app := cm.Labels[LabelApp]
		if !earlier[app] {
			return
		}
		if until, ok := markedUntil(cm, c.clock.Now()); ok && !deleted {
			marked[app], waitedFor[app], settled[app] = until, true, true
			return
		}
		delete(marked, app)
		if deleted {
			settled[app] = true
		}
	}
	fromStore := func(store cache.Store) {
		clear(marked)
		present := map[string]bool{}
		for _, obj := range store.List() {
			if cm, ok := obj.(*corev1.ConfigMap); ok {
				present[cm.Labels[LabelApp]] = true
				observe(cm, false)
			}
		}
		for app := range earlier {
			if !present[app] {
				settled[app] = true // its delete is already done
			}
		}
	}
	onEvent := func(done func() bool) watchtools.ConditionFunc {
		return func(ev watch.Event) (bool, error) {
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok {
				observe(cm, ev.Type == watch.Deleted)
			}
			return done(), nil
		}
	}

	// Settle: until every earlier app has marked itself (or is gone), or settle is over.
	allSettled := func() bool { return len(settled) == len(earlier) }
	settleCtx, cancel := withClockTimeout(lwCtx, c.clock, settle)
	defer cancel()
	_, err = watchtools.UntilWithSync(settleCtx, lw, &corev1.ConfigMap{},
		func(store cache.Store) (bool, error) { fromStore(store); return allSettled(), nil },
		onEvent(allSettled))
	settleOver := settleCtx.Err() != nil
	cancel()
	switch {
	case ctx.Err() != nil:
		return sortedKeys(waitedFor), fmt.Errorf("waiting for %v to be uninstalled first: %w", sortedKeys(marked), ctx.Err())
	case permanent() != nil:
		return nil, wrap(op, permanent())
	case err != nil && !settleOver:
		return nil, wrap(op, err)
	}

	// Then until none of them is being uninstalled any more. A mark whose deadline passes
	// (a delete that died without clearing it) stops counting then: look again at the
	// earliest deadline.
	noneMarked := func() bool { return len(marked) == 0 }
	for {
		// Drop the marks whose deadline has passed before arming the timer on the next
		// one: a timer armed on a past deadline fires before UntilWithSync lists, so the
		// store would never clear the mark, and the loop would list again and again.
		now := c.clock.Now()
		var earliest time.Time
		for app, until := range marked {
			if !now.Before(until) {
				delete(marked, app)
				continue
			}
			if earliest.IsZero() || until.Before(earliest) {
				earliest = until
			}
		}
		waitCtx, cancel := context.WithCancel(lwCtx)
		if !earliest.IsZero() {
			cancel()
			waitCtx, cancel = withClockTimeout(lwCtx, c.clock, earliest.Sub(now))
		}
		_, err = watchtools.UntilWithSync(waitCtx, lw, &corev1.ConfigMap{},
			func(store cache.Store) (bool, error) { fromStore(store); return noneMarked(), nil },
			onEvent(noneMarked))
		expired := waitCtx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return sortedKeys(waitedFor), fmt.Errorf("waiting for %v to be uninstalled first: %w", sortedKeys(marked), ctx.Err())
		case permanent() != nil:
			return sortedKeys(waitedFor), wrap(op, permanent())
		case expired && err != nil:
			continue // a mark's deadline passed: list again
		case err != nil:
			return sortedKeys(waitedFor), wrap(op, err)
		}
		return sortedKeys(waitedFor), nil
	}
}

// withClockTimeout is context.WithTimeout on clk, so tests can step it. The timer is
// armed before it returns.
func withClockTimeout(ctx context.Context, clk clock.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	fired := clk.After(d)
	go func() {
		select {
		case <-fired:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// markedUntil: the app is marked as uninstalling and the mark's deadline has not passed
// (a delete that died without clearing its mark holds no one up for longer than its
// timeout).
func markedUntil(cm *corev1.ConfigMap, now time.Time) (time.Time, bool) {
	until, err := time.Parse(time.RFC3339, cm.Annotations[AnnotationUninstalling])
	return until, err == nil && now.Before(until)
}

func uninstallOrder(cm *corev1.ConfigMap) int {
	n, err := strconv.Atoi(cm.Annotations[AnnotationUninstallOrder])
	if err != nil {
		return 0
	}
	return max(n, 0) // orders start at 0 (see WaitForEarlierUninstalls)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
