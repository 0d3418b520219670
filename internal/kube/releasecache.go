package kube

import (
	"context"
	"errors"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// A refresh reads every app's release. Instead of one LIST per app, the client (one per
// cluster and credential, per provider process: one Terraform operation) lists helm's
// records once per namespace and shares the list among all readers of that namespace
// (single-flight). Only the latest record of each release is decoded, and only when read.
//
// Freshness: the list is made during this run, on first use, so no record predates the
// run. A release the provider installs, upgrades or uninstalls in this run is read
// directly from then on (Client.forgetRelease). A list older than ReleaseCacheMaxAge is
// made again, so a change made outside Terraform during a long run is seen by the reads
// that follow it by that much at most.

// ReleaseCacheMaxAge is how long one list of a namespace's release records serves reads.
const ReleaseCacheMaxAge = 30 * time.Second

// releaseRecordSelector: helm's records but the superseded ones. The latest revision of a
// release is never superseded (helm supersedes a revision when a newer one deploys), and
// the older revisions, most of a long history's bytes, are not needed.
var releaseRecordSelector = func() string {
	owner, _ := labels.NewRequirement("owner", selection.Equals, []string{"helm"})
	status, _ := labels.NewRequirement("status", selection.NotEquals, []string{string(ReleaseSuperseded)})
	return labels.NewSelector().Add(*owner, *status).String()
}()

type releaseCache struct {
	lists *runLists[*releaseRecords] // by namespace
	mu    sync.Mutex                 // guards changed and the lists' decoded records
	// changed are the releases ("namespace/name") this run installs, upgrades or
	// uninstalls: read directly, never from a list.
	changed map[string]bool
}

// releaseRecords is one LIST of a namespace's records. A release is in latest until it
// is first read, then in decoded.
type releaseRecords struct {
	latest  map[string]*corev1.Secret // by release name; guarded by releaseCache.mu
	decoded map[string]*Release       // guarded by releaseCache.mu
}

func newReleaseCache() *releaseCache {
	return &releaseCache{lists: newRunLists[*releaseRecords](ReleaseCacheMaxAge), changed: map[string]bool{}}
}

// FindReleaseCached is FindRelease for refresh: the release's latest record from this
// run's list of the namespace's records (see ReleaseCacheMaxAge), made on first use.
func (c *Client) FindReleaseCached(ctx context.Context, namespace, name string) (*Release, error) {
	rc := c.releases
	if rc == nil {
		return c.FindRelease(ctx, namespace, name)
	}
	rc.mu.Lock()
	direct := rc.changed[namespace+"/"+name]
	rc.mu.Unlock()
	if direct {
		return c.FindRelease(ctx, namespace, name)
	}
	for {
		l, err := c.releaseList(ctx, namespace)
		if err != nil {
			// The list ended with the context of the reader that made it: a reader whose
			// own context is still live lists again.
			if ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				continue
			}
			return nil, err
		}
		rc.mu.Lock()
		r, ok := l.decoded[name]
		s := l.latest[name]
		rc.mu.Unlock()
		if ok {
			return copyRelease(r), nil
		}
		if s == nil {
			return nil, nil
		}
		r, err = decodeReleaseSecret(s)
		if err != nil {
			return nil, err
		}
		rc.mu.Lock()
		l.decoded[name] = r
		// Decoded, the record is not needed again: a refresh of N apps then holds N
		// summaries, not N summaries and N records as well.
		delete(l.latest, name)
		rc.mu.Unlock()
		return copyRelease(r), nil
	}
}

func copyRelease(r *Release) *Release {
	cp := *r
	return &cp
}

// releaseList returns the namespace's current list of records (see runLists).
func (c *Client) releaseList(ctx context.Context, namespace string) (*releaseRecords, error) {
	l, err := c.releases.lists.get(ctx, c.clock, namespace, func() (*releaseRecords, error) {
		latest, err := c.listReleaseRecords(ctx, namespace)
		return &releaseRecords{latest: latest, decoded: map[string]*Release{}}, err
	})
	if err != nil {
		return nil, err
	}
	return l.val, nil
}

func (c *Client) listReleaseRecords(ctx context.Context, namespace string) (map[string]*corev1.Secret, error) {
	op := "list helm release records in " + namespace
	var list *corev1.SecretList
	err := c.retryCall(ctx, op, readAttempts, nil, func() error {
		var err error
		list, err = c.cs.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: releaseRecordSelector})
		return err
	})
	if IsNotFound(err) {
		return map[string]*corev1.Secret{}, nil
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return latestReleaseSecrets(list.Items), nil
}

// forgetRelease: the provider is about to change the release (install, upgrade,
// uninstall); every read of it in this run goes to the API server from now on.
func (c *Client) forgetRelease(namespace, name string) {
	if c.releases == nil {
		return
	}
	c.releases.mu.Lock()
	c.releases.changed[namespace+"/"+name] = true
	c.releases.mu.Unlock()
}
