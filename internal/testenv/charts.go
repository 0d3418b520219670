package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
)

// Chart sources (package chartsrc) run with the node agent: an HTTP chart repository and an
// OCI registry on 127.0.0.1, TLS from the stack's CA (the agent's pods trust it), serving
// the project's test charts and a mirror of every catalog repository. They run as a
// component of their own (this binary re-executed), so a detached stack keeps them.

const chartsStateFile = "chart-sources.json"

// writeChartsConfig writes the chart sources' configuration; helm is the helm 4 binary that
// packages and pushes the charts.
func (s *Stack) writeChartsConfig(p pki, helm string) (string, error) {
	// Found here: the component runs with a bare environment (HOME is the stack's dir).
	charts, err := chartsrc.FindChartsDir()
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	cfg := chartsrc.Config{
		Helm: helm, CertFile: p.path("apiserver.crt"), KeyFile: p.path("apiserver.key"), CAFile: p.path("ca.crt"),
		PrivateCACertFile: p.path("chart-repo.crt"), PrivateCAKeyFile: p.path("chart-repo.key"), PrivateCAFile: p.path("repo-ca.crt"),
		WorkDir: filepath.Join(s.Dir, "chart-sources"), ChartsDir: charts,
		CacheDir: filepath.Join(cache, "clusterkit", "charts"),
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(s.Dir, "chart-sources-config.json")
	return path, os.WriteFile(path, b, 0o600)
}

// waitCharts waits until the chart-sources component has written what it serves.
func (s *Stack) waitCharts(ctx context.Context) error {
	state := filepath.Join(s.Dir, chartsStateFile)
	return s.poll(ctx, "the chart sources", func() (bool, error) {
		src, err := chartsrc.LoadSources(state)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		s.Charts = src
		return true, nil
	})
}
