package chartsrc

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The helm-options repository: two archives laid out as helm package does (every file under
// <chart>/), an index listing exactly them with their digests, the umbrella's dependency
// naming the repository it was given and no charts/ directory.
func TestWriteHelmOptionsRepo(t *testing.T) {
	dir := t.TempDir()
	const demoRepo = "https://127.0.0.1:1/public"
	if err := writeHelmOptionsRepo(dir, demoRepo); err != nil {
		t.Fatal(err)
	}
	var idx struct {
		APIVersion string `json:"apiVersion"`
		Entries    map[string][]struct {
			Name, Version, Digest string
			URLs                  []string `json:"urls"`
		} `json:"entries"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	if idx.APIVersion != "v1" || len(idx.Entries) != 2 {
		t.Fatalf("index: %s", b)
	}
	want := map[string][]string{
		JobsChart:     {"jobs/Chart.yaml", "jobs/values.yaml", "jobs/templates/configmap.yaml", "jobs/templates/job.yaml"},
		UmbrellaChart: {"umbrella/Chart.yaml", "umbrella/values.yaml", "umbrella/templates/configmap.yaml"},
	}
	versions := map[string]string{JobsChart: JobsVersion, UmbrellaChart: UmbrellaVersion}
	for name, files := range want {
		e := idx.Entries[name]
		base := name + "-" + versions[name] + ".tgz"
		if len(e) != 1 || e[0].Version != versions[name] || !slices.Equal(e[0].URLs, []string{base}) {
			t.Fatalf("%s: index entry %+v", name, e)
		}
		if digest, err := fileSHA256(filepath.Join(dir, base)); err != nil || digest != e[0].Digest {
			t.Errorf("%s: digest %s (%v), index says %s", name, digest, err, e[0].Digest)
		}
		got, chartYAML := readArchive(t, filepath.Join(dir, base))
		if !slices.Equal(got, files) {
			t.Errorf("%s: files %q, want %q", name, got, files)
		}
		if name == UmbrellaChart && !strings.Contains(chartYAML, "- name: demo\n  version: "+DemoVersion+"\n  repository: "+demoRepo+"\n") {
			t.Errorf("umbrella's Chart.yaml:\n%s", chartYAML)
		}
	}
}

func readArchive(t *testing.T, path string) (names []string, chartYAML string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, chartYAML
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if strings.HasSuffix(h.Name, "/Chart.yaml") {
			b, _ := io.ReadAll(tr)
			chartYAML = string(b)
		}
	}
}
