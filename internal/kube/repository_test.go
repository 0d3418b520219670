package kube

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	corev1 "k8s.io/api/core/v1"
)

func repoCAPEM(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "repo-ca"}, NotBefore: time.Now(),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

// testKeyring is an armored public key and the armored private key of the same entity.
func signerKeyring(t *testing.T, name string) (public, private string) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	arm := func(kind string, write func(w interface{ Write([]byte) (int, error) }) error) string {
		var b bytes.Buffer
		w, err := armor.Encode(&b, kind, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := write(w); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return b.String() + "\n"
	}
	public = arm(openpgp.PublicKeyType, func(w interface{ Write([]byte) (int, error) }) error { return e.Serialize(w) })
	private = arm(openpgp.PrivateKeyType, func(w interface{ Write([]byte) (int, error) }) error { return e.SerializePrivate(w, nil) })
	return public, private
}

func TestCheckRepositoryCA(t *testing.T) {
	ca, key := repoCAPEM(t)
	if err := CheckRepositoryCA(ca); err != nil {
		t.Errorf("a CA certificate: %v", err)
	}
	if err := CheckRepositoryCA(ca + ca); err != nil {
		t.Errorf("a bundle of two: %v", err)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "holds no PEM certificate"},
		{"not a certificate", "holds no PEM certificate"},
		{key, `PEM block 1 is a "EC PRIVATE KEY", not a CERTIFICATE`},
		{ca + key, `PEM block 2 is a "EC PRIVATE KEY"`},
		{"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "PEM block 1 is not an X.509 certificate"},
		{ca + "trailing words", "text after the last PEM certificate"},
		{strings.Repeat("x", maxRepositoryCA+1), "more than"},
	} {
		err := CheckRepositoryCA(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckRepositoryCA(%.30q) = %v, want %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "MHcCAQEE") { // never echoes a key
			t.Errorf("the error quotes the input: %v", err)
		}
	}
}

