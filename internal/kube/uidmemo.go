package kube

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// uidMemo remembers, for the run, objects this client made or read, by key, with their
// UID, so the next step on them needs no read first. An entry is a hint, never the truth:
// whoever uses one copes with the object having changed since (a UID precondition that
// fails, a create that finds the namespace gone) and forgets it then.
type uidMemo struct {
	mu sync.Mutex
	m  map[string]types.UID
}

func newUIDMemo() *uidMemo { return &uidMemo{m: map[string]types.UID{}} }

func (m *uidMemo) put(key string, uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[key] = uid
}

func (m *uidMemo) get(key string) (types.UID, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	uid, ok := m.m[key]
	return uid, ok
}

func (m *uidMemo) forget(keys ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.m, k)
	}
}
