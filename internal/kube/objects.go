package kube

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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

// EnsureServiceAccount creates namespace/name unless it exists.
func (c *Client) EnsureServiceAccount(ctx context.Context, namespace, name, owner string) (Ensured, error) {
	op := fmt.Sprintf("create service account %s/%s", namespace, name)
	_, err := c.cs.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return Existed, nil
	}
	if !IsNotFound(err) {
		return Existed, wrap(op, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: ownedMeta(name, namespace, owner, nil)}
	_, err = c.cs.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
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

// EnsureClusterRoleBinding binds a service account to a ClusterRole cluster-wide. A
// binding with another roleRef is replaced (roleRef is immutable) when owner made it.
func (c *Client) EnsureClusterRoleBinding(ctx context.Context, name, clusterRole string, subject corev1.ObjectReference, owner string) (Ensured, error) {
	op := fmt.Sprintf("create cluster role binding %s", name)
	api := c.cs.RbacV1().ClusterRoleBindings()
	want := &rbacv1.ClusterRoleBinding{
		ObjectMeta: ownedMeta(name, "", owner, nil),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: subject.Name, Namespace: subject.Namespace}},
	}
	got, err := api.Get(ctx, name, metav1.GetOptions{})
	switch {
	case IsNotFound(err):
		_, err = api.Create(ctx, want, metav1.CreateOptions{})
		return createdOrRaced(op, err)
	case err != nil:
		return Existed, wrap(op, err)
	case got.RoleRef == want.RoleRef || !Owned(got, owner):
		return Existed, nil
	}
	if err := api.Delete(ctx, name, preconditions(got.UID)); err != nil && !IsNotFound(err) {
		return Existed, wrap(op, err)
	}
	_, err = api.Create(ctx, want, metav1.CreateOptions{})
	return Updated, wrap(op, err)
}

// FindClusterRoleBinding returns the binding, or nil when it does not exist.
func (c *Client) FindClusterRoleBinding(ctx context.Context, name string) (*rbacv1.ClusterRoleBinding, error) {
	b, err := c.cs.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{})
	if IsNotFound(err) {
		return nil, nil
	}
	return b, wrap("read cluster role binding "+name, err)
}

// DeleteClusterRoleBinding deletes it if owner created it.
func (c *Client) DeleteClusterRoleBinding(ctx context.Context, name, owner string) error {
	b, err := c.FindClusterRoleBinding(ctx, name)
	if err != nil || b == nil || !Owned(b, owner) {
		return err
	}
	err = c.cs.RbacV1().ClusterRoleBindings().Delete(ctx, name, preconditions(b.UID))
	return ignoreNotFound(wrap("delete cluster role binding "+name, err))
}

// EnsureNamespace creates the namespace with labels, or, when owner made it, brings its
// user labels to labels (removing those listed in dropLabels). Foreign namespaces are
// adopted untouched.
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

// EnsureRoleBinding binds a service account to a ClusterRole inside one namespace.
// roleRef is immutable, so a changed role means delete and create.
func (c *Client) EnsureRoleBinding(ctx context.Context, namespace, name, clusterRole, serviceAccount, owner string) (Ensured, error) {
	op := fmt.Sprintf("create role binding %s/%s", namespace, name)
	api := c.cs.RbacV1().RoleBindings(namespace)
	want := &rbacv1.RoleBinding{
		ObjectMeta: ownedMeta(name, namespace, owner, nil),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: serviceAccount, Namespace: namespace}},
	}
	got, err := api.Get(ctx, name, metav1.GetOptions{})
	switch {
	case IsNotFound(err):
		_, err = api.Create(ctx, want, metav1.CreateOptions{})
		return Created, wrap(op, err)
	case err != nil:
		return Existed, wrap(op, err)
	case got.RoleRef == want.RoleRef && subjectsEqual(got.Subjects, want.Subjects):
		return Existed, nil
	}
	if err := api.Delete(ctx, name, preconditions(got.UID)); err != nil && !IsNotFound(err) {
		return Existed, wrap(op, err)
	}
	_, err = api.Create(ctx, want, metav1.CreateOptions{})
	return Updated, wrap(op, err)
}

func subjectsEqual(a, b []rbacv1.Subject) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FindRoleBinding returns the binding, or nil when it does not exist.
func (c *Client) FindRoleBinding(ctx context.Context, namespace, name string) (*rbacv1.RoleBinding, error) {
	b, err := c.cs.RbacV1().RoleBindings(namespace).Get(ctx, name, metav1.GetOptions{})
	if IsNotFound(err) {
		return nil, nil
	}
	return b, wrap(fmt.Sprintf("read role binding %s/%s", namespace, name), err)
}

// DeleteRoleBinding deletes it if owner created it.
func (c *Client) DeleteRoleBinding(ctx context.Context, namespace, name, owner string) error {
	b, err := c.FindRoleBinding(ctx, namespace, name)
	if err != nil || b == nil || !Owned(b, owner) {
		return err
	}
	err = c.cs.RbacV1().RoleBindings(namespace).Delete(ctx, name, preconditions(b.UID))
	return ignoreNotFound(wrap(fmt.Sprintf("delete role binding %s/%s", namespace, name), err))
}

// preconditions make a delete apply only to the object we looked at, not a namesake
// created in between by someone else.
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

func preconditions(uid types.UID) metav1.DeleteOptions {
	return metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(uid))}
}

func ignoreNotFound(err error) error {
	if IsNotFound(err) {
		return nil
	}
	return err
}
