package kube

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// Ensured says what an ensure call did, so callers can report adoption.
type Ensured int

const (
	Existed Ensured = iota // found, left as it was (or adopted)
	Created
	Updated
)

// EnsureServiceAccount creates namespace/name unless it exists. The create comes first
// (one request either way: an existing one answers AlreadyExists); credentials that may
// read but not create service accounts get a read instead.
func (c *Client) EnsureServiceAccount(ctx context.Context, namespace, name, owner string) (Ensured, error) {
	op := fmt.Sprintf("create service account %s/%s", namespace, name)
	sa := &corev1.ServiceAccount{ObjectMeta: ownedMeta(name, namespace, owner, nil)}
	_, err := c.cs.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
	if apierrors.IsForbidden(err) {
		if _, gerr := c.cs.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{}); gerr == nil {
			return Existed, nil
		}
	}
	return createdOrRaced(op, err)
}

// FindServiceAccount returns the service account, or nil when it does not exist.
func (c *Client) FindServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	sa, err := c.cs.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
	if IsNotFound(err) {
		return nil, nil
	}
	return sa, wrap(fmt.Sprintf("read service account %s/%s", namespace, name), err)
}

// DeleteServiceAccount deletes it if owner created it; a missing one is not an error.
func (c *Client) DeleteServiceAccount(ctx context.Context, namespace, name, owner string) error {
	sa, err := c.FindServiceAccount(ctx, namespace, name)
	if err != nil || sa == nil || !Owned(sa, owner) {
		return err
	}
	err = c.cs.CoreV1().ServiceAccounts(namespace).Delete(ctx, name, preconditions(sa.UID))
	return ignoreNotFound(wrap(fmt.Sprintf("delete service account %s/%s", namespace, name), err))
}

// NamespaceTerminatingError: the namespace is being deleted, and nothing can be created in
// it until it is gone (WaitNamespaceGone).
type NamespaceTerminatingError struct{ Name string }

func (e *NamespaceTerminatingError) Error() string {
	return "namespace " + e.Name + " is being deleted: wait until it is gone, then apply again"
}

// EnsureNamespace creates the namespace with labels, or, when owner made it, brings its
// user labels to labels (removing those listed in dropLabels). Foreign namespaces are
// adopted untouched. A namespace being deleted is a *NamespaceTerminatingError.
func (c *Client) EnsureNamespace(ctx context.Context, name string, labels map[string]string, dropLabels []string, owner string) (Ensured, error) {
	op := "create namespace " + name
	api := c.cs.CoreV1().Namespaces()
	got, err := api.Get(ctx, name, metav1.GetOptions{})
	if IsNotFound(err) {
		_, err = api.Create(ctx, &corev1.Namespace{ObjectMeta: ownedMeta(name, "", owner, labels)}, metav1.CreateOptions{})
		return createdOrRaced(op, err)
	}
	if err != nil {
		return Existed, wrap(op, err)
	}
	if got.DeletionTimestamp != nil {
		return Existed, &NamespaceTerminatingError{Name: name}
	}
	if !Owned(got, owner) || labelsMatch(got.Labels, labels, dropLabels) {
		return Existed, nil
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ns, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, k := range dropLabels {
			if k != LabelManagedBy {
				delete(ns.Labels, k)
			}
		}
		maps.Copy(ns.Labels, labels)
		ns.Labels[LabelManagedBy] = ManagedByValue
		_, err = api.Update(ctx, ns, metav1.UpdateOptions{})
		return err
	})
	return Updated, wrap("update labels of namespace "+name, err)
}

func labelsMatch(have, want map[string]string, drop []string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	for _, k := range drop {
		if _, ok := have[k]; ok && k != LabelManagedBy {
			if _, wanted := want[k]; !wanted {
				return false
			}
		}
	}
	return true
}

// FindNamespace returns the namespace, or nil when it does not exist or is terminating.
func (c *Client) FindNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	ns, err := c.cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("read namespace "+name, err)
	}
	if ns.DeletionTimestamp != nil {
		return nil, nil
	}
	return ns, nil
}

// createdOrRaced: a create that lost a race to a concurrent one (several resources of one
// apply sharing an object) found the object it wanted, which is what Ensure means.
func createdOrRaced(op string, err error) (Ensured, error) {
	if apierrors.IsAlreadyExists(err) {
		return Existed, nil
	}
	if err != nil {
		return Existed, wrap(op, err)
	}
	return Created, nil
}

// preconditions make a delete apply only to the object we looked at, not a namesake
// created in between by someone else.
func preconditions(uid types.UID) metav1.DeleteOptions {
	return metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(uid))}
}

func ignoreNotFound(err error) error {
	if IsNotFound(err) {
		return nil
	}
	return err
}
