package kube

import (
	"context"
	"time"
)

// WaitReady polls /readyz until the API server answers 200. A new cluster's API has
// nothing to watch yet, so this is the one place that polls; the interval grows to 10s.
func (c *Client) WaitReady(ctx context.Context) error {
	delay := 500 * time.Millisecond
	var last error
	for {
		_, err := c.cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return wrap("wait for the API server to be ready", last)
		case <-time.After(delay):
		}
		if delay < 10*time.Second {
			delay *= 2
		}
	}
}
