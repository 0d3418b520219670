package kube

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// readyPollCap: a new cluster's API comes up within minutes; look at least this often.
const readyPollCap = 10 * time.Second

// newClusterAuthGrace: a cluster just created may answer 401 for a short while until its
// authenticator knows the creator's role (EKS access entries propagate); within this
// window a 401 is waited out, after it it ends the wait like any permanent answer.
const newClusterAuthGrace = 2 * time.Minute

// WaitReady polls /readyz until the API server answers 200. A new cluster's API has
// nothing to watch yet, so this is the one place that polls: while it is unreachable or
// answers 5xx/429 (see transientError), with a backoff on the client's clock growing to
// 10s. A permanent answer (a 403 for the credential, a TLS failure, an address the SSRF
// policy refuses, a 401 after newClusterAuthGrace) ends the wait: waiting would not
// change it.
func (c *Client) WaitReady(ctx context.Context) error {
	const op = "wait for the API server to be ready"
	r := newRetryWait(c.clock)
	r.b.Duration, r.b.Cap = 500*time.Millisecond, readyPollCap
	var firstUnauthorized time.Time
	for {
		_, err := c.cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			return nil
		}
		if apierrors.IsUnauthorized(err) {
			if firstUnauthorized.IsZero() {
				firstUnauthorized = c.clock.Now()
			}
			if c.clock.Since(firstUnauthorized) < newClusterAuthGrace {
				if r.pause(ctx, 0) != nil {
					return wrap(op, err)
				}
				continue
			}
		}
		// When ctx ends, the last answer says more than the context's end does ("the API
		// server failed or is unavailable" rather than "the operation timed out").
		if r.retry(ctx, op, err, nil) != nil {
			return wrap(op, err)
		}
	}
}
