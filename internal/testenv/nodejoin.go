package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"k8s.io/utils/clock"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// nodeJoiner plays the instances of the emulator's managed node groups: each node a group
// runs registers with the stack's API server, but only once the cluster's authenticator
// gives the group's role a node identity (system:nodes, through an access entry or
// kube-system/aws-auth), as a kubelet's bootstrap would; nodes of groups that scaled in or
// went away are deleted. The nodes have no kubelet: they are cordoned so nothing is
// scheduled there, and kwok leaves them alone (it manages annotated nodes only).
type nodeJoiner struct {
	emu    *awsemu.Emulator
	api    *apiClient
	mapper func(string) (string, []string, bool)
	logf   func(string, ...any)
	clock  clock.PassiveClock

	// known is what the last sync left on the API server (emulated node -> spec hash), at
	// listed. While the emulator wants exactly that, a sync lists nodes only every
	// resyncInterval (to see nodes deleted behind its back), not every tick: most stacks
	// have no managed node group at all.
	known  map[string]string
	listed time.Time
}

const (
	emulatedNodeAnnotation = "clusterkit.test/emulated-node" // the cluster the node belongs to
	nodeSpecAnnotation     = "clusterkit.test/node-spec"     // hash of its labels and taints
	joinInterval           = 200 * time.Millisecond
	resyncInterval         = 5 * time.Second
)

func (j *nodeJoiner) run(ctx context.Context) {
	t := time.NewTicker(joinInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			j.sync(ctx)
		}
	}
}

type nodeObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Unschedulable bool `json:"unschedulable,omitempty"`
		Taints        []struct {
			Key    string `json:"key"`
			Value  string `json:"value,omitempty"`
			Effect string `json:"effect"`
		} `json:"taints,omitempty"`
	} `json:"spec"`
}

func nodeSpecHash(n awsemu.Node) string {
	keys := make([]string, 0, len(n.Labels))
	for k := range n.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, n.Labels[k])
	}
	for _, t := range n.Taints {
		fmt.Fprintf(h, "%s=%s:%s\n", t.Key, t.Value, t.Effect)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (j *nodeJoiner) sync(ctx context.Context) {
	want := map[string]awsemu.Node{}
	for _, n := range j.emu.Nodes() {
		want[n.Name] = n
	}
	if j.known != nil && j.clock.Since(j.listed) < resyncInterval && sameNodes(want, j.known) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	code, body, err := j.api.do(ctx, http.MethodGet, "/api/v1/nodes", "")
	if err != nil || code != http.StatusOK {
		return // the API server is not up (yet, or a fault test stopped it): next tick
	}
	var list struct {
		Items []nodeObject `json:"items"`
	}
	if json.Unmarshal(body, &list) != nil {
		return
	}
	have := map[string]string{} // emulated node -> its spec hash
	for _, n := range list.Items {
		if _, ok := n.Metadata.Annotations[emulatedNodeAnnotation]; ok {
			have[n.Metadata.Name] = n.Metadata.Annotations[nodeSpecAnnotation]
		}
	}
	defer func() { j.known, j.listed = have, j.clock.Now() }()
	for name, spec := range have {
		if n, ok := want[name]; !ok || nodeSpecHash(n) != spec {
			if code, _, err := j.api.do(ctx, http.MethodDelete, "/api/v1/nodes/"+name, ""); err == nil && (code == http.StatusOK || code == http.StatusNotFound) {
				j.logf("node %s left", name)
				delete(have, name)
			}
		}
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := have[name]; ok {
			continue
		}
		n := want[name]
		if _, groups, ok := j.emu.NodeIdentity(n.Cluster, n.NodeRoleARN, name, j.mapper); !ok || !slices.Contains(groups, "system:nodes") {
			continue // not a node to this cluster (yet): the kubelet would retry
		}
		var obj nodeObject
		obj.APIVersion, obj.Kind = "v1", "Node"
		obj.Metadata.Name, obj.Metadata.Labels = name, n.Labels
		obj.Metadata.Annotations = map[string]string{emulatedNodeAnnotation: n.Cluster, nodeSpecAnnotation: nodeSpecHash(n)}
		obj.Spec.Unschedulable = true
		for _, t := range n.Taints {
			obj.Spec.Taints = append(obj.Spec.Taints, struct {
				Key    string `json:"key"`
				Value  string `json:"value,omitempty"`
				Effect string `json:"effect"`
			}{t.Key, t.Value, t.Effect})
		}
		b, err := json.Marshal(obj)
		if err != nil {
			continue
		}
		if code, _, err := j.api.do(ctx, http.MethodPost, "/api/v1/nodes", string(b)); err == nil && code == http.StatusCreated {
			j.logf("node %s joined cluster %s", name, n.Cluster)
			have[name] = nodeSpecHash(n)
		}
	}
}

// sameNodes: the emulator wants exactly the nodes (with their labels and taints) that are
// on the API server.
func sameNodes(want map[string]awsemu.Node, have map[string]string) bool {
	if len(want) != len(have) {
		return false
	}
	for name, n := range want {
		if spec, ok := have[name]; !ok || spec != nodeSpecHash(n) {
			return false
		}
	}
	return true
}
