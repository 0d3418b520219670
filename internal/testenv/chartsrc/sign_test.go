package chartsrc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"sigs.k8s.io/yaml"
)

// The signed repository's provenance files, checked as helm's pkg/provenance does: a
// clear-signed block whose signature the armored key verifies, the chart's metadata, "...",
// and the archive's sha256. DemoVersion's matches its archive, DemoUpgradeVersion's does not.
func TestSignedDemoRepo(t *testing.T) {
	work := t.TempDir()
	public := filepath.Join(work, "http", publicRepo)
	if err := os.MkdirAll(public, 0o755); err != nil {
		t.Fatal(err)
	}
	index := "apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    version: 0.1.0\n    apiVersion: v2\n    urls: [demo-0.1.0.tgz]\n  other:\n  - name: other\n    version: 1.0.0\n"
	if err := os.WriteFile(filepath.Join(public, "index.yaml"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &chartPlan{}
	for _, v := range []string{DemoVersion, DemoUpgradeVersion} {
		tgz := filepath.Join(work, "pkg", v, "demo-"+v+".tgz")
		if err := os.MkdirAll(filepath.Dir(tgz), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tgz, []byte("archive "+v), 0o644); err != nil {
			t.Fatal(err)
		}
		p.jobs = append(p.jobs, &packJob{name: "demo", version: v, tgz: tgz})
	}
	repo, keyFile, err := signedDemoRepo(p, work)
	if err != nil {
		t.Fatal(err)
	}
	armored, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil || len(ring) != 1 || ring[0].PrivateKey != nil {
		t.Fatalf("keyring: %d entities, %v", len(ring), err)
	}
	var idx struct {
		Entries map[string]any `json:"entries"`
	}
	b, _ := os.ReadFile(filepath.Join(repo.dir, "index.yaml"))
	if err := yaml.Unmarshal(b, &idx); err != nil || len(idx.Entries) != 1 || idx.Entries["demo"] == nil {
		t.Errorf("index: %v %v", idx.Entries, err)
	}
	for v, wantMatch := range map[string]bool{DemoVersion: true, DemoUpgradeVersion: false} {
		base := "demo-" + v + ".tgz"
		archive, err := os.ReadFile(filepath.Join(repo.dir, base))
		if err != nil || string(archive) != "archive "+v {
			t.Fatalf("%s: %q %v", base, archive, err)
		}
		prov, err := os.ReadFile(filepath.Join(repo.dir, base+".prov"))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := clearsign.Decode(prov)
		if block == nil {
			t.Fatalf("%s.prov: no clear-signed block", base)
		}
		if _, err := openpgp.CheckDetachedSignature(ring, bytes.NewReader(block.Bytes), block.ArmoredSignature.Body, nil); err != nil {
			t.Errorf("%s.prov: signature: %v", base, err)
		}
		parts := bytes.Split(block.Plaintext, []byte("\n...\n"))
		var meta struct{ Name, Version string }
		var sums struct {
			Files map[string]string `json:"files"`
		}
		if len(parts) != 2 || yaml.Unmarshal(parts[0], &meta) != nil || yaml.Unmarshal(parts[1], &sums) != nil || meta.Name != "demo" || meta.Version != v {
			t.Fatalf("%s.prov: message %q", base, block.Plaintext)
		}
		sum := sha256.Sum256(archive)
		if got := sums.Files[base] == "sha256:"+hex.EncodeToString(sum[:]); got != wantMatch {
			t.Errorf("%s.prov: checksum matches the archive: %v, want %v", base, got, wantMatch)
		}
	}
}
