package chartsrc

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"sigs.k8s.io/yaml"
)

// The signed repository: the demo chart's two versions with provenance files, made in Go
// at every start with a fresh key (helm package --sign needs a GnuPG secret keyring file; the
// format is helm's own, pkg/provenance: the chart's metadata, "...", then the sha256 of each
// file, clear-signed with SHA-512).

// SigningKeyName is the signer's identity in the provenance files.
const SigningKeyName = "clusterkit test chart signer"

// signedDemoRepo lays out workDir/http/signed (the demo charts as packaged, an index of
// them, a provenance file for each) and writes the signer's armored public key; it returns
// the repository and the key's file. DemoVersion's provenance matches its chart;
// DemoUpgradeVersion's is signed for content other than its chart (the chart tampered with
// after it was signed), which helm --verify refuses.
func signedDemoRepo(p *chartPlan, workDir string) (httpRepo, string, error) {
	dir := filepath.Join(workDir, "http", signedRepo)
	if err := os.RemoveAll(dir); err != nil {
		return httpRepo{}, "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return httpRepo{}, "", err
	}
	signer, err := openpgp.NewEntity(SigningKeyName, "", "signer@clusterkit.test", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA512,
	})
	if err != nil {
		return httpRepo{}, "", fmt.Errorf("chartsrc: signing key: %w", err)
	}
	index, err := demoIndex(filepath.Join(workDir, "http", publicRepo, "index.yaml"))
	if err != nil {
		return httpRepo{}, "", err
	}
	for _, j := range p.jobs {
		if j.name != "demo" || j.standIn != "" {
			continue
		}
		base := filepath.Base(j.tgz)
		tgz, err := os.ReadFile(j.tgz)
		if err != nil {
			return httpRepo{}, "", err
		}
		if err := os.WriteFile(filepath.Join(dir, base), tgz, 0o644); err != nil {
			return httpRepo{}, "", err
		}
		signed := tgz
		if j.version == DemoUpgradeVersion {
			signed = append(bytes.Clone(tgz), "tampered"...)
		}
		prov, err := provenance(signer, base, j.name, j.version, signed)
		if err != nil {
			return httpRepo{}, "", err
		}
		if err := os.WriteFile(filepath.Join(dir, base+".prov"), prov, 0o644); err != nil {
			return httpRepo{}, "", err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "index.yaml"), index, 0o644); err != nil {
		return httpRepo{}, "", err
	}
	var key bytes.Buffer
	w, err := armor.Encode(&key, openpgp.PublicKeyType, nil)
	if err != nil {
		return httpRepo{}, "", err
	}
	if err := signer.Serialize(w); err != nil {
		return httpRepo{}, "", err
	}
	if err := w.Close(); err != nil {
		return httpRepo{}, "", err
	}
	key.WriteString("\n")
	keyFile := filepath.Join(workDir, "signing-key.asc")
	if err := os.WriteFile(keyFile, key.Bytes(), 0o644); err != nil {
		return httpRepo{}, "", err
	}
	return httpRepo{dir: dir}, keyFile, nil
}

// demoIndex is the public repository's index with the demo chart's entries only.
func demoIndex(publicIndex string) ([]byte, error) {
	b, err := os.ReadFile(publicIndex)
	if err != nil {
		return nil, fmt.Errorf("chartsrc: %w", err)
	}
	var idx map[string]any
	if err := yaml.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("chartsrc: %s: %w", publicIndex, err)
	}
	entries, _ := idx["entries"].(map[string]any)
	if entries["demo"] == nil {
		return nil, fmt.Errorf("chartsrc: %s lists no demo chart", publicIndex)
	}
	idx["entries"] = map[string]any{"demo": entries["demo"]}
	return yaml.Marshal(idx)
}

// provenance is helm's provenance file for the archive named base whose content is tgz.
func provenance(signer *openpgp.Entity, base, name, version string, tgz []byte) ([]byte, error) {
	sum := sha256.Sum256(tgz)
	meta, err := yaml.Marshal(map[string]string{"apiVersion": "v2", "name": name, "version": version})
	if err != nil {
		return nil, err
	}
	files, err := yaml.Marshal(map[string]map[string]string{"files": {base: "sha256:" + hex.EncodeToString(sum[:])}})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, signer.PrivateKey, &packet.Config{DefaultHash: crypto.SHA512})
	if err != nil {
		return nil, err
	}
	msg := strings.TrimSuffix(string(meta), "\n") + "\n\n...\n" + string(files)
	if _, err := w.Write([]byte(msg)); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
