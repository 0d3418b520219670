package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// EnsureInstallPrerequisites creates or updates what the install pods need: the install
// namespace, the installer service account, the app's binding (cluster-admin, or admin
// on the release namespace, which it then creates), the values ConfigMap and, when there
// are sensitive values, the values Secret (a stale one is deleted otherwise). The binding
// is meant for the next pod only: ManagedApp removes it once that pod is done.
func (c *Client) EnsureInstallPrerequisites(ctx context.Context, spec InstallSpec) error {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return err
	}
	// Before anything is made: the user's Secret can only be in an install namespace that exists.
	if err := c.checkRepositoryCredentialsSecret(ctx, spec); err != nil {
		return err
	}
	if err := c.ensureNamespaceOnce(ctx, spec.Namespace, SharedInstallOwner); err != nil {
		return err
	}
	// A service account made just now means a new app: its values objects are then
	// created without reading first (a destroy deletes them before the service account; a
	// create that finds one anyway falls back to read and converge).
	fresh, err := c.ensureInstallerCreated(ctx, spec)
	if err != nil {
		return err
	}
	cmCreated, err := c.writeValuesConfigMap(ctx, spec, fresh)
	if err != nil {
		return err
	}
	if secretData(spec) == nil {
		// A destroy deletes the Secret before the ConfigMap: a ConfigMap created just now
		// leaves no stale Secret to look for.
		if cmCreated {
			return nil
		}
		return c.deleteOwnedSecret(ctx, spec.Namespace, ValuesSecretName(spec.Name), spec.Owner)
	}
	return c.ensureValuesSecret(ctx, spec, fresh)
}

// InstallerServiceAccountMissingError: the user's own installer service account does
// not exist in the install namespace.
type InstallerServiceAccountMissingError struct{ Namespace, Name string }

func (e *InstallerServiceAccountMissingError) Error() string {
	return fmt.Sprintf("service account %s/%s does not exist: create it, with the rights the chart needs, before the install pods can run as it", e.Namespace, e.Name)
}

// ensureInstaller makes sure the pods' service account exists and, when it is the
// provider's own, holds the app's rights. A user's own service account is only checked;
// the app's own installer, left from before the switch to it, is removed.
func (c *Client) ensureInstaller(ctx context.Context, spec InstallSpec) error {
	_, err := c.ensureInstallerCreated(ctx, spec)
	return err
}

// ensureInstallerCreated is ensureInstaller; created says the provider's own service
// account was made just now.
func (c *Client) ensureInstallerCreated(ctx context.Context, spec InstallSpec) (created bool, err error) {
	if !spec.ExternalServiceAccount {
		ensured, err := c.EnsureServiceAccount(ctx, spec.Namespace, spec.ServiceAccount, spec.Owner)
		if err != nil {
			return false, err
		}
		return ensured == Created, c.ensureInstallerBinding(ctx, spec)
	}
	_, err = c.cs.CoreV1().ServiceAccounts(spec.Namespace).Get(ctx, spec.ServiceAccount, metav1.GetOptions{})
	if IsNotFound(err) {
		return false, &InstallerServiceAccountMissingError{Namespace: spec.Namespace, Name: spec.ServiceAccount}
	}
	if err != nil {
		return false, wrap(fmt.Sprintf("read service account %s/%s", spec.Namespace, spec.ServiceAccount), err)
	}
	if spec.ReleaseNamespace != spec.Namespace {
		if err := c.ensureNamespaceOnce(ctx, spec.ReleaseNamespace, spec.Owner); err != nil {
			return false, err
		}
	}
	return false, c.deleteOwnInstaller(ctx, spec)
}

// deleteOwnInstaller removes the app's own installer service account and its bindings
// (only what this app owns).
func (c *Client) deleteOwnInstaller(ctx context.Context, spec InstallSpec) error {
	if err := c.revokeInstallRights(ctx, spec); err != nil {
		return err
	}
	return c.DeleteServiceAccount(ctx, spec.Namespace, InstallerServiceAccountName(spec.Name), spec.Owner)
}

