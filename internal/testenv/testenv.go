// Package testenv runs the local stack the acceptance tests and the demo use: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1, all real
// binaries built from the Go module proxy by tools/build.sh.
package testenv

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/faultproxy"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/nodeagent"
)

// Pod annotations the kwok stages understand: an install pod "runs" for RunTime (a Go
// duration, default 1s) and ends with ExitCode (default 0: Succeeded; otherwise Failed).
const (
	AnnotationExitCode = "testenv.clusterkit.dev/exit-code"
	AnnotationRunTime  = "testenv.clusterkit.dev/run-time"
	// NodeName is the one fake node pods are scheduled to.
	NodeName = "kwok-node-0"
)

//go:embed stages.yaml
var stagesYAML string

// Options configure Start.
type Options struct {
	// Dir holds certificates, etcd data, logs and pid files; a temporary directory when empty
	// (removed by Stop).
	Dir string
	// BinDirs are searched for the binaries; default CLUSTERKIT_BIN_PATH, else tools/build.sh.
	BinDirs []string
	// Detach lets the processes outlive this one (make up); Stop or `stack down` ends them.
	Detach bool
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
	// StartTimeout bounds the whole start; default 3 minutes.
	StartTimeout time.Duration
	// AWSCommand runs the AWS emulator as a separate process (RunAWS with --config FILE
	// appended); empty runs it inside this process. Detached stacks need the former.
	AWSCommand []string
	// NodeAgent runs pods with a helm installer image (Helm4Image, Helm3Image) as real
	// processes with real helm (package nodeagent) and LoadBalancer Services get an ingress
	// hostname; kwok fakes every other pod. False: kwok fakes every pod, helm's included.
	NodeAgent bool
	// Toolsets overrides the image -> helm directory map of the node agent (default: the
	// tools/build.sh helm4 and helm3 builds for Helm4Image and Helm3Image).
	Toolsets map[string]string
	// FaultProxy starts a fault proxy (package faultproxy) in this process in front of the
	// kube-apiserver, at Stack.ProxyHost; only clients handed that URL go through it.
	FaultProxy bool
}

// Stack is a running local stack.
type Stack struct {
	Dir        string `json:"dir"`
	Host       string `json:"host"`
	CAFile     string `json:"ca_file"`
	CAPEM      string `json:"-"`
	AdminToken string `json:"admin_token"`
	UserToken  string `json:"user_token"`
	Kubeconfig string `json:"kubeconfig"`
	// PodLogFile is what kwok serves as every container's log (but the node agent's pods').
	PodLogFile string `json:"pod_log_file"`
	// NodeAgent: the node agent runs the helm pods (Options.NodeAgent).
	NodeAgent bool `json:"node_agent"`
	// Charts are the chart sources (with the node agent): repository and registry URLs,
	// their credentials and the catalog mirrors.
	Charts *chartsrc.Sources `json:"charts,omitempty"`

	// The emulated AWS side (see AWSConfig); AWS is nil when the emulator runs in
	// another process (a detached stack).
	AWSEndpoint string           `json:"aws_endpoint"`
	AWSConfig   AWSConfig        `json:"aws"`
	AWS         *awsemu.Emulator `json:"-"`
	// OIDC is the stack's OIDC issuer (nil when the emulator runs in another process);
	// tests mint web identity tokens with it.
	OIDC *awsemu.Issuer `json:"-"`
	// ProxyHost is the fault proxy's URL (Options.FaultProxy), same CA as Host.
	ProxyHost string `json:"-"`

	ownsDir    bool
	proxy      *faultproxy.Proxy
	components []*component
	api        *apiClient
	aws        *awsRuntime
}

// componentNames in start order; node-agent and chart-sources only run with Options.NodeAgent.
var componentNames = []string{"aws-emulator", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "node-agent", "chart-sources"}

// agentOnly are the components that run only with the node agent.
var agentOnly = map[string]bool{"node-agent": true, "chart-sources": true}

// Start brings the stack up and returns once a pod could be scheduled: the API is ready,
// the fake node is Ready and the default service account exists.
//
// The components' ports are picked free, but the components bind them a moment later
// (most are other processes), so another socket on the machine (another test binary's
// stack, an outgoing connection's ephemeral port) can take one in between: then the stack
// starts again on new ports, a few times.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	for attempt := 1; ; attempt++ {
		s, err := startOnce(ctx, opts)
		if err == nil || attempt == startAttempts || !portTaken(err) || ctx.Err() != nil {
			return s, err
		}
		if opts.Log != nil {
			opts.Log("testenv: a port was taken while the stack started (attempt %d): starting again on new ports: %v", attempt, err)
		}
		if s != nil && s.ownsDir {
			_ = os.RemoveAll(s.Dir)
		}
	}
}

