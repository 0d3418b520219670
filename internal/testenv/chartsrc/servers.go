package chartsrc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// httpRepo is one chart repository on the HTTP server: a directory holding index.yaml and
// the .tgz files it lists.
type httpRepo struct {
	dir     string
	private bool
}

// repoHandler serves GET/HEAD /<repo>/<file> for the known repositories, index.yaml and
// .tgz files only (no listings, no other paths).
func repoHandler(repos map[string]httpRepo, user, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		dir, file := path.Split(path.Clean(r.URL.Path))
		repo, ok := repos[strings.Trim(dir, "/")]
		if !ok || (file != "index.yaml" && !strings.HasSuffix(file, ".tgz") && !strings.HasSuffix(file, ".tgz.prov")) {
			http.NotFound(w, r)
			return
		}
		if repo.private && !authorized(r, user, password) {
			unauthorized(w, "401 unauthorized\n", "text/plain; charset=utf-8")
			return
		}
		f, err := os.Open(filepath.Join(repo.dir, file))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		switch {
		case file == "index.yaml":
			w.Header().Set("Content-Type", "application/yaml")
		case strings.HasSuffix(file, ".prov"):
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		default:
			w.Header().Set("Content-Type", "application/gzip")
		}
		http.ServeContent(w, r, file, st.ModTime(), f)
	})
}

// servers are the two HTTPS servers and the goroutines serving them.
type servers struct {
	httpAddr, ociAddr string
	privateCAAddr     string // "" without Config.PrivateCACertFile
	srvs              []*http.Server
	wg                sync.WaitGroup
}

func startServers(cfg Config, repos map[string]httpRepo, logf func(string, ...any)) (_ *servers, err error) {
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("chartsrc: serving certificate: %w", err)
	}
	s := &servers{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	serve := func(addr string, h http.Handler, name string, cert tls.Certificate) (string, error) {
		addr, err := loopbackAddr(addr)
		if err != nil {
			return "", err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", fmt.Errorf("chartsrc: %s: %w", name, err)
		}
		if cfg.LogRequests {
			h = logRequests(h, name, logf)
		}
		srv := &http.Server{
			Handler:           h,
			TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			ReadHeaderTimeout: 10 * time.Second,
			// TLS handshake noise from clients without the CA is not worth a log line.
			ErrorLog: log.New(io.Discard, "", 0),
		}
		s.srvs = append(s.srvs, srv)
		s.wg.Go(func() { _ = srv.ServeTLS(ln, "", "") })
		return ln.Addr().String(), nil
	}
	if s.httpAddr, err = serve(cfg.HTTPAddr, repoHandler(repos, cfg.Username, cfg.Password), "chart repository", cert); err != nil {
		return nil, err
	}
	if s.ociAddr, err = serve(cfg.OCIAddr, ociHandler(cfg.Username, cfg.Password), "oci registry", cert); err != nil {
		return nil, err
	}
	if cfg.PrivateCACertFile != "" {
		own, err := tls.LoadX509KeyPair(cfg.PrivateCACertFile, cfg.PrivateCAKeyFile)
		if err != nil {
			return nil, fmt.Errorf("chartsrc: private-CA serving certificate: %w", err)
		}
		if s.privateCAAddr, err = serve("", repoHandler(repos, cfg.Username, cfg.Password), "chart repository (private CA)", own); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// close lets requests in flight finish (briefly), then closes everything and waits for the
// serving goroutines.
func (s *servers) close() error {
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range s.srvs {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err, srv.Close())
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// logRequests logs method, path and status; never headers, so never credentials.
func logRequests(h http.Handler, name string, logf func(string, ...any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		logf("chartsrc: %s: %s %s %d", name, r.Method, r.URL.Path, rec.status)
	})
}
