package kube

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// DeleteNamespace starts deleting the namespace if owner created it. It reports whether
// a deletion is under way (so the caller knows whether to wait).
func (c *Client) DeleteNamespace(ctx context.Context, name, owner string) (bool, error) {
	c.namespaces.forget(name)
	ns, err := c.cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, wrap("read namespace "+name, err)
	}
	if !Owned(ns, owner) {
		return false, nil
	}
	if ns.DeletionTimestamp != nil {
		return true, nil
	}
	err = c.cs.CoreV1().Namespaces().Delete(ctx, name, preconditions(ns.UID))
	if IsNotFound(err) {
		return false, nil
	}
	return err == nil, wrap("delete namespace "+name, err)
}

// WaitNamespaceGone waits, with a watch, until the namespace no longer exists. Namespace
// finalization takes seconds at least (the namespace controller waits before it acts).
// The caller bounds the wait with ctx. Transient API errors are retried, and watches that
// keep ending at once are spaced out, with backoff on the client's clock.
func (c *Client) WaitNamespaceGone(ctx context.Context, name string) error {
	api := c.cs.CoreV1().Namespaces()
	op := "wait for namespace " + name + " to be deleted"
	r := newRetryWait(c.clock)
	for {
		ns, err := api.Get(ctx, name, metav1.GetOptions{})
		if IsNotFound(err) {
			return nil
		}
		if err != nil {
			if r.retry(ctx, op, err, nil) != nil {
				if ctx.Err() != nil {
					return namespaceWaitErr(name, ctx.Err())
				}
				return wrap(op, err)
			}
			continue
		}
		if ns.DeletionTimestamp == nil {
			// Not being deleted: created again meanwhile (for example by another
			// resource of the same apply). Nothing will go away, so nothing to wait for.
			return nil
		}
		timeout := int64(c.timeout.Seconds() * 0.8)
		opened := c.clock.Now()
		w, err := api.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: ns.ResourceVersion,
			TimeoutSeconds:  &timeout,
		})
		if err != nil {
			if r.retry(ctx, "watch namespace "+name, err, nil) != nil {
				if ctx.Err() != nil {
					return namespaceWaitErr(name, ctx.Err())
				}
				return wrap("watch namespace "+name, err)
			}
			continue
		}
		gone, changes, err := drainUntilDeleted(ctx, w)
		w.Stop()
		if gone {
			return nil
		}
		if err != nil {
			return namespaceWaitErr(name, err)
		}
		// The watch ended (server timeout, a too-old resourceVersion, a cut stream): look
		// again, after a pause if it ended at once.
		if err := r.watchEnded(ctx, changes, opened); err != nil {
			return namespaceWaitErr(name, err)
		}
	}
}

// drainUntilDeleted reads the watch until the namespace is deleted or the watch ends;
// changes counts the updates seen on the way (finalizers going, say).
func drainUntilDeleted(ctx context.Context, w watch.Interface) (gone bool, changes int, err error) {
	for {
		select {
		case <-ctx.Done():
			return false, changes, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, changes, nil
			}
			switch ev.Type {
			case watch.Deleted:
				return true, changes, nil
			case watch.Error:
				return false, changes, nil
			case watch.Added, watch.Modified:
				changes++
			}
		}
	}
}

func namespaceWaitErr(name string, err error) error {
	return fmt.Errorf("namespace %s is still terminating: %w", name, err)
}

// ensureNamespaceOnce is EnsureNamespace (no labels) for the install paths, asked once
// per run and namespace: hundreds of apps share a few namespaces, and the first ones of a
// run, started together, share one ensure (single-flight). A namespace deleted since (by
// this run's DeleteNamespace, which forgets it, or out of band) makes the next create in
// it fail in a way namespaceGone recognises; the caller then forgets it and ensures again.
func (c *Client) ensureNamespaceOnce(ctx context.Context, name, owner string) error {
	var err error
	for range 2 {
		if _, ok := c.namespaces.get(name); ok {
			return nil
		}
		_, err, _ = c.nsFlight.Do(name+"\x00"+owner, func() (any, error) {
			if _, err := c.EnsureNamespace(ctx, name, nil, nil, owner); err != nil {
				return nil, err
			}
			c.namespaces.put(name, "")
			return nil, nil
		})
		// The caller that made the shared call may have ended (its context) while this
		// one's is live: ask once more.
		if err == nil || ctx.Err() != nil || !(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return err
		}
	}
	return err
}

// namespaceGone: a create failed because its namespace no longer exists (404 naming the
// namespace) or is being deleted (the namespace lifecycle admission's 403).
func namespaceGone(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	st := status.Status()
	if st.Details == nil {
		return false
	}
	for _, cause := range st.Details.Causes {
		if cause.Type == corev1.NamespaceTerminatingCause {
			return true
		}
	}
	return st.Code == 404 && st.Details.Kind == "namespaces"
}