const startAttempts = 3

// portTaken: a component could not bind its port, in this process (EADDRINUSE) or in
// another one (its log's tail is in the error).
func portTaken(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}

func startOnce(ctx context.Context, opts Options) (s *Stack, err error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	t0 := time.Now()

	bins, err := resolveBinaries(opts.BinDirs)
	if err != nil {
		return nil, err
	}
	tools := opts.Toolsets
	if opts.NodeAgent && tools == nil {
		if tools, err = resolveToolsets(); err != nil {
			return nil, err
		}
	}
	s = &Stack{Dir: opts.Dir, NodeAgent: opts.NodeAgent}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "clusterkit-stack-"); err != nil {
			return nil, err
		}
		s.ownsDir = true
	} else if s.Dir, err = filepath.Abs(s.Dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w (logs in %s/logs)", err, s.Dir)
			s.stopProcesses()
		}
	}()
	for _, d := range []string{"etcd-data", "logs", "kwok", "node-agent", "chart-sources", chartsStateFile} {
		if err := os.RemoveAll(filepath.Join(s.Dir, d)); err != nil {
			return s, err
		}
	}
	p, err := newPKI(filepath.Join(s.Dir, "pki"))
	if err != nil {
		return s, fmt.Errorf("generating certificates: %w", err)
	}
	s.CAFile, s.CAPEM, s.AdminToken, s.UserToken = p.path("ca.crt"), string(p.caPEM), p.adminToken, p.userToken

	ports, err := freePorts(10)
	if err != nil {
		return s, err
	}
	etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort, agentPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[8]
	s.Host = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	s.AWSConfig, err = newAWSConfig("127.0.0.1:"+strconv.Itoa(ports[6]), "127.0.0.1:"+strconv.Itoa(ports[7]), "127.0.0.1:"+strconv.Itoa(ports[9]),
		s.Host, s.CAFile, s.AdminToken)
	if err != nil {
		return s, err
	}
	s.AWSEndpoint = "http://" + s.AWSConfig.Addr
	webhookConfig := filepath.Join(s.Dir, "eks-token-webhook.kubeconfig")
	if err := os.WriteFile(webhookConfig, []byte(webhookKubeconfig(s.AWSConfig.WebhookAddr)), 0o600); err != nil {
		return s, err
	}
	s.Kubeconfig = filepath.Join(s.Dir, "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, []byte(kubeconfig(s.Host, p)), 0o600); err != nil {
		return s, err
	}

	if len(opts.AWSCommand) > 0 {
		bins["aws-emulator"] = opts.AWSCommand[0]
	}
	// The node agent is this very binary (any binary importing testenv), re-executed.
	argv0 := map[string]string{"node-agent": nodeagent.AgentArg0, "chart-sources": chartsrc.ServeArg0}
	if opts.NodeAgent {
		self, err := os.Executable()
		if err != nil {
			return s, err
		}
		bins["node-agent"], bins["chart-sources"] = self, self
	}
	start := func(name string, args ...string) error {
		env := []string{"PATH=/usr/bin:/bin", "HOME=" + s.Dir}
		c, err := startComponent(s.Dir, name, bins[name], argv0[name], args, env, opts.Detach)
		if err != nil {
			return err
		}
		s.components = append(s.components, c)
		return nil
	}
	if err := s.startAWS(ctx, opts, logf, start); err != nil {
		return s, err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	// etcd gets a clean environment: stray ETCD_* variables would reconfigure it.
	if err := start("etcd", "--name", "testenv", "--data-dir", filepath.Join(s.Dir, "etcd-data"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "testenv="+peerURL, "--unsafe-no-fsync", "--log-level", "warn"); err != nil {
		return s, err
	}
	if err := start("kube-apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(apiPort),
		"--cert-dir="+filepath.Join(s.Dir, "apiserver-certs"),
		"--tls-cert-file="+p.path("apiserver.crt"), "--tls-private-key-file="+p.path("apiserver.key"),
		"--client-ca-file="+p.path("ca.crt"), "--token-auth-file="+p.path("tokens.csv"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p.path("sa.pub"), "--service-account-signing-key-file="+p.path("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=RBAC", "--allow-privileged=true",
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-client-certificate="+p.path("admin.crt"), "--kubelet-client-key="+p.path("admin.key"),
		"--kubelet-certificate-authority="+p.path("ca.crt"),
		"--endpoint-reconciler-type=none", "--disable-admission-plugins=TaintNodesByCondition",
		"--authentication-token-webhook-config-file="+webhookConfig, "--authentication-token-webhook-version=v1",
		"--authentication-token-webhook-cache-ttl=10s",
		"--enable-priority-and-fairness=false", "--profiling=false", "--v=0"); err != nil {
		return s, err
	}
	if err := s.waitReady(ctx); err != nil {
		return s, err
	}
	logf("testenv: kube-apiserver ready at %s after %s", s.Host, since(t0))
	if opts.FaultProxy {
		if err := s.startFaultProxy(p, opts.Detach); err != nil {
			return s, err
		}
		logf("testenv: fault proxy at %s", s.ProxyHost)
	}

	kc := "--kubeconfig=" + s.Kubeconfig
	common := []string{kc, "--authentication-kubeconfig=" + s.Kubeconfig, "--authorization-kubeconfig=" + s.Kubeconfig,
		"--authentication-skip-lookup=true", "--leader-elect=false", "--bind-address=127.0.0.1"}
	// The controller manager is here for namespace deletion, service-account tokens and
	// garbage collection: what a real cluster does after the provider's calls.
	if err := start("kube-controller-manager", append(common, "--secure-port="+strconv.Itoa(kcmPort),
		// The workload controllers make the charts' Deployments, StatefulSets, DaemonSets
		// and Services real, so helm --wait sees their kwok pods become ready.
		"--controllers=namespace-controller,serviceaccount-controller,serviceaccount-token-controller,garbage-collector-controller,root-ca-certificate-publisher-controller,job-controller,ttl-after-finished-controller,"+
			"deployment-controller,replicaset-controller,statefulset-controller,daemonset-controller,cronjob-controller,replicationcontroller-controller,"+
			"endpoints-controller,endpointslice-controller,endpointslice-mirroring-controller,disruption-controller,clusterrole-aggregation-controller",
		"--service-account-private-key-file="+p.path("sa.key"), "--root-ca-file="+p.path("ca.crt"),
		"--use-service-account-credentials=false")...); err != nil {
		return s, err
	}
	if err := start("kube-scheduler", append(common, "--secure-port="+strconv.Itoa(schedPort))...); err != nil {
		return s, err
	}
	kwokConfig, err := s.writeKwokConfig()
	if err != nil {
		return s, err
	}
	// With the agent, the node's kubelet port (--node-port, what the apiserver calls for
	// logs) is the agent's; it passes what is not its own on to kwok's server.
	nodePort := kwokPort
	if opts.NodeAgent {
		nodePort = agentPort
		cfg, err := s.writeAgentConfig(p, "127.0.0.1:"+strconv.Itoa(agentPort), "127.0.0.1:"+strconv.Itoa(kwokPort), tools)
		if err != nil {
			return s, err
		}
		if err := start("node-agent", cfg); err != nil {
			return s, err
		}
	}
	if err := start("kwok", kc, "--config="+kwokConfig,
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-ip=127.0.0.1", "--node-port="+strconv.Itoa(nodePort), "--server-address=127.0.0.1:"+strconv.Itoa(kwokPort),
		"--tls-cert-file="+p.path("apiserver.crt"), "--tls-private-key-file="+p.path("apiserver.key")); err != nil {
		return s, err
	}
	if opts.NodeAgent {
		// The charts are packaged while the node comes up.
		cfg, err := s.writeChartsConfig(p, filepath.Join(tools[Helm4Image], "helm"))
		if err != nil {
			return s, err
		}
		if err := start("chart-sources", cfg, filepath.Join(s.Dir, chartsStateFile)); err != nil {
			return s, err
		}
	}
	if err := s.waitSchedulable(ctx); err != nil {
		return s, err
	}
	logf("testenv: node %s Ready and default service account present after %s", NodeName, since(t0))
	if opts.NodeAgent {
		if err := s.waitCharts(ctx); err != nil {
			return s, err
		}
		logf("testenv: chart repository %s and OCI registry %s serving after %s", s.Charts.RepoURL, s.Charts.OCIRegistry, since(t0))
	}
	return s, s.save()
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

func resolveBinaries(dirs []string) (map[string]string, error) {
	if len(dirs) == 0 {
		if env := os.Getenv("CLUSTERKIT_BIN_PATH"); env != "" {
			dirs = filepath.SplitList(env)
		} else {
			var err error
			if dirs, err = buildTools("kube", "etcd", "kwok"); err != nil {
				return nil, err
			}
		}
	}
	bins := map[string]string{}
	for _, n := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		p, err := findBinary(dirs, n)
		if err != nil {
			return nil, err
		}
		bins[n] = p
	}
	return bins, nil
}

func kubeconfig(host string, p pki) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster: {server: %q, certificate-authority: %q}
users:
- name: admin
  user: {client-certificate: %q, client-key: %q}
contexts:
- name: testenv
  context: {cluster: testenv, user: admin}
current-context: testenv
`, host, p.path("ca.crt"), p.path("admin.crt"), p.path("admin.key"))
}

func (s *Stack) writeKwokConfig() (string, error) {
	dir := filepath.Join(s.Dir, "kwok")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	s.PodLogFile = filepath.Join(dir, "pod.log")
	now := time.Now().UTC().Format(time.RFC3339Nano)
	podLog := fmt.Sprintf("%s stdout F clusterkit testenv: container started\n%s stdout F clusterkit testenv: container finished\n", now, now)
	if err := os.WriteFile(s.PodLogFile, []byte(podLog), 0o644); err != nil {
		return "", err
	}
	stages, err := renderStages(s.NodeAgent)
	if err != nil {
		return "", err
	}
	cfg := stages + fmt.Sprintf(`---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: testenv-pod-logs
spec:
  logs:
  - logsFile: %s
`, s.PodLogFile)
	path := filepath.Join(dir, "kwok.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o644)
}

func (s *Stack) do(ctx context.Context, method, path, body string) (int, []byte, error) {
	if s.api == nil {
		s.api = newAPIClient(s.Host, []byte(s.CAPEM), s.AdminToken)
	}
	return s.api.do(ctx, method, path, body)
}

// poll calls check every interval until it returns true, ctx ends, or a component dies.
// Start-up has nothing to watch yet (the API may not answer), so polling is the honest tool.
func (s *Stack) poll(ctx context.Context, what string, check func() (bool, error)) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := check()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		for _, c := range s.components {
			if !c.alive() {
				return fmt.Errorf("%s exited while waiting for %s:\n%s", c.name, what, tail(s.Dir, c.name, 15))
			}
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %w)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

func (s *Stack) waitReady(ctx context.Context) error {
	return s.poll(ctx, "kube-apiserver /readyz", func() (bool, error) {
		code, _, err := s.do(ctx, http.MethodGet, "/readyz", "")
		return code == http.StatusOK, err
	})
}

func (s *Stack) waitSchedulable(ctx context.Context) error {
	node := fmt.Sprintf(`{"apiVersion":"v1","kind":"Node","metadata":{"name":%q,"annotations":{"kwok.x-k8s.io/node":"fake"},"labels":{"type":"kwok","kubernetes.io/hostname":%q,"kubernetes.io/os":"linux","kubernetes.io/arch":"amd64"}}}`, NodeName, NodeName)
	code, _, err := s.do(ctx, http.MethodPost, "/api/v1/nodes", node)
	if err != nil {
		return fmt.Errorf("creating node %s: %w", NodeName, err)
	}
	if code != http.StatusCreated && code != http.StatusConflict {
		return fmt.Errorf("creating node %s: HTTP %d", NodeName, code)
	}
	if err := s.poll(ctx, "node "+NodeName+" Ready", func() (bool, error) {
		code, body, err := s.do(ctx, http.MethodGet, "/api/v1/nodes/"+NodeName, "")
		if err != nil || code != http.StatusOK {
			return false, err
		}
		var n struct {
			Status struct {
				Conditions []struct{ Type, Status string } `json:"conditions"`
			} `json:"status"`
		}
		if err := json.Unmarshal(body, &n); err != nil {
			return false, err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	// The ServiceAccount admission plugin rejects pods until "default" exists.
	return s.poll(ctx, "default service account", func() (bool, error) {
		code, _, err := s.do(ctx, http.MethodGet, "/api/v1/namespaces/default/serviceaccounts/default", "")
		return code == http.StatusOK, err
	})
}

// Stop ends every process and removes a temporary directory.
func (s *Stack) Stop() error {
	if s == nil {
		return nil
	}
	s.stopProcesses()
	if s.ownsDir {
		return os.RemoveAll(s.Dir)
	}
	return os.Remove(filepath.Join(s.Dir, stateFile))
}

func (s *Stack) stopProcesses() {
	s.stopFaultProxy()
	s.aws.close()
	s.aws = nil
	for i := len(s.components) - 1; i >= 0; i-- {
		s.components[i].stop(10 * time.Second)
		_ = os.Remove(filepath.Join(s.Dir, s.components[i].name+".pid"))
	}
	s.components = nil
}

const stateFile = "stack.json"

func (s *Stack) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir, stateFile), b, 0o600)
}

// Attach finds a stack a detached Start (make up) left in dir and checks it still answers.
func Attach(dir string) (*Stack, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("no running stack in %s (make up starts one): %w", dir, err)
	}
	s := &Stack{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s: %w", stateFile, err)
	}
	ca, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, err
	}
	s.CAPEM = string(ca)
	for _, n := range componentNames {
		if agentOnly[n] && !s.NodeAgent {
			continue
		}
		c, err := attachComponent(s.Dir, n)
		if err != nil {
			return nil, fmt.Errorf("stack in %s is broken (make down && make up): %w", dir, err)
		}
		s.components = append(s.components, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.waitReady(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Env is what tests, the demo and a shell need to reach the stack.
func (s *Stack) Env() map[string]string {
	env := map[string]string{
		"CLUSTERKIT_STACK_DIR":       s.Dir,
		"CLUSTERKIT_TEST_HOST":       s.Host,
		"CLUSTERKIT_TEST_CA_FILE":    s.CAFile,
		"CLUSTERKIT_TEST_TOKEN":      s.AdminToken,
		"CLUSTERKIT_TEST_USER_TOKEN": s.UserToken,
		"CLUSTERKIT_TEST_POD_LOG":    s.PodLogFile,
		"KUBECONFIG":                 s.Kubeconfig,
		// The emulated AWS: endpoint, the platform's keys, the customer role.
		"CLUSTERKIT_TEST_AWS_ENDPOINT":          s.AWSEndpoint,
		"CLUSTERKIT_TEST_AWS_REGION":            s.AWSConfig.Region,
		"CLUSTERKIT_TEST_AWS_ACCESS_KEY_ID":     s.AWSConfig.AccessKeyID,
		"CLUSTERKIT_TEST_AWS_SECRET_ACCESS_KEY": s.AWSConfig.SecretKey,
		"CLUSTERKIT_TEST_ROLE_ARN":              s.AWSConfig.RoleARN,
		"CLUSTERKIT_TEST_EXTERNAL_ID":           s.AWSConfig.ExternalID,
	}
	if s.Charts != nil {
		maps.Copy(env, s.Charts.Env())
	}
	if s.ProxyHost != "" {
		env["CLUSTERKIT_TEST_PROXY_HOST"] = s.ProxyHost
	}
	return env
}

// WriteEnvFile writes env (Env plus extra) as a file a shell can source and LoadEnvFile reads.
func WriteEnvFile(path string, env map[string]string) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		if strings.ContainsAny(env[k], "'\n") {
			return fmt.Errorf("env value for %s cannot be written to a shell file", k)
		}
		fmt.Fprintf(&b, "export %s='%s'\n", k, env[k])
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// LoadEnvFile reads a file WriteEnvFile wrote.
func LoadEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok || len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
			return nil, fmt.Errorf("%s:%d: not a KEY='value' line", path, i+1)
		}
		env[k] = v[1 : len(v)-1]
	}
	if len(env) == 0 {
		return nil, errors.New(path + ": empty")
	}
	return env, nil
}

// StopDir ends whatever a detached stack in dir left running, even when part of it died.
func StopDir(dir string) (stopped int, err error) {
	for i := len(componentNames) - 1; i >= 0; i-- {
		c, aerr := attachComponent(dir, componentNames[i])
		if aerr != nil {
			continue
		}
		c.stop(10 * time.Second)
		stopped++
	}
	for _, n := range componentNames {
		_ = os.Remove(filepath.Join(dir, n+".pid"))
	}
	if err := os.Remove(filepath.Join(dir, stateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return stopped, err
	}
	return stopped, nil
}

// startAWS runs the emulator in this process, or as a component when opts.AWSCommand says
// how (a detached stack must outlive the process that started it).
func (s *Stack) startAWS(ctx context.Context, opts Options, logf func(string, ...any), start func(string, ...string) error) error {
	if len(opts.AWSCommand) == 0 {
		rt, err := startAWS(s.AWSConfig, func(string, ...any) {})
		if err != nil {
			return fmt.Errorf("starting the AWS emulator: %w", err)
		}
		s.aws, s.AWS, s.OIDC = rt, rt.emu, rt.issuer
		return nil
	}
	cfgFile := filepath.Join(s.Dir, "aws.json")
	b, _ := json.Marshal(s.AWSConfig)
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		return err
	}
	if err := start("aws-emulator", append(opts.AWSCommand[1:], "--config", cfgFile)...); err != nil {
		return err
	}
	return s.poll(ctx, "the AWS emulator", func() (bool, error) {
		c, err := net.DialTimeout("tcp", s.AWSConfig.Addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil, nil
	})
}
