package testenv

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/lbcontroller"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/nodeagent"
)

// The helm images the node agent runs (Options.NodeAgent): each maps to a real helm binary
// built by tools/build.sh (helm4, helm3). Any other helm image stays in ErrImagePull.
const (
	Helm4Image = "alpine/helm:4.3.2"
	Helm3Image = "alpine/helm:3.22.0"
)

const (
	// AnnotationNeverReady ("true") keeps a kwok pod Running but never Ready.
	AnnotationNeverReady = "testenv.clusterkit.dev/never-ready"
	// AnnotationNoLoadBalancer ("true") keeps the stack's LoadBalancer controller off a Service.
	AnnotationNoLoadBalancer = lbcontroller.AnnotationSkip
)

// toolsets maps the installer images, short and docker.io forms, to their helm directories.
func toolsets(helm4, helm3 string) map[string]string {
	m := map[string]string{}
	for image, dir := range map[string]string{Helm4Image: helm4, Helm3Image: helm3} {
		m[image] = dir
		m["docker.io/"+image] = dir
	}
	return m
}

// resolveToolsets finds the helm builds: CLUSTERKIT_HELM4_DIR / CLUSTERKIT_HELM3_DIR, else
// tools/build.sh.
func resolveToolsets() (map[string]string, error) {
	h4, h3 := os.Getenv("CLUSTERKIT_HELM4_DIR"), os.Getenv("CLUSTERKIT_HELM3_DIR")
	if h4 == "" || h3 == "" {
		dirs, err := buildTools("helm4", "helm3")
		if err != nil {
			return nil, err
		}
		if len(dirs) != 2 {
			return nil, fmt.Errorf("tools/build.sh helm4 helm3 printed %q", dirs)
		}
		h4, h3 = dirs[0], dirs[1]
	}
	for _, d := range []string{h4, h3} {
		if _, err := findBinary([]string{d}, "helm"); err != nil {
			return nil, err
		}
	}
	return toolsets(h4, h3), nil
}

// renderStages fills stages.yaml: with the agent on, every kwok pod stage excludes the pods
// the agent owns (the same regex, nodeagent.HelmImagePattern, on both sides).
func renderStages(agent bool) (string, error) {
	notOwned := ""
	if agent {
		notOwned = fmt.Sprintf("- key: '%s'\n      operator: 'NotIn'\n      values: ['true']",
			strings.ReplaceAll(nodeagent.KwokNotOwnedKey(), "'", "''"))
	}
	t, err := template.New("stages.yaml").Delims("[[", "]]").Parse(stagesYAML)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = t.Execute(&b, map[string]string{"NotOwned": notOwned, "NeverReady": AnnotationNeverReady})
	return b.String(), err
}

// writeAgentConfig writes the node agent's configuration.
func (s *Stack) writeAgentConfig(p pki, listen, kwokAddr string, tools map[string]string) (string, error) {
	cfg := nodeagent.Config{
		Dir: filepath.Join(s.Dir, "node-agent"), APIHost: s.Host, CAFile: s.CAFile, Token: s.AdminToken,
		NodeName: NodeName, ListenAddr: listen, CertFile: p.path("apiserver.crt"), KeyFile: p.path("apiserver.key"),
		KwokAddr: kwokAddr, Toolsets: tools, LoadBalancers: true,
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(s.Dir, "node-agent.json")
	return path, os.WriteFile(path, b, 0o600)
}

// HelmBinary is the Helm 4 build the node agent runs, for tests that play another helm
// client (a `helm upgrade` from someone's laptop) against the stack.
func HelmBinary() (string, error) {
	sets, err := resolveToolsets()
	if err != nil {
		return "", err
	}
	return findBinary([]string{sets[Helm4Image]}, "helm")
}