// ensureInstallerBinding grants the installer the app's rights: cluster-admin when the
// app needs it, else admin inside the release namespace (which it creates). The grant is
// for one pod's run: ManagedApp revokes it when the pod is done, so it is created before
// any read (an existing one answers AlreadyExists and is then read and converged).
func (c *Client) ensureInstallerBinding(ctx context.Context, spec InstallSpec) error {
	// Until this grant is remembered, a revoke reads and deletes both kinds.
	c.grants.take(InstallerBindingName(spec), spec.Owner)
	b := bindingSpec{
		Name: InstallerBindingName(spec), ClusterRole: "cluster-admin", Owner: spec.Owner,
		Subject: corev1.ObjectReference{Namespace: spec.Namespace, Name: spec.ServiceAccount},
		Labels:  map[string]string{LabelApp: spec.Name}, Hint: appConflictHint,
	}
	if spec.ClusterAdmin {
		_, uid, err := c.ensureBinding(ctx, b, true)
		c.grantMade("")
		if err != nil {
			return err
		}
		if err := c.deleteLeftoverBinding(ctx, spec.ReleaseNamespace, b.Name, spec.Owner); err != nil {
			return err
		}
		c.rememberGrant(b, uid)
		return nil
	}
	if spec.ReleaseNamespace != spec.Namespace {
		if err := c.ensureNamespaceOnce(ctx, spec.ReleaseNamespace, spec.Owner); err != nil {
			return err
		}
	}
	b.Namespace, b.ClusterRole = spec.ReleaseNamespace, "admin"
	_, uid, err := c.ensureBinding(ctx, b, true)
	c.grantMade(spec.ReleaseNamespace)
	if err != nil {
		return err
	}
	if err := c.deleteLeftoverBinding(ctx, "", b.Name, spec.Owner); err != nil {
		return err
	}
	c.rememberGrant(b, uid)
	return nil
}

// rememberGrant keeps the binding's UID for revokeInstallRights, once the binding of the
// other kind is known gone. A binding another owner shares (no uid) is never ours to delete.
func (c *Client) rememberGrant(b bindingSpec, uid types.UID) {
	if uid != "" {
		c.grants.put(b.Name, b.Owner, grant{namespace: b.Namespace, uid: uid})
	}
}

// revokeInstallRights removes the installer's binding (either kind), leaving its service
// account without rights until the next pod. A grant made in this run is deleted by its
// UID alone, and once deleted needs no request at all; otherwise (or when the binding was
// replaced since) both kinds are read first.
func (c *Client) revokeInstallRights(ctx context.Context, spec InstallSpec) error {
	name := InstallerBindingName(spec)
	if g, ok := c.grants.take(name, spec.Owner); ok {
		if g.revoked {
			return nil
		}
		var err error
		if g.namespace == "" {
			err = c.cs.RbacV1().ClusterRoleBindings().Delete(ctx, name, preconditions(g.uid))
		} else {
			err = c.cs.RbacV1().RoleBindings(g.namespace).Delete(ctx, name, preconditions(g.uid))
		}
		if err == nil || IsNotFound(err) {
			g.revoked = true
			c.grants.put(name, spec.Owner, g)
			return nil
		}
		if !apierrors.IsConflict(err) { // a UID precondition that failed is a 409
			return wrap("delete installer binding "+name, err)
		}
	}
	if err := c.DeleteClusterRoleBinding(ctx, name, spec.Owner); err != nil {
		return err
	}
	return c.DeleteRoleBinding(ctx, spec.ReleaseNamespace, name, spec.Owner)
}

// appConflictHint is the usual cause of a conflict over an app's objects.
const appConflictHint = "two managed apps cannot share a release name in one namespace"

// ensureValuesConfigMap writes the app's values and step files.
func (c *Client) ensureValuesConfigMap(ctx context.Context, spec InstallSpec) error {
	_, err := c.writeValuesConfigMap(ctx, spec, false)
	return err
}

// writeValuesConfigMap is ensureValuesConfigMap; likelyAbsent (a new app) tries the
// create before any read. created: the ConfigMap did not exist.
func (c *Client) writeValuesConfigMap(ctx context.Context, spec InstallSpec, likelyAbsent bool) (created bool, err error) {
	data, binary := configFiles(spec), configBinaryFiles(spec)
	name := ValuesConfigMapName(spec.Name)
	op := fmt.Sprintf("write config map %s/%s", spec.Namespace, name)
	api := c.cs.CoreV1().ConfigMaps(spec.Namespace)
	order := strconv.Itoa(spec.UninstallOrder)
	create := func() error {
		cm := &corev1.ConfigMap{ObjectMeta: ownedMeta(name, spec.Namespace, spec.Owner, map[string]string{LabelApp: spec.Name}), Data: data, BinaryData: binary}
		cm.Annotations[AnnotationUninstallOrder] = order
		_, err := api.Create(ctx, cm, metav1.CreateOptions{})
		created = err == nil
		return err
	}
	if likelyAbsent {
		if err := create(); !apierrors.IsAlreadyExists(err) {
			return created, wrap(op, err)
		}
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got, err := api.Get(ctx, name, metav1.GetOptions{})
		if IsNotFound(err) {
			return create()
		}
		if err != nil {
			return err
		}
		if !Owned(got, spec.Owner) {
			return conflictWith("config map", got, appConflictHint)
		}
		if maps.Equal(got.Data, data) && maps.EqualFunc(got.BinaryData, binary, bytes.Equal) && got.Labels[LabelApp] == spec.Name &&
			got.Annotations[AnnotationUninstallOrder] == order {
			return nil
		}
		got.Data, got.BinaryData = data, binary
		got.Labels[LabelApp] = spec.Name
		got.Annotations[AnnotationUninstallOrder] = order
		_, err = api.Update(ctx, got, metav1.UpdateOptions{})
		return err
	})
	if conflict := (*OwnershipConflictError)(nil); errors.As(err, &conflict) {
		return false, err
	}
	return created, wrap(op, err)
}

