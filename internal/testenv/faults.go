package testenv

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/faultproxy"
)

// startFaultProxy puts a fault proxy in front of the API server. It serves the API
// server's own certificate (issued for 127.0.0.1), so clients check the stack's CA as
// they would against the API server.
func (s *Stack) startFaultProxy(p pki, detach bool) error {
	if detach {
		return errors.New("the fault proxy runs in the starting process: it cannot serve a detached stack")
	}
	cert, err := tls.LoadX509KeyPair(p.path("apiserver.crt"), p.path("apiserver.key"))
	if err != nil {
		return err
	}
	proxy, err := faultproxy.Start(faultproxy.Options{Target: s.Host, TargetCAPEM: p.caPEM, Cert: cert})
	if err != nil {
		return fmt.Errorf("starting the fault proxy: %w", err)
	}
	s.proxy, s.ProxyHost = proxy, proxy.URL()
	return nil
}

func (s *Stack) stopFaultProxy() {
	if s.proxy != nil {
		_ = s.proxy.Close()
		s.proxy = nil
	}
}

// FaultProxy is the stack's fault proxy; nil unless Options.FaultProxy.
func (s *Stack) FaultProxy() *faultproxy.Proxy { return s.proxy }

// StopAPIServer stops the kube-apiserver (SIGTERM, then SIGKILL after 10 seconds); etcd
// and every other component keep running. StartAPIServer brings it back.
func (s *Stack) StopAPIServer() error {
	c, err := s.component("kube-apiserver")
	if err != nil {
		return err
	}
	if c.bin == "" {
		return errors.New("kube-apiserver was not started by this process: cannot stop and start it")
	}
	c.stop(10 * time.Second)
	return nil
}

// StartAPIServer starts a stopped kube-apiserver again on the same port, with the same
// flags and certificates, and waits until it is ready.
func (s *Stack) StartAPIServer(ctx context.Context) error {
	i, c, err := s.componentIndex("kube-apiserver")
	if err != nil {
		return err
	}
	if c.alive() {
		return errors.New("kube-apiserver is running")
	}
	nc, err := c.restart()
	if err != nil {
		return err
	}
	s.components[i] = nc // its pid file rewritten
	return s.waitReady(ctx)
}

// RestartAPIServer is StopAPIServer then StartAPIServer: a full restart, every watch and
// connection of every client broken.
func (s *Stack) RestartAPIServer(ctx context.Context) error {
	if err := s.StopAPIServer(); err != nil {
		return err
	}
	return s.StartAPIServer(ctx)
}

func (s *Stack) component(name string) (*component, error) {
	_, c, err := s.componentIndex(name)
	return c, err
}

func (s *Stack) componentIndex(name string) (int, *component, error) {
	for i, c := range s.components {
		if c.name == name {
			return i, c, nil
		}
	}
	return 0, nil, fmt.Errorf("the stack has no %s", name)
}

// settlePod is the canary WaitSettled runs.
const settlePod = "testenv-settle"

// WaitSettled returns once the node runs a pod again from start to end: after an API
// server restart the scheduler, kwok and the node agent come back on their own retry
// back-off (tens of seconds after repeated restarts), and a test that follows should
// not pay for it. The canary is a helm pod (run by the node agent) when the stack has
// one, else a kwok pod.
func (s *Stack) WaitSettled(ctx context.Context) error {
	image, command := "registry.k8s.io/pause:3.10", `[]`
	if s.NodeAgent {
		image, command = Helm4Image, `["helm","version"]`
	}
	path := "/api/v1/namespaces/default/pods"
	if _, _, err := s.do(ctx, http.MethodDelete, path+"/"+settlePod+"?gracePeriodSeconds=0", ""); err != nil {
		return err
	}
	pod := fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q},"spec":{"restartPolicy":"Never","terminationGracePeriodSeconds":0,`+
		`"containers":[{"name":"canary","image":%q,"command":%s}]}}`, settlePod, image, command)
	err := s.poll(ctx, "a canary pod to run after the restart", func() (bool, error) {
		code, body, err := s.do(ctx, http.MethodGet, path+"/"+settlePod, "")
		if err != nil {
			return false, err
		}
		if code == http.StatusNotFound {
			// Created once the previous canary is gone.
			_, _, err := s.do(ctx, http.MethodPost, path, pod)
			return false, err
		}
		var p struct {
			Metadata struct {
				DeletionTimestamp *string `json:"deletionTimestamp"`
			} `json:"metadata"`
			Status struct{ Phase string } `json:"status"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return false, err
		}
		return p.Metadata.DeletionTimestamp == nil && (p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed"), nil
	})
	if err != nil {
		return err
	}
	_, _, err = s.do(ctx, http.MethodDelete, path+"/"+settlePod+"?gracePeriodSeconds=0", "")
	return err
}
