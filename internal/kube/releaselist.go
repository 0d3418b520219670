package kube

import (
	"context"
	"errors"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Listing every helm release of a cluster, for `terraform query`: helm's records in the
// namespaces asked for (all of them when none is named), the latest revision of each
// release decoded, whoever installed it (clusterkit's install pods, a person with helm, a
// CI job). The LIST pages, since a cluster-wide list of release records can hold
// megabytes per release.

// releaseListPage bounds one page of a release-record LIST (each record can be ~1 MiB).
const releaseListPage = 50

// ReleaseList is what ListReleases found.
type ReleaseList struct {
	// Releases are sorted by namespace, then name; uninstalled releases whose history
	// helm kept (helm uninstall --keep-history) are left out.
	Releases []*Release
	// Unreadable are the records that could not be decoded, left out of Releases.
	Unreadable []*ReleaseDecodeError
	// SensitiveValues names the releases clusterkit installed with sensitive values (their
	// values Secret in DefaultInstallNamespace holds some): helm's record merges those into
	// Release.Values. SensitiveUnknown: that namespace could not be read, so any release
	// may be one.
	SensitiveValues  map[string]bool
	SensitiveUnknown bool
}

// ListReleases reads the latest revision of every helm release in namespaces; with none,
// in every namespace (the credential then needs to list Secrets cluster-wide).
func (c *Client) ListReleases(ctx context.Context, namespaces []string) (ReleaseList, error) {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var out ReleaseList
	seen := map[string]bool{}
	for _, ns := range namespaces {
		if seen[ns] {
			continue
		}
		seen[ns] = true
		items, err := c.listReleaseSecretsPaged(ctx, ns)
		if err != nil {
			return ReleaseList{}, err
		}
		byNamespace := map[string][]corev1.Secret{}
		for _, s := range items {
			byNamespace[s.Namespace] = append(byNamespace[s.Namespace], s)
		}
		for _, secrets := range byNamespace {
			for _, s := range latestReleaseSecrets(secrets) {
				r, err := decodeReleaseSecret(s)
				if derr := (*ReleaseDecodeError)(nil); errors.As(err, &derr) {
					out.Unreadable = append(out.Unreadable, derr)
					continue
				}
				if r.Status == ReleaseUninstalled {
					continue
				}
				// The manifest's objects are for drift checks, not for a listing.
				r.Objects, r.ManifestUnreadable = nil, false
				out.Releases = append(out.Releases, r)
			}
		}
	}
	out.SensitiveValues, out.SensitiveUnknown = c.appsWithSensitiveValues(ctx)
	slices.SortFunc(out.Releases, func(a, b *Release) int {
		if n := strings.Compare(a.Namespace, b.Namespace); n != 0 {
			return n
		}
		return strings.Compare(a.Name, b.Name)
	})
	slices.SortFunc(out.Unreadable, func(a, b *ReleaseDecodeError) int {
		return strings.Compare(a.Namespace+"/"+a.Secret, b.Namespace+"/"+b.Secret)
	})
	return out, nil
}

// listReleaseSecretsPaged lists helm's records in namespace (metav1.NamespaceAll: every
// namespace), superseded revisions left out, page by page.
func (c *Client) listReleaseSecretsPaged(ctx context.Context, namespace string) ([]corev1.Secret, error) {
	op := "list helm release records in " + namespace
	if namespace == metav1.NamespaceAll {
		op = "list helm release records in every namespace"
	}
	var items []corev1.Secret
	cont := ""
	for {
		var list *corev1.SecretList
		err := c.retryCall(ctx, op, readAttempts, nil, func() error {
			var err error
			list, err = c.cs.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{
				LabelSelector: releaseRecordSelector, Limit: releaseListPage, Continue: cont,
			})
			return err
		})
		if IsNotFound(err) {
			return items, nil
		}
		if err != nil {
			return nil, wrap(op, err)
		}
		items = append(items, list.Items...)
		if cont = list.Continue; cont == "" {
			return items, nil
		}
	}
}

// appsWithSensitiveValues names the apps whose values Secret (ValuesSecretName) in
// DefaultInstallNamespace holds sensitive values; unknown when it cannot be listed.
func (c *Client) appsWithSensitiveValues(ctx context.Context) (map[string]bool, bool) {
	var list *corev1.SecretList
	err := c.retryCall(ctx, "list values secrets in "+DefaultInstallNamespace, readAttempts, nil, func() error {
		var err error
		list, err = c.cs.CoreV1().Secrets(DefaultInstallNamespace).List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedByValue + "," + LabelApp})
		return err
	})
	out := map[string]bool{}
	if IsNotFound(err) {
		return out, false
	}
	if err != nil {
		return nil, true
	}
	for _, s := range list.Items {
		app := s.Labels[LabelApp]
		if _, ok := s.Data[SecretValuesFile]; ok && s.Name == ValuesSecretName(app) {
			out[app] = true
		}
	}
	return out, false
}
