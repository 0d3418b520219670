package kube

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
)

// serverBody is what a proxy or impostor in front of the cluster answers; none of it may
// reach an error, a diagnostic or the debug log.
const serverBody = "<html>upstream says: SERVER-CHOSEN-TEXT token=hunter2</html>"

func TestAPIError_NeverCarriesTheBodyOfANonStatusAnswer(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(serverBody))
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	var logged []string
	log := func(_ context.Context, msg string, fields map[string]any) {
		logged = append(logged, msg)
		for _, v := range fields {
			if s, ok := v.(string); ok {
				logged = append(logged, s)
			}
		}
	}
	c, err := NewFactory(FactoryOptions{Policy: netguard.Policy{AllowLocal: true}, Log: log}).
		Client(Connection{Host: srv.URL, CAPEM: ca, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FindNamespace(context.Background(), "team-a")
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got %v, want an API error", err)
	}
	// client-go keeps the body in its own error text: that is what must not travel on.
	if !strings.Contains(apiErr.Cause.Error(), "SERVER-CHOSEN-TEXT") {
		t.Fatalf("client-go's error no longer holds the body (%q): this test would prove nothing", apiErr.Cause.Error())
	}
	if got, want := err.Error(), "read namespace team-a: the API server answered HTTP 502 (the API server failed or is unavailable)"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	if got, want := apiErr.DebugCause(), "HTTP 502, reason InternalError"; got != want {
		t.Errorf("debug cause %q, want %q", got, want)
	}
	for _, l := range logged {
		if strings.Contains(l, "SERVER-CHOSEN-TEXT") || strings.Contains(l, "hunter2") {
			t.Errorf("log line carries the server's body: %q", l)
		}
	}
}

func TestDescribeCause_TransportFailuresInOurWords(t *testing.T) {
	c, err := NewFactory(FactoryOptions{Policy: netguard.Policy{AllowLocal: true}}).
		Client(Connection{Host: "https://127.0.0.1:1", CAPEM: testCAPEM(t), Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FindNamespace(context.Background(), "team-a")
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got %v", err)
	}
	if got, want := apiErr.DebugCause(), "dial: connection refused"; got != want {
		t.Errorf("debug cause %q, want %q", got, want)
	}
}
