package testenv

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// A stack with no managed node group lists nodes once, then only every resyncInterval: not
// five times a second for the life of every test binary.
func TestNodeJoiner_ListsOnlyWhenThereIsSomethingToDo(t *testing.T) {
	var lists atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/nodes" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			http.Error(w, "no", http.StatusBadRequest)
			return
		}
		lists.Add(1)
		_, _ = w.Write([]byte(`{"items":[{"metadata":{"name":"kwok-node-0"}}]}`))
	}))
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	emu, err := awsemu.Start(awsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	clk := testingclock.NewFakePassiveClock(time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC))
	j := &nodeJoiner{emu: emu, api: newAPIClient(srv.URL, caPEM, "token"), logf: t.Logf, clock: clk}

	ctx := context.Background()
	for range 25 { // 25 ticks, each half a join interval apart
		j.sync(ctx)
		clk.SetTime(clk.Now().Add(joinInterval / 2))
	}
	if got := lists.Load(); got != 1 {
		t.Fatalf("nodes listed %d times in %s with no node wanted, want 1", got, 25*joinInterval/2)
	}
	clk.SetTime(clk.Now().Add(resyncInterval))
	j.sync(ctx)
	j.sync(ctx)
	if got := lists.Load(); got != 2 {
		t.Fatalf("nodes listed %d times after %s more, want 2 (one resync)", got, resyncInterval)
	}
}

func TestSameNodes(t *testing.T) {
	web := awsemu.Node{Name: "ip-10-0-1-5", Labels: map[string]string{"team": "web"}}
	have := map[string]string{web.Name: nodeSpecHash(web)}
	if !sameNodes(map[string]awsemu.Node{web.Name: web}, have) {
		t.Error("the same node with the same labels is not the same")
	}
	relabelled := web
	relabelled.Labels = map[string]string{"team": "api"}
	if sameNodes(map[string]awsemu.Node{web.Name: relabelled}, have) {
		t.Error("a node whose labels changed counts as the same")
	}
	if sameNodes(map[string]awsemu.Node{}, have) || sameNodes(map[string]awsemu.Node{web.Name: web}, map[string]string{}) {
		t.Error("a node gone or missing counts as the same")
	}
}

func TestPortTaken(t *testing.T) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = (&net.ListenConfig{}).Listen(context.Background(), "tcp", l.Addr().String())
	if err == nil {
		t.Fatal("listening twice on one port worked")
	}
	if !portTaken(fmt.Errorf("awsemu: issuer listen: %w", err)) {
		t.Errorf("portTaken(%v) = false", err)
	}
	etcd := fmt.Errorf("etcd exited while waiting for kube-apiserver /readyz:\n%s", `{"level":"fatal","msg":"listen tcp 127.0.0.1:2379: bind: address already in use"}`)
	if !portTaken(etcd) {
		t.Errorf("portTaken(%v) = false", etcd)
	}
	if portTaken(errors.New("waiting for kube-apiserver /readyz: context deadline exceeded")) {
		t.Error("a time-out counts as a taken port")
	}
}
