package kube

import (
	"context"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// runLists are this run's lists by key (a namespace's release records, a kind's objects
// in a namespace), shared by every reader of the run: each is made once, whoever asks
// meanwhile waits for it (single-flight), and made again when it failed or is older than
// maxAge (0: it serves the whole run).
type runLists[T any] struct {
	mu     sync.Mutex
	lists  map[string]*runList[T]
	maxAge time.Duration
}

// runList is one list; done closes when it is made.
type runList[T any] struct {
	done chan struct{}
	at   time.Time
	val  T
	err  error
}

func newRunLists[T any](maxAge time.Duration) *runLists[T] {
	return &runLists[T]{lists: map[string]*runList[T]{}, maxAge: maxAge}
}

// get returns key's current list, making it with list when there is none usable. A list
// made under another reader's context that ended is reported with that context's error:
// the caller, if its own context is live, asks again.
func (r *runLists[T]) get(ctx context.Context, clk clock.Clock, key string, list func() (T, error)) (*runList[T], error) {
	r.mu.Lock()
	l := r.lists[key]
	if l != nil {
		select {
		case <-l.done:
			if l.err != nil || (r.maxAge > 0 && clk.Since(l.at) >= r.maxAge) {
				l = nil
			}
		default: // being made
		}
	}
	if l == nil {
		l = &runList[T]{done: make(chan struct{})}
		r.lists[key] = l
		r.mu.Unlock()
		l.at = clk.Now() // before the LIST: its age counts from before what it saw
		l.val, l.err = list()
		close(l.done)
		return l, l.err
	}
	r.mu.Unlock()
	select {
	case <-l.done:
		return l, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// forget drops the lists whose key matches: the next reader makes them again.
func (r *runLists[T]) forget(match func(key string) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key := range r.lists {
		if match(key) {
			delete(r.lists, key)
		}
	}
}
