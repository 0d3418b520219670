package kube

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// An installer holds a binding of one kind: a ClusterRoleBinding to cluster-admin or a
// RoleBinding to admin in its release namespace. Both are revoked after every pod, so a
// binding of the other kind exists only when an earlier run could not revoke it (cut off,
// or its DELETE failed) and the app has switched kinds since; left there, it would keep
// the old rights. Every grant checks for one, but through one labelled LIST of
// clusterkit's installer bindings per kind and namespace per run instead of a GET per app.
// A binding named after the app is made only by that app's own grants, and every grant
// drops this run's list of its kind (grantMade), so a list is never missing one and serves
// the whole run.

// installerBindingSelector selects the installer bindings clusterkit made.
var installerBindingSelector = labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedByValue}).String() + "," + LabelApp

// deleteLeftoverBinding deletes the installer binding name of the other kind than the
// app grants now, if owner made it: a ClusterRoleBinding when namespace is "", else a
// RoleBinding in namespace. When the bindings cannot be listed (a token that may read but
// not list them), it reads the one binding as before.
func (c *Client) deleteLeftoverBinding(ctx context.Context, namespace, name, owner string) error {
	key := bindingListKey(namespace)
	l, err := c.bindings.get(ctx, c.clock, key, func() (map[string]bool, error) {
		return c.listInstallerBindings(ctx, namespace)
	})
	if err == nil && !l.val[name] {
		return nil
	}
	c.grantMade(namespace) // this delete changes the list
	if namespace == "" {
		return c.DeleteClusterRoleBinding(ctx, name, owner)
	}
	return c.DeleteRoleBinding(ctx, namespace, name, owner)
}

// grantMade drops this run's list of installer bindings of one kind (namespace "":
// ClusterRoleBindings), after a grant of that kind or a delete: the next check lists again.
func (c *Client) grantMade(namespace string) {
	key := bindingListKey(namespace)
	c.bindings.forget(func(k string) bool { return k == key })
}

func bindingListKey(namespace string) string {
	if namespace == "" {
		return "clusterrolebindings"
	}
	return "rolebindings/" + namespace
}

// listInstallerBindings names the installer bindings of one kind (see deleteLeftoverBinding).
func (c *Client) listInstallerBindings(ctx context.Context, namespace string) (map[string]bool, error) {
	opts := metav1.ListOptions{LabelSelector: installerBindingSelector}
	names := map[string]bool{}
	if namespace == "" {
		list, err := c.cs.RbacV1().ClusterRoleBindings().List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			names[list.Items[i].Name] = true
		}
		return names, nil
	}
	list, err := c.cs.RbacV1().RoleBindings(namespace).List(ctx, opts)
	if err != nil {
		return nil, err
	}
	for i := range list.Items {
		names[list.Items[i].Name] = true
	}
	return names, nil
}
