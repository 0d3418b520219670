package nodeagent

import (
	"time"

	"k8s.io/utils/clock"
)

// Config is what the stack tells the agent (written as JSON next to its other files).
type Config struct {
	// Dir holds the agent's state: one directory per pod (volumes, logs, the root's mount
	// point). Nothing is created or mounted outside it.
	Dir string `json:"dir"`
	// APIHost is the apiserver URL; CAFile its CA (also added to every container's trust
	// store); Token the admin bearer token the agent acts with.
	APIHost string `json:"api_host"`
	CAFile  string `json:"ca_file"`
	Token   string `json:"token"`
	// NodeName is the node whose helm pods the agent runs.
	NodeName string `json:"node_name"`
	// ListenAddr serves the kubelet API (the node's daemon endpoint, TLS with CertFile and
	// KeyFile, client certificates verified against CAFile); every path the agent does not
	// serve itself goes to KwokAddr, kwok's own server.
	ListenAddr string `json:"listen_addr"`
	CertFile   string `json:"cert_file"`
	KeyFile    string `json:"key_file"`
	KwokAddr   string `json:"kwok_addr"`
	// Toolsets maps an image reference to a host directory whose binaries (helm) the
	// container finds in /usr/local/bin. An owned pod with any other image never starts.
	Toolsets map[string]string `json:"toolsets"`
	// LoadBalancers runs the LoadBalancer Service status controller in the agent's process.
	LoadBalancers bool `json:"load_balancers"`
}

// Options are the seams of Run.
type Options struct {
	Clock clock.WithTicker
	Log   func(format string, args ...any)
	// ImagePullBackoff is the first image pull back-off (kubelet: 10s, doubling to 5m).
	ImagePullBackoff time.Duration
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	if o.ImagePullBackoff == 0 {
		o.ImagePullBackoff = 10 * time.Second
	}
}
