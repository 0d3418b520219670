package kube

import (
	"net/http"
	"time"
)

// loggingTransport logs verb, path, status and duration of every call; never headers,
// bodies or error text from the other end, so neither a credential nor server text
// reaches the log.
type loggingTransport struct {
	next http.RoundTripper
	log  LogFunc
}

func (t *loggingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	fields := map[string]any{
		"verb":        req.Method,
		"path":        req.URL.Path,
		"duration_ms": time.Since(start).Milliseconds(),
	}
	if q := req.URL.Query().Get("watch"); q == "true" {
		fields["watch"] = true
	}
	if err != nil {
		fields["error"] = describeCause(err)
		t.log(req.Context(), "Kubernetes API call failed: "+req.Method+" "+req.URL.Path, fields)
		return nil, err
	}
	fields["status"] = resp.StatusCode
	t.log(req.Context(), "Kubernetes API call: "+req.Method+" "+req.URL.Path, fields)
	return resp, nil
}

// WrappedRoundTripper lets client-go's transport cache and debugging see through us.
func (t *loggingTransport) WrappedRoundTripper() http.RoundTripper { return t.next }

// tokenTransport puts a freshly minted bearer token on every request.
type tokenTransport struct {
	next   http.RoundTripper
	tokens TokenSource
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.tokens.Token(req.Context())
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+tok)
	return t.next.RoundTrip(req)
}

func (t *tokenTransport) WrappedRoundTripper() http.RoundTripper { return t.next }
