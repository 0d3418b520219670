package kube

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// DeleteNamespace starts deleting the namespace if owner created it. It reports whether
// a deletion is under way (so the caller knows whether to wait).
func (c *Client) DeleteNamespace(ctx context.Context, name, owner string) (bool, error) {
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
// The caller bounds the wait with ctx.
func (c *Client) WaitNamespaceGone(ctx context.Context, name string) error {
	api := c.cs.CoreV1().Namespaces()
	for {
		ns, err := api.Get(ctx, name, metav1.GetOptions{})
		if IsNotFound(err) {
			return nil
		}
		if err != nil {
			return wrap("wait for namespace "+name+" to be deleted", err)
		}
		if ns.DeletionTimestamp == nil {
			// Not being deleted: created again meanwhile (for example by another
			// resource of the same apply). Nothing will go away, so nothing to wait for.
			return nil
		}
		timeout := int64(c.timeout.Seconds() * 0.8)
		w, err := api.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: ns.ResourceVersion,
			TimeoutSeconds:  &timeout,
		})
		if err != nil {
			if ctx.Err() != nil {
				return namespaceWaitErr(name, ctx.Err())
			}
			return wrap("watch namespace "+name, err)
		}
		gone, err := drainUntilDeleted(ctx, w)
		w.Stop()
		if gone {
			return nil
		}
		if err != nil {
			return namespaceWaitErr(name, err)
		}
		// The watch ended (server timeout or a too-old resourceVersion): look again.
	}
}

func drainUntilDeleted(ctx context.Context, w watch.Interface) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			if ev.Type == watch.Deleted {
				return true, nil
			}
			if ev.Type == watch.Error {
				return false, nil
			}
		}
	}
}

func namespaceWaitErr(name string, err error) error {
	return fmt.Errorf("namespace %s is still terminating: %w", name, err)
}
