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
)

// A binding grants rights, so an existing one of the wanted name is used only when it
// provably grants what we want and nothing more: ours is converged (roleRef and the
// exact subject list), another clusterkit resource's is shared only when it already
// matches, and one clusterkit did not make is refused.

// EnsureClusterRoleBinding binds a service account to a ClusterRole cluster-wide.
func (c *Client) EnsureClusterRoleBinding(ctx context.Context, name, clusterRole string, subject corev1.ObjectReference, owner string) (Ensured, error) {
	ensured, _, err := c.ensureBinding(ctx, bindingSpec{Name: name, ClusterRole: clusterRole, Subject: subject, Owner: owner}, false)
	return ensured, err
}

// EnsureRoleBinding binds a service account of namespace to a ClusterRole inside namespace.
func (c *Client) EnsureRoleBinding(ctx context.Context, namespace, name, clusterRole, serviceAccount, owner string) (Ensured, error) {
	ensured, _, err := c.ensureBinding(ctx, bindingSpec{
		Namespace: namespace, Name: name, ClusterRole: clusterRole, Owner: owner,
		Subject: corev1.ObjectReference{Namespace: namespace, Name: serviceAccount},
	}, false)
	return ensured, err
}

// bindingSpec is one binding of one service account to a ClusterRole: cluster-wide when
// Namespace is "", else a RoleBinding in Namespace (the subject may live elsewhere).
type bindingSpec struct {
	Namespace, Name string
	ClusterRole     string
	Subject         corev1.ObjectReference
	Owner           string
	Labels          map[string]string
	// Hint explains a conflict in the caller's terms.
	Hint string
}

func (b bindingSpec) kind() string {
	if b.Namespace == "" {
		return "cluster role binding"
	}
	return "role binding"
}

func (b bindingSpec) roleRef() rbacv1.RoleRef {
	return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: b.ClusterRole}
}

func (b bindingSpec) subjects() []rbacv1.Subject {
	return []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: b.Subject.Name, Namespace: b.Subject.Namespace}}
}

// boundObject is what ensureBinding needs of either kind of binding.
type boundObject struct {
	meta     metav1.Object
	roleRef  rbacv1.RoleRef
	subjects []rbacv1.Subject
	update   func(subjects []rbacv1.Subject) error
}

// ensureBinding makes the binding b describes, or converges or shares an existing one. uid
// is the binding's when it is b.Owner's (empty when another owner's binding is shared).
// likelyAbsent (the binding's subject was just created) tries the create first, saving
// the read.
func (c *Client) ensureBinding(ctx context.Context, b bindingSpec, likelyAbsent bool) (ensured Ensured, uid types.UID, err error) {
	op := fmt.Sprintf("create %s %s", b.kind(), b.Name)
	if b.Namespace != "" {
		op = fmt.Sprintf("create %s %s/%s", b.kind(), b.Namespace, b.Name)
	}
	if likelyAbsent {
		uid, err := c.createBinding(ctx, b)
		if err == nil {
			return Created, uid, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return Existed, "", wrap(op, err)
		}
	}
	// Two tries: a create that lost a race looks once more at the winner's binding.
	for try := 0; ; try++ {
		got, err := c.getBinding(ctx, b)
		if err != nil {
			return Existed, "", wrap(op, err)
		}
		if got == nil {
			uid, err := c.createBinding(ctx, b)
			if apierrors.IsAlreadyExists(err) && try == 0 {
				continue
			}
			if err != nil {
				return Existed, "", wrap(op, err)
			}
			return Created, uid, nil
		}
		same := got.roleRef == b.roleRef() && subjectsEqual(got.subjects, b.subjects())
		switch {
		case !Owned(got.meta, b.Owner) && madeByClusterkit(got.meta) && same:
			return Existed, "", nil
		case !Owned(got.meta, b.Owner):
			return Existed, "", conflictWith(b.kind(), got.meta, b.Hint)
		case same:
			return Existed, got.meta.GetUID(), nil
		case got.roleRef == b.roleRef():
			// Subjects added out of band would hold our role: put the list back.
			if err := got.update(b.subjects()); err != nil {
				if apierrors.IsConflict(err) && try == 0 {
					continue
				}
				return Existed, "", wrap(op, err)
			}
			return Updated, got.meta.GetUID(), nil
		}
		// roleRef is immutable: replace the binding.
		if err := c.deleteBinding(ctx, b, got.meta); err != nil && !IsNotFound(err) {
			return Existed, "", wrap(op, err)
		}
		uid, err := c.createBinding(ctx, b)
		if err != nil {
			return Existed, "", wrap(op, err)
		}
		return Updated, uid, nil
	}
}

func (c *Client) getBinding(ctx context.Context, b bindingSpec) (*boundObject, error) {
	if b.Namespace == "" {
		api := c.cs.RbacV1().ClusterRoleBindings()
		got, err := api.Get(ctx, b.Name, metav1.GetOptions{})
		if IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &boundObject{meta: got, roleRef: got.RoleRef, subjects: got.Subjects, update: func(s []rbacv1.Subject) error {
			got.Subjects = s
			_, err := api.Update(ctx, got, metav1.UpdateOptions{})
			return err
		}}, nil
	}
	api := c.cs.RbacV1().RoleBindings(b.Namespace)
	got, err := api.Get(ctx, b.Name, metav1.GetOptions{})
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &boundObject{meta: got, roleRef: got.RoleRef, subjects: got.Subjects, update: func(s []rbacv1.Subject) error {
		got.Subjects = s
		_, err := api.Update(ctx, got, metav1.UpdateOptions{})
		return err
	}}, nil
}

func (c *Client) createBinding(ctx context.Context, b bindingSpec) (types.UID, error) {
	meta := ownedMeta(b.Name, b.Namespace, b.Owner, maps.Clone(b.Labels))
	if b.Namespace == "" {
		made, err := c.cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: meta, RoleRef: b.roleRef(), Subjects: b.subjects(),
		}, metav1.CreateOptions{})
		if err != nil {
			return "", err
		}
		return made.UID, nil
	}
	made, err := c.cs.RbacV1().RoleBindings(b.Namespace).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: meta, RoleRef: b.roleRef(), Subjects: b.subjects(),
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return made.UID, nil
}

func (c *Client) deleteBinding(ctx context.Context, b bindingSpec, got metav1.Object) error {
	if b.Namespace == "" {
		return c.cs.RbacV1().ClusterRoleBindings().Delete(ctx, b.Name, preconditions(got.GetUID()))
	}
	return c.cs.RbacV1().RoleBindings(b.Namespace).Delete(ctx, b.Name, preconditions(got.GetUID()))
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