// ensureValuesSecret writes the sensitive values and repository password; likelyAbsent
// (a new app) tries the create before any read.
func (c *Client) ensureValuesSecret(ctx context.Context, spec InstallSpec, likelyAbsent bool) error {
	name := ValuesSecretName(spec.Name)
	data := secretData(spec)
	op := fmt.Sprintf("write secret %s/%s", spec.Namespace, name)
	api := c.cs.CoreV1().Secrets(spec.Namespace)
	create := func() error {
		_, err := api.Create(ctx, &corev1.Secret{
			ObjectMeta: ownedMeta(name, spec.Namespace, spec.Owner, map[string]string{LabelApp: spec.Name}),
			Type:       corev1.SecretTypeOpaque,
			Data:       data,
		}, metav1.CreateOptions{})
		return err
	}
	if likelyAbsent {
		if err := create(); !apierrors.IsAlreadyExists(err) {
			return wrap(op, err)
		}
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got, err := api.Get(ctx, name, metav1.GetOptions{})
		if IsNotFound(err) {
			return create()
		}
		if err != nil {
			return err
		}
		if !Owned(got, spec.Owner) {
			return conflictWith("secret", got, appConflictHint)
		}
		if maps.EqualFunc(got.Data, data, bytes.Equal) {
			return nil
		}
		got.Data = data
		_, err = api.Update(ctx, got, metav1.UpdateOptions{})
		return err
	})
	if conflict := (*OwnershipConflictError)(nil); errors.As(err, &conflict) {
		return err
	}
	return wrap(op, err)
}

func (c *Client) deleteOwnedSecret(ctx context.Context, namespace, name, owner string) error {
	op := fmt.Sprintf("delete secret %s/%s", namespace, name)
	s, err := c.cs.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap(op, err)
	}
	if !Owned(s, owner) {
		return nil
	}
	err = c.cs.CoreV1().Secrets(namespace).Delete(ctx, name, preconditions(s.UID))
	return ignoreNotFound(wrap(op, err))
}

// deleteOwnedConfigMap deletes the ConfigMap if owner made it. One this run marked as
// uninstalling (see MarkUninstalling) is deleted by the UID the mark's answer named,
// without a read; if it was replaced since, the precondition fails and it is read.
func (c *Client) deleteOwnedConfigMap(ctx context.Context, namespace, name, owner string) error {
	op := fmt.Sprintf("delete config map %s/%s", namespace, name)
	api := c.cs.CoreV1().ConfigMaps(namespace)
	if uid, ok := c.marked.get(namespace + "/" + name); ok {
		c.marked.forget(namespace + "/" + name)
		err := api.Delete(ctx, name, preconditions(uid))
		if err == nil || IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) {
			return wrap(op, err)
		}
	}
	cm, err := api.Get(ctx, name, metav1.GetOptions{})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap(op, err)
	}
	if !Owned(cm, owner) {
		return nil
	}
	err = api.Delete(ctx, name, preconditions(cm.UID))
	return ignoreNotFound(wrap(op, err))
}

// DeleteInstallPrerequisites removes what EnsureInstallPrerequisites made for this app
// (values ConfigMap and Secret, its binding, its installer service account) and, when no
// other app's values remain in the install namespace, the shared install namespace. The
// release namespace is left alone: it may hold data (volumes) the user wants to keep.
// It reports whether the install namespace is being deleted.
func (c *Client) DeleteInstallPrerequisites(ctx context.Context, spec InstallSpec) (bool, error) {
	spec = spec.WithDefaults()
	for _, del := range []func() error{
		// The Secret before the ConfigMap: EnsureInstallPrerequisites relies on it.
		func() error { return c.deleteOwnedSecret(ctx, spec.Namespace, ValuesSecretName(spec.Name), spec.Owner) },
		func() error {
			return c.deleteOwnedConfigMap(ctx, spec.Namespace, ValuesConfigMapName(spec.Name), spec.Owner)
		},
		func() error { return c.deleteOwnInstaller(ctx, spec) },
	} {
		if err := del(); err != nil {
			return false, err
		}
	}
	// One other app is enough to keep the namespace: without a limit, each of N deletes
	// would list every remaining app's values (N²/2 ConfigMaps for N apps).
	others, err := c.cs.CoreV1().ConfigMaps(spec.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedByValue}).String() + "," + LabelApp,
		Limit:         1,
	})
	if IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, wrap("list config maps in "+spec.Namespace, err)
	}
	if len(others.Items) > 0 {
		return false, nil
	}
	return c.DeleteNamespace(ctx, spec.Namespace, SharedInstallOwner)
}