func TestKeyring_ArmoredPublicKeysBecomeABinaryKeyring(t *testing.T) {
	one, private := signerKeyring(t, "signer-one")
	two, _ := signerKeyring(t, "signer-two")
	ring, err := keyringPackets(one + two)
	if err != nil {
		t.Fatal(err)
	}
	// What helm 3 reads (openpgp.ReadKeyRing on the binary file): both keys.
	entities, err := openpgp.ReadKeyRing(bytes.NewReader(ring))
	if err != nil || len(entities) != 2 {
		t.Fatalf("binary keyring: %d entities, %v", len(entities), err)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "holds no OpenPGP public key"},
		{"hello", "holds no OpenPGP public key"},
		{private, "never a private key"},
		{one + private, "never a private key"},
		{"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64!\n-----END PGP PUBLIC KEY BLOCK-----\n", ""},
	} {
		err := CheckKeyring(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckKeyring(%.40q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	spec := testSpec()
	spec.Verify, spec.Keyring = true, one
	if got := configBinaryFiles(spec)[RepositoryKeyringFile]; !bytes.Equal(got, mustPackets(t, one)) {
		t.Errorf("the ConfigMap's keyring is not the binary form of the armored key")
	}
	if _, ok := configFiles(spec)[RepositoryKeyringFile]; ok {
		t.Errorf("the keyring is in the ConfigMap's text data too")
	}
}

func mustPackets(t *testing.T, s string) []byte {
	t.Helper()
	b, err := keyringPackets(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInstallSpec_RepositoryAccessValidation(t *testing.T) {
	ca, _ := repoCAPEM(t)
	pub, _ := signerKeyring(t, "signer")
	ok := testSpec()
	ok.RepositoryCredentialsSecret, ok.RepositoryCA, ok.Verify, ok.Keyring = "chart-robot", ca, true, pub
	if err := ok.WithDefaults().Validate(); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	for _, tc := range []struct {
		edit func(*InstallSpec)
		want string
	}{
		{func(s *InstallSpec) { s.RepositoryUsername = "robot" }, "either from a Secret or as a user name and password"},
		{func(s *InstallSpec) { s.RepositoryCredentialsSecret = ValuesSecretName("other-app") }, "a managed app's values Secret"},
		{func(s *InstallSpec) { s.RepositoryCredentialsSecret = "Chart_Robot" }, "is not a Secret name"},
		{func(s *InstallSpec) {
			s.RepositoryCA = "-----BEGIN RSA PRIVATE KEY-----\nAA==\n-----END RSA PRIVATE KEY-----\n"
		}, "repository CA: PEM block 1"},
		{func(s *InstallSpec) { s.Keyring = "" }, "needs a keyring"},
		{func(s *InstallSpec) { s.Verify = false }, "a keyring is used only to verify"},
		{func(s *InstallSpec) { s.ExtraFiles = map[string]string{RepositoryCAFile: "x"} }, "extra file name"},
		{func(s *InstallSpec) { s.ExtraFiles = map[string]string{RepositoryUsernameFile: "x"} }, "extra file name"},
	} {
		s := ok
		tc.edit(&s)
		if err := s.WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

// The user's Secret reaches the install pod through the kubelet only: its two keys, optional
// (a missing key is the script's to report), on the install pod and not the uninstall pod;
// the pod's environment names the Secret and holds nothing of it.
func TestInstallPod_RepositoryCredentialsSecret(t *testing.T) {
	spec := testSpec()
	spec.RepositoryCredentialsSecret = "chart-robot"
	pod := InstallPod(spec, ActionInstall)
	var got []corev1.SecretProjection
	for _, src := range pod.Spec.Volumes[0].Projected.Sources {
		if src.Secret != nil {
			got = append(got, *src.Secret)
		}
	}
	if len(got) != 1 || got[0].Name != "chart-robot" || got[0].Optional == nil || !*got[0].Optional || len(got[0].Items) != 2 ||
		got[0].Items[0].Key != SecretKeyUsername || got[0].Items[0].Path != RepositoryUsernameFile ||
		got[0].Items[1].Key != SecretKeyPassword || got[0].Items[1].Path != RepositoryPasswordFile || *got[0].Items[1].Mode != 0o440 {
		t.Fatalf("secret projections %+v", got)
	}
	env := map[string]string{}
	for _, e := range pod.Spec.Containers[0].Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil {
			t.Errorf("env %s comes from an object", e.Name)
		}
	}
	if env["REPOSITORY_CREDENTIALS_SECRET"] != "chart-robot" || env["REPOSITORY_USERNAME"] != "" {
		t.Errorf("env %v", env)
	}
	if secretData(spec) != nil {
		t.Errorf("the app's own values Secret would be made: %v", secretData(spec))
	}
	for _, src := range InstallPod(spec, ActionUninstall).Spec.Volumes[0].Projected.Sources {
		if src.Secret != nil {
			t.Errorf("the uninstall pod mounts %s", src.Secret.Name)
		}
	}
}

// The script reads the user name from the mounted key and the password on helm's standard
// input; a missing key stops it before helm runs, with an Error: line naming the key; the
// CA goes to every command that reaches the repository, verify adds --verify --keyring.
func TestInstallScript_RepositoryAccess(t *testing.T) {
	ca, _ := repoCAPEM(t)
	spec := testSpec()
	spec.Repository = "https://charts.example.com/private"
	spec.RepositoryCredentialsSecret = "chart-robot"
	spec.RepositoryCA = ca
	// As the kubelet projects the Secret's keys (the harness writes the config files).
	spec.ExtraFiles = map[string]string{RepositoryUsernameFile: "robot-reader\n", RepositoryPasswordFile: "s3cret-Pw\n", RepositoryKeyringFile: "binary"}
	spec.Verify = true
	for _, helm := range []string{"v4.3.2", "v3.22.0"} {
		r := runInstallScript(t, spec, ActionInstall, helm, "", "", 0)
		if r.code != 0 || len(r.calls) != 2 || r.stdin != "s3cret-Pw\n" {
			t.Fatalf("%s: exit %d, calls %q, stdin %q:\n%s", helm, r.code, r.calls, r.stdin, r.out)
		}
		caFile := r.calls[0][len(r.calls[0])-1]
		if got := strings.Join(r.calls[0], " "); got != "repo add clusterkit https://charts.example.com/private --username robot-reader --password-stdin --ca-file "+caFile ||
			!strings.HasSuffix(caFile, "/"+RepositoryCAFile) {
			t.Errorf("%s: repo add: %s", helm, got)
		}
		up := strings.Join(r.calls[1], " ")
		if !strings.Contains(up, " clusterkit/ingress-nginx --ca-file "+caFile+" --verify --keyring "+strings.TrimSuffix(caFile, RepositoryCAFile)+RepositoryKeyringFile+" --namespace ") {
			t.Errorf("%s: upgrade: %s", helm, up)
		}
		if strings.Contains(r.out, "s3cret") || !strings.Contains(r.out, "with the credentials of Secret chart-robot") {
			t.Errorf("%s: output:\n%s", helm, r.out)
		}
	}
	// OCI: the login and the pull both get the CA.
	spec.Repository = "oci://registry.example.com:5000/charts"
	r := runInstallScript(t, spec, ActionInstall, "v4.3.2", "", "", 0)
	if r.code != 0 || len(r.calls) != 2 || !slices.Contains(r.calls[0], "--ca-file") || !slices.Contains(r.calls[1], "--ca-file") ||
		r.calls[0][0] != "registry" || r.calls[1][3] != "oci://registry.example.com:5000/charts/ingress-nginx" {
		t.Fatalf("oci: exit %d, calls %q:\n%s", r.code, r.calls, r.out)
	}
	// A Secret without its password key: no helm call, the key named.
	delete(spec.ExtraFiles, RepositoryPasswordFile)
	r = runInstallScript(t, spec, ActionInstall, "v4.3.2", "", "", 0)
	if r.code != 2 || len(r.calls) != 0 || !strings.Contains(r.out, `Error: the repository credentials Secret chart-robot has no key "password"`) {
		t.Errorf("missing key: exit %d, calls %q:\n%s", r.code, r.calls, r.out)
	}
	if line := helmErrorLine(r.out); !strings.Contains(line, `has no key "password"`) {
		t.Errorf("the provider's diagnostic would show %q", line)
	}
	// No CA, no verify, public repository: as before (no --ca-file, no --verify).
	plain := testSpec()
	plain.Repository = "https://charts.example.com/public"
	r = runInstallScript(t, plain, ActionInstall, "v4.3.2", "", "", 0)
	if r.code != 0 || len(r.calls) != 1 || slices.Contains(r.calls[0], "--ca-file") || slices.Contains(r.calls[0], "--verify") {
		t.Errorf("plain: calls %q", r.calls)
	}
}

func TestInstallFailedError_RepositoryFailure(t *testing.T) {
	for line, want := range map[string]RepositoryFailure{
		`Error: looks like "https://127.0.0.1:1/private" is not a valid chart repository or cannot be reached: failed to fetch https://127.0.0.1:1/private/index.yaml : 401 Unauthorized`:                                                    RepositoryFailureAuth,
		`Error: login attempt to https://127.0.0.1:2/v2/ failed with status: 401 Unauthorized`:                                                                                                                                               RepositoryFailureAuth,
		`Error: looks like "https://127.0.0.1:3/public" is not a valid chart repository or cannot be reached: Get "https://127.0.0.1:3/public/index.yaml": tls: failed to verify certificate: x509: certificate signed by unknown authority`: RepositoryFailureTLS,
		`Error: failed to fetch provenance "https://127.0.0.1:4/public/demo-0.1.0.tgz.prov"`:                                                                                                                                                 RepositoryFailureProvenance,
		`Error: sha256 sum does not match for demo-0.2.0.tgz: "sha256:aa" != "sha256:bb"`:                                                                                                                                                    RepositoryFailureProvenance,
		`Error: openpgp: signature made by unknown entity`:                                                                                                                                                                                   RepositoryFailureProvenance,
		`Error: UPGRADE FAILED: context deadline exceeded`:                                                                                                                                                                                   RepositoryFailureNone,
		``: RepositoryFailureNone,
	} {
		if got := (&InstallFailedError{HelmError: line}).RepositoryFailure(); got != want {
			t.Errorf("%q: %d, want %d", line, got, want)
		}
	}
}
