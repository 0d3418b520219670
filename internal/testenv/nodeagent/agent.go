package nodeagent

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/lbcontroller"
)

// Agent runs the owned pods of one node.
type Agent struct {
	cfg     Config
	opts    Options
	cs      kubernetes.Interface
	apiPort int
	caPEM   []byte
	hostCA  []byte
	self    string // this binary (/proc/self/exe: still there if the file was removed), each container's init

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	wg      sync.WaitGroup
}

// Run serves the node until ctx ends; the containers die with it (parent-death signal).
func Run(ctx context.Context, cfg Config, opts Options) error {
	opts.defaults()
	caPEM, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return err
	}
	u, err := url.Parse(cfg.APIHost)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return fmt.Errorf("api host %q has no port", cfg.APIHost)
	}
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: cfg.APIHost, BearerToken: cfg.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM}, QPS: 200, Burst: 400, UserAgent: "clusterkit-node-agent"})
	if err != nil {
		return err
	}
	hostCA, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt") // none on the host: the stack CA alone
	a := &Agent{cfg: cfg, opts: opts, cs: cs, apiPort: port, caPEM: caPEM, hostCA: hostCA, self: "/proc/self/exe", workers: map[types.UID]*podWorker{}}
	for _, dir := range []string{"/usr/local/bin"} {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("the host has no %s to put the toolsets over", dir)
		}
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "pods"), 0o711); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	srvErr := make(chan error, 1)
	go func() { srvErr <- a.serve(ctx) }()
	if cfg.LoadBalancers {
		go lbcontroller.Run(ctx, cs, opts.Log)
	}

	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
	}))
	inf := factory.Core().V1().Pods().Informer()
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.observe(ctx, obj) },
		UpdateFunc: func(_, obj any) { a.observe(ctx, obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				a.forget(pod.UID)
			}
		},
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	opts.Log("node-agent: watching pods on %s; toolsets %v", cfg.NodeName, cfg.Toolsets)
	select {
	case <-ctx.Done():
	case err = <-srvErr:
	}
	cancel()
	factory.Shutdown()
	a.wg.Wait()
	return err
}

// observe hands an owned pod's newest version to its worker, starting one on first sight.
func (a *Agent) observe(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || !Owns(pod) {
		return
	}
	a.mu.Lock()
	w := a.workers[pod.UID]
	if w == nil {
		w = a.newWorker(ctx, pod)
		a.workers[pod.UID] = w
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			w.run()
		}()
	}
	a.mu.Unlock()
	w.offer(pod)
}

// forget ends the worker of a pod that is gone and removes its directory.
func (a *Agent) forget(uid types.UID) {
	a.mu.Lock()
	w := a.workers[uid]
	delete(a.workers, uid)
	a.mu.Unlock()
	if w != nil {
		w.cancel()
	}
}

// lookup finds the worker of a pod by name, for its logs.
func (a *Agent) lookup(namespace, name string) *podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		if w.namespace == namespace && w.name == name {
			return w
		}
	}
	return nil
}

// podDir is where a pod's files live: inside the agent's directory only.
func (a *Agent) podDir(uid types.UID) string {
	return filepath.Join(a.cfg.Dir, "pods", string(uid))
}

// removePodDir deletes a pod's directory unless something is still mounted below it (a
// mount in the host's namespace would mean the host's own files are reachable there).
func removePodDir(dir string) error {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(mi), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			return fmt.Errorf("not removing %s: %s is mounted", dir, f[4])
		}
	}
	return os.RemoveAll(dir)
}
