package testenv

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/nodeagent"
)

// TestRenderStages: with the agent every kwok pod stage leaves helm pods alone, without it
// none does; both render to valid stage documents.
func TestRenderStages(t *testing.T) {
	for _, agent := range []bool{false, true} {
		out, err := renderStages(agent)
		if err != nil {
			t.Fatal(err)
		}
		podStages := 0
		for _, doc := range strings.Split(out, "\n---\n") {
			var st struct {
				Metadata struct{ Name string }
				Spec     struct {
					ResourceRef struct{ Kind string } `json:"resourceRef"`
					Selector    struct {
						MatchExpressions []struct {
							Key, Operator string
							Values        []string
						} `json:"matchExpressions"`
					}
				}
			}
			if err := yaml.Unmarshal([]byte(doc), &st); err != nil {
				t.Fatalf("agent=%v: %v\n%s", agent, err, doc)
			}
			if st.Spec.ResourceRef.Kind != "Pod" {
				continue
			}
			podStages++
			excluded := false
			for _, e := range st.Spec.Selector.MatchExpressions {
				if e.Key == nodeagent.KwokNotOwnedKey() && e.Operator == "NotIn" && len(e.Values) == 1 && e.Values[0] == "true" {
					excluded = true
				}
			}
			if excluded != agent {
				t.Errorf("agent=%v: stage %s excludes helm pods: %v", agent, st.Metadata.Name, excluded)
			}
		}
		if podStages != 5 {
			t.Errorf("agent=%v: %d pod stages, want 5", agent, podStages)
		}
	}
}

func TestToolsets(t *testing.T) {
	m := toolsets("/h4", "/h3")
	for image, dir := range map[string]string{Helm4Image: "/h4", "docker.io/" + Helm4Image: "/h4", Helm3Image: "/h3", "docker.io/" + Helm3Image: "/h3"} {
		if m[image] != dir {
			t.Errorf("%s -> %q, want %q", image, m[image], dir)
		}
		if !nodeagent.IsHelmImage(image) {
			t.Errorf("%s is not a helm image to the agent", image)
		}
	}
	if len(m) != 4 {
		t.Errorf("%d toolset images", len(m))
	}
}
