package chartsrc

import (
	"crypto/subtle"
	"io"
	"log"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
)

// authRealm is what 401 answers name in WWW-Authenticate: Basic, so helm (ORAS) and curl
// retry with the credentials they were given.
const authRealm = "clusterkit-testenv"

// ociHandler is an in-memory OCI registry. Reading charts/... needs credentials, as does
// every write and the /v2/ ping (so `helm registry login` really checks them); public/...,
// mirror/... and signed/... can be pulled anonymously.
func ociHandler(user, password string) http.Handler {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ociNeedsAuth(r.Method, r.URL.Path) && !authorized(r, user, password) {
			unauthorized(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, "application/json")
			return
		}
		reg.ServeHTTP(w, r)
	})
}

// ociNeedsAuth: anything but a read of a public/ or mirror/ repository.
func ociNeedsAuth(method, path string) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return true
	}
	name, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return true
	}
	for _, sep := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		if i := strings.Index(name, sep); i > 0 {
			repo := name[:i]
			return !strings.HasPrefix(repo, publicRepo+"/") && !strings.HasPrefix(repo, mirrorRepo+"/") && !strings.HasPrefix(repo, signedRepo+"/")
		}
	}
	return true // the ping, _catalog, unknown paths
}

func authorized(r *http.Request, user, password string) bool {
	u, p, ok := r.BasicAuth()
	// Both compared in full, so a wrong user name takes as long as a wrong password.
	userOK := subtle.ConstantTimeCompare([]byte(u), []byte(user))
	passOK := subtle.ConstantTimeCompare([]byte(p), []byte(password))
	return ok && userOK&passOK == 1
}

func unauthorized(w http.ResponseWriter, body, contentType string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="`+authRealm+`"`)
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, body)
}
