package chartsrc

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"sigs.k8s.io/yaml"
)

// The helm-options repository (https://127.0.0.1:P/helm-options, no credentials) holds the
// charts of the helm switches' tests, apart from the other repositories so that what those
// list stays as it was. Both are made in Go at every start, after the servers are up:
// UmbrellaChart's Chart.yaml names the public repository's URL (its port is known only
// then), and helm package refuses a chart whose dependencies are missing from charts/.
const (
	helmOptionsRepo = "helm-options"
	// JobsChart (JobsVersion) renders a ConfigMap ("<release>-jobs") and a Job
	// ("<release>-jobs-<revision>": a Job's pod template cannot change, so every revision
	// has a Job of its own) whose one
	// pod the stack's node runs for .Values.runTime (a Go duration, the pod's
	// testenv.clusterkit.dev/run-time annotation) and ends Succeeded.
	JobsChart   = "jobs"
	JobsVersion = "0.1.0"
	// UmbrellaChart (UmbrellaVersion) renders a ConfigMap ("<release>-umbrella") and depends
	// on the public repository's demo chart (DemoVersion), which it is served without: only
	// helm's --dependency-update fetches it.
	UmbrellaChart   = "umbrella"
	UmbrellaVersion = "0.1.0"
)

// chartFile is one file of a chart archive, by its path inside the chart's directory.
type chartFile struct{ name, body string }

func jobsChartFiles() []chartFile {
	return []chartFile{
		{"Chart.yaml", `# clusterkit test chart (chartsrc): a release with a Job; not for real use.
apiVersion: v2
name: jobs
description: clusterkit test chart whose release includes a Job; not for real use.
type: application
version: ` + JobsVersion + "\n"},
		{"values.yaml", "# How long the Job's pod runs on the stack's node (a Go duration).\nrunTime: 5s\nimage: registry.k8s.io/pause:3.10\n"},
		{"templates/configmap.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-jobs
data:
  runTime: {{ .Values.runTime | quote }}
`},
		{"templates/job.yaml", `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-jobs-{{ .Release.Revision }}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations:
        # The stack's node runs the pod this long, then ends it Succeeded.
        testenv.clusterkit.dev/run-time: {{ .Values.runTime | quote }}
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: {{ .Values.image | quote }}
`},
	}
}

func umbrellaChartFiles(demoRepo string) []chartFile {
	return []chartFile{
		{"Chart.yaml", `# clusterkit test chart (chartsrc): served without its dependency; not for real use.
apiVersion: v2
name: umbrella
description: clusterkit test chart depending on the demo chart, served without charts/; not for real use.
type: application
version: ` + UmbrellaVersion + `
dependencies:
- name: demo
  version: ` + DemoVersion + `
  repository: ` + demoRepo + "\n"},
		{"values.yaml", "demo:\n  message: from the umbrella chart\n"},
		{"templates/configmap.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-umbrella
data:
  dependencies: {{ len .Chart.Dependencies | quote }}
`},
	}
}

// writeHelmOptionsRepo writes both charts' archives and the repository's index to dir.
func writeHelmOptionsRepo(dir, demoRepo string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries := map[string][]map[string]any{}
	now := time.Now().UTC().Format(time.RFC3339)
	for _, c := range []struct {
		name, version string
		files         []chartFile
	}{
		{JobsChart, JobsVersion, jobsChartFiles()},
		{UmbrellaChart, UmbrellaVersion, umbrellaChartFiles(demoRepo)},
	} {
		tgz, err := chartArchive(c.name, c.files)
		if err != nil {
			return fmt.Errorf("chartsrc: %s: %w", c.name, err)
		}
		base := c.name + "-" + c.version + ".tgz"
		if err := os.WriteFile(filepath.Join(dir, base), tgz, 0o644); err != nil {
			return err
		}
		digest, err := fileSHA256(filepath.Join(dir, base))
		if err != nil {
			return err
		}
		entries[c.name] = []map[string]any{{
			"apiVersion": "v2", "name": c.name, "version": c.version, "type": "application",
			"digest": digest, "urls": []string{base}, "created": now,
		}}
	}
	index, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "entries": entries, "generated": now})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "index.yaml"), index, 0o644)
}

// chartArchive is a chart's .tgz as helm package lays it out: every file under <name>/.
func chartArchive(name string, files []chartFile) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		hdr := &tar.Header{Name: path.Join(name, f.name), Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
