package kube

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
)

// Drift of what a release made: Read knows helm's record, which says "deployed" even when
// someone deleted the chart's objects or edited them since. CheckObjects checks the
// record's manifest against the cluster with one LIST per kind and namespace, shared by
// every app of the run that asks about the same kind and namespace: metadata-only for
// most kinds (objectNames), a full LIST for the few kinds whose fields it compares
// (liveObjects, see drift_fields.go); the kinds resolved through one discovery per run
// and cluster.

// Drift is what CheckObjects found. Objects are named with their namespace filled in
// (the release's, for a namespaced object the manifest gives none).
type Drift struct {
	// Missing are the manifest's objects that do not exist, in manifest order. An object
	// whose kind the cluster no longer serves (its CRD deleted) is missing too.
	Missing []ObjectRef
	// Changed are the objects that exist but some of whose compared fields differ from
	// the manifest, in manifest order.
	Changed []FieldDrift
	// Unchecked are the objects whose kind the credential may not list (403), or that
	// could not be read: neither missing nor confirmed.
	Unchecked []ObjectRef
}

// CheckObjects reports which objects of rel's manifest no longer exist, and which differ
// from it in the fields drift_fields.go compares. Namespaced objects without a
// namespace in the manifest are looked for in the release namespace.
func (c *Client) CheckObjects(ctx context.Context, rel *Release) (Drift, error) {
	var d Drift
	if rel == nil || len(rel.Objects) == 0 {
		return d, nil
	}
	if c.meta == nil {
		return d, &LocalError{Msg: "checking the chart's objects needs a client built by the factory"}
	}
	type group struct {
		gvr schema.GroupVersionResource
		ns  string
	}
	groups := map[group][]int{}
	var order []group
	refs := make([]ObjectRef, len(rel.Objects)) // as named in the results
	missing := map[int]bool{}
	for i, o := range rel.Objects {
		refs[i] = ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
		if removedByDesign(o) {
			continue
		}
		gvk := schema.FromAPIVersionAndKind(o.APIVersion, o.Kind)
		m, err := c.restMapping(ctx, gvk)
		if meta.IsNoMatchError(err) {
			missing[i] = true // the cluster no longer serves its kind
			continue
		}
		if err != nil {
			return Drift{}, err
		}
		g := group{gvr: m.Resource}
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			g.ns = o.Namespace
			if g.ns == "" {
				g.ns = rel.Namespace
			}
		}
		refs[i].Namespace = g.ns
		if _, seen := groups[g]; !seen {
			order = append(order, g)
		}
		groups[g] = append(groups[g], i)
	}
	unchecked := map[int]bool{}
	changed := map[int]FieldDrift{}
	for _, g := range order {
		var names map[string]bool
		var live map[string]*liveObject
		var err error
		if fieldKind(g.gvr) {
			live, err = c.liveObjects(ctx, g.gvr, g.ns)
		} else {
			names, err = c.objectNames(ctx, g.gvr, g.ns)
		}
		if ctx.Err() != nil {
			return Drift{}, ctx.Err()
		}
		for _, i := range groups[g] {
			name := rel.Objects[i].Name
			switch {
			case err != nil:
				unchecked[i] = true
			case live != nil && live[name] == nil, live == nil && !names[name]:
				missing[i] = true
			case live != nil:
				if diffs := compareFields(rel.Objects[i].fields, live[name]); len(diffs) > 0 {
					changed[i] = FieldDrift{Object: refs[i], Changes: diffs}
				}
			}
		}
	}
	for i := range rel.Objects {
		switch {
		case missing[i]:
			d.Missing = append(d.Missing, refs[i])
		case unchecked[i]:
			d.Unchecked = append(d.Unchecked, refs[i])
		}
		if f, ok := changed[i]; ok {
			d.Changed = append(d.Changed, f)
		}
	}
	return d, nil
}

