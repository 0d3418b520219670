package nodeagent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// serve is the node's kubelet endpoint: containerLogs of the agent's own pods, everything
// else (kwok's pods' logs, exec, attach, port-forward, metrics) reverse-proxied to kwok.
// Clients must present a certificate from the stack CA (the apiserver's kubelet client).
func (a *Agent) serve(ctx context.Context) error {
	cert, err := tls.LoadX509KeyPair(a.cfg.CertFile, a.cfg.KeyFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(a.caPEM) {
		return errors.New("no certificate in the CA file")
	}
	kwok := &url.URL{Scheme: "https", Host: a.cfg.KwokAddr}
	proxy := httputil.NewSingleHostReverseProxy(kwok)
	proxy.Transport = &http.Transport{
		// kwok's server uses the same certificate (apiserver.crt, valid for 127.0.0.1).
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		Proxy:           nil,
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	proxy.FlushInterval = -1 // follow streams
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/{namespace}/{pod}/{container}", func(w http.ResponseWriter, r *http.Request) {
		pw := a.lookup(r.PathValue("namespace"), r.PathValue("pod"))
		if pw == nil {
			proxy.ServeHTTP(w, r)
			return
		}
		if pw.container != r.PathValue("container") {
			http.Error(w, "container "+r.PathValue("container")+" is not valid for pod "+r.PathValue("pod"), http.StatusBadRequest)
			return
		}
		logs := pw.currentLogs()
		if logs == nil {
			http.Error(w, "container "+r.PathValue("container")+" in pod "+r.PathValue("pod")+" is waiting to start", http.StatusBadRequest)
			return
		}
		logs.serve(w, r)
	})
	mux.Handle("/", proxy)
	srv := &http.Server{
		Addr:              a.cfg.ListenAddr,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	l, err := net.Listen("tcp", a.cfg.ListenAddr)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err = srv.ServeTLS(l, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
