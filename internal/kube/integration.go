package kube

import (
	"context"
	"maps"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// Names of the objects an integration creates, shared with the resource's docs.

// AdminBindingName is the ClusterRoleBinding giving the integration's service account
// cluster-admin ("clusterkit" -> "clusterkit-admin").
func AdminBindingName(serviceAccount string) string { return serviceAccount + "-admin" }

// NamespaceServiceAccountName is the service account made in each restricted namespace.
func NamespaceServiceAccountName(namespace string) string { return namespace + "-service-account" }

// NamespaceRoleBindingName binds that service account inside its namespace.
func NamespaceRoleBindingName(namespace string) string { return "clusterkit-" + namespace }

// IntegrationIdentity is the integration's own service account and, with RBAC, its
// cluster-admin binding.
type IntegrationIdentity struct {
	Owner     string
	Namespace string
	Name      string
	RBAC      bool
}

// EnsureIdentity creates what is missing. With RBAC off it removes a binding it made.
func (c *Client) EnsureIdentity(ctx context.Context, id IntegrationIdentity) error {
	if _, err := c.EnsureServiceAccount(ctx, id.Namespace, id.Name, id.Owner); err != nil {
		return err
	}
	binding := AdminBindingName(id.Name)
	if !id.RBAC {
		return c.DeleteClusterRoleBinding(ctx, binding, id.Owner)
	}
	subject := corev1.ObjectReference{Namespace: id.Namespace, Name: id.Name}
	_, err := c.EnsureClusterRoleBinding(ctx, binding, "cluster-admin", subject, id.Owner)
	return err
}

// IdentityStatus is what Read finds of an identity.
type IdentityStatus struct {
	ServiceAccount bool
	BindingRole    string // roleRef name of the admin binding; "" when missing
}

// ReadIdentity looks up the service account and its binding.
func (c *Client) ReadIdentity(ctx context.Context, id IntegrationIdentity) (IdentityStatus, error) {
	var st IdentityStatus
	sa, err := c.FindServiceAccount(ctx, id.Namespace, id.Name)
	if err != nil {
		return st, err
	}
	st.ServiceAccount = sa != nil
	b, err := c.FindClusterRoleBinding(ctx, AdminBindingName(id.Name))
	if err != nil {
		return st, err
	}
	if b != nil && bindsServiceAccount(b.Subjects, id.Namespace, id.Name) {
		st.BindingRole = b.RoleRef.Name
	}
	return st, nil
}

// DeleteIdentity removes the binding and service account if owner created them.
func (c *Client) DeleteIdentity(ctx context.Context, id IntegrationIdentity) error {
	if err := c.DeleteClusterRoleBinding(ctx, AdminBindingName(id.Name), id.Owner); err != nil {
		return err
	}
	return c.DeleteServiceAccount(ctx, id.Namespace, id.Name, id.Owner)
}

// RestrictedNamespace is one namespace with a service account that may act only inside
// it, through a RoleBinding to a ClusterRole (edit by default).
type RestrictedNamespace struct {
	Name        string
	ClusterRole string // ignored without RBAC
	Labels      map[string]string
	DropLabels  []string // user labels to remove (they were in the previous configuration)
}

// EnsureRestrictedNamespace creates or repairs the namespace, its service account and,
// with rbac, its RoleBinding.
func (c *Client) EnsureRestrictedNamespace(ctx context.Context, owner string, rbac bool, ns RestrictedNamespace) error {
	if _, err := c.EnsureNamespace(ctx, ns.Name, ns.Labels, ns.DropLabels, owner); err != nil {
		return err
	}
	sa := NamespaceServiceAccountName(ns.Name)
	if _, err := c.EnsureServiceAccount(ctx, ns.Name, sa, owner); err != nil {
		return err
	}
	binding := NamespaceRoleBindingName(ns.Name)
	if !rbac {
		return c.DeleteRoleBinding(ctx, ns.Name, binding, owner)
	}
	_, err := c.EnsureRoleBinding(ctx, ns.Name, binding, ns.ClusterRole, sa, owner)
	return err
}

// NamespaceStatus is what Read finds of a restricted namespace.
type NamespaceStatus struct {
	Exists         bool
	ServiceAccount bool
	ClusterRole    string            // "" when the RoleBinding is missing
	Labels         map[string]string // without clusterkit's own label
}

// ReadRestrictedNamespace looks up the namespace and the objects inside it.
func (c *Client) ReadRestrictedNamespace(ctx context.Context, name string) (NamespaceStatus, error) {
	var st NamespaceStatus
	ns, err := c.FindNamespace(ctx, name)
	if err != nil || ns == nil {
		return st, err
	}
	st.Exists = true
	st.Labels = maps.Clone(ns.Labels)
	delete(st.Labels, LabelManagedBy)
	delete(st.Labels, corev1.LabelMetadataName)
	sa, err := c.FindServiceAccount(ctx, name, NamespaceServiceAccountName(name))
	if err != nil {
		return st, err
	}
	st.ServiceAccount = sa != nil
	b, err := c.FindRoleBinding(ctx, name, NamespaceRoleBindingName(name))
	if err != nil {
		return st, err
	}
	if b != nil && bindsServiceAccount(b.Subjects, name, NamespaceServiceAccountName(name)) {
		st.ClusterRole = b.RoleRef.Name
	}
	return st, nil
}

// RemoveRestrictedNamespace deletes what owner created for the namespace. Deleting a
// namespace we created takes its service account and binding with it; in an adopted one
// only our objects go. It reports whether a namespace deletion is under way.
func (c *Client) RemoveRestrictedNamespace(ctx context.Context, owner, name string) (bool, error) {
	deleting, err := c.DeleteNamespace(ctx, name, owner)
	if err != nil || deleting {
		return deleting, err
	}
	if err := c.DeleteRoleBinding(ctx, name, NamespaceRoleBindingName(name), owner); err != nil {
		return false, err
	}
	return false, c.DeleteServiceAccount(ctx, name, NamespaceServiceAccountName(name), owner)
}

func bindsServiceAccount(subjects []rbacv1.Subject, namespace, name string) bool {
	for _, s := range subjects {
		if s.Kind == "ServiceAccount" && s.Namespace == namespace && s.Name == name {
			return true
		}
	}
	return false
}

// EnsureAdminServiceAccount creates namespace/name and binds it to cluster-admin through
// ClusterRoleBinding binding (both adopted when they exist).
func (c *Client) EnsureAdminServiceAccount(ctx context.Context, namespace, name, binding, owner string) error {
	if _, err := c.EnsureServiceAccount(ctx, namespace, name, owner); err != nil {
		return err
	}
	subject := corev1.ObjectReference{Kind: "ServiceAccount", Namespace: namespace, Name: name}
	_, err := c.EnsureClusterRoleBinding(ctx, binding, "cluster-admin", subject, owner)
	return err
}