// removedByDesign: objects their controllers delete when done (a finished Job with a
// TTL, a bare Pod that ran): their absence is no drift, and an upgrade to make them again
// at every plan would never settle.
func removedByDesign(o ObjectRef) bool {
	gv, _ := schema.ParseGroupVersion(o.APIVersion)
	return (gv.Group == "" && o.Kind == "Pod") || (gv.Group == "batch" && o.Kind == "Job")
}

// kindMapper resolves kinds to resources through one discovery per run (made on first
// use, sent again once when a kind is unknown: a CRD made since).
type kindMapper struct {
	once, reset sync.Once
	mapper      *restmapper.DeferredDiscoveryRESTMapper
	// The run's full lists of the compared kinds live here too: the per-run state the
	// client's copies share.
	kindMapperFull
}

// restMapping resolves a kind through this run's discovery of the cluster; a kind the
// cluster does not serve is a no-match error.
func (c *Client) restMapping(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	k := c.kinds
	k.once.Do(func() {
		k.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.cs.Discovery()))
	})
	m, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		k.reset.Do(k.mapper.Reset)
		m, err = k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil && !meta.IsNoMatchError(err) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, wrap("discover the cluster's API resources", err)
	}
	return m, err
}

// objectNames is the run's list of the names of gvr's objects in ns ("" for a
// cluster-scoped resource), made on first use (see runLists).
func (c *Client) objectNames(ctx context.Context, gvr schema.GroupVersionResource, ns string) (map[string]bool, error) {
	l, err := c.objects.get(ctx, c.clock, gvr.String()+"\x00"+ns, func() (map[string]bool, error) {
		return c.listObjectNames(ctx, gvr, ns)
	})
	if err != nil {
		return nil, err
	}
	return l.val, nil
}

func (c *Client) listObjectNames(ctx context.Context, gvr schema.GroupVersionResource, ns string) (map[string]bool, error) {
	op := "list " + gvr.Resource
	if ns != "" {
		op += " in " + ns
	}
	var names map[string]bool
	err := c.retryCall(ctx, op, readAttempts, nil, func() error {
		list, err := c.meta.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		names = make(map[string]bool, len(list.Items))
		for i := range list.Items {
			names[list.Items[i].Name] = true
		}
		return nil
	})
	if IsNotFound(err) { // the namespace (or the resource) is gone: nothing of it exists
		return map[string]bool{}, nil
	}
	return names, wrap(op, err)
}

// forgetObjectLists: the provider is about to change what exists in ns (an install or
// uninstall of this run); later drift checks there, and of cluster-scoped kinds, list
// again.
func (c *Client) forgetObjectLists(ns string) {
	match := func(key string) bool {
		n := key[strings.LastIndex(key, "\x00")+1:]
		return n == ns || n == ""
	}
	if c.objects != nil {
		c.objects.forget(match)
	}
	if c.kinds != nil {
		c.kinds.fullLists().forget(match)
	}
}

// ChangedSummary names the changed objects and what changed for a diagnostic (see
// SummarizeChanges).
func (d Drift) ChangedSummary() string {
	names := make([]string, len(d.Changed))
	for i, f := range d.Changed {
		names[i] = f.String()
	}
	return SummarizeChanges(names)
}

// SummarizeChanges joins FieldDrift.String()s for a diagnostic, the first ten of them.
func SummarizeChanges(changes []string) string {
	const maxNamed = 10
	if len(changes) <= maxNamed {
		return strings.Join(changes, ". ")
	}
	return strings.Join(changes[:maxNamed], ". ") + fmt.Sprintf(". And %d more objects", len(changes)-maxNamed)
}

// MissingSummary names the missing objects for a diagnostic (see SummarizeObjects).
func (d Drift) MissingSummary() string {
	names := make([]string, len(d.Missing))
	for i, o := range d.Missing {
		names[i] = o.String()
	}
	return SummarizeObjects(names)
}

// SummarizeObjects joins object names for a diagnostic, the first ten of them by name.
func SummarizeObjects(names []string) string {
	const maxNamed = 10
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxNamed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxNamed)
}
