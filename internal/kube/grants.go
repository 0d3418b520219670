package kube

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// grants remembers, for the run, the installer bindings this client made (or found
// owned by the same app) and by which UID, so that taking the rights away after the pod is
// one DELETE with a UID precondition instead of a read of each kind of binding first; and
// then that they are gone, so that the destroy's clean-up that follows needs no read
// either. A revoke without an entry (a grant from an earlier run) reads first.
type grants struct {
	mu sync.Mutex
	m  map[string]grant
}

// grant is one installer binding: a RoleBinding in namespace, or a ClusterRoleBinding
// when namespace is "". The binding of the other kind was seen absent (or deleted) when
// it was made. revoked: this client deleted it since (neither kind is left).
type grant struct {
	namespace string
	uid       types.UID
	revoked   bool
}

func newGrants() *grants { return &grants{m: map[string]grant{}} }

func grantKey(name, owner string) string { return name + "\x00" + owner }

func (g *grants) put(name, owner string, gr grant) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.m[grantKey(name, owner)] = gr
}

func (g *grants) take(name, owner string) (grant, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	gr, ok := g.m[grantKey(name, owner)]
	delete(g.m, grantKey(name, owner))
	return gr, ok
}
