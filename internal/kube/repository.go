package kube

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// How an install pod reaches a private chart repository: credentials from a Secret the user
// made (mounted by the kubelet, read by nobody else), the repository's CA (helm --ca-file)
// and chart provenance (helm --verify --keyring).

// The keys of a repository credentials Secret: those of a kubernetes.io/basic-auth Secret.
const (
	SecretKeyUsername = "username"
	SecretKeyPassword = "password"
)

// repositoryFiles are the config directory's names for repository access, which extra
// files may not take.
var repositoryFiles = []string{RepositoryPasswordFile, RepositoryUsernameFile, RepositoryCAFile, RepositoryKeyringFile}

// Size bounds of the PEM and keyring inputs (a ConfigMap holds at most 1 MiB in all).
const (
	maxRepositoryCA = 64 << 10
	maxKeyring      = 256 << 10
)

// CheckRepositoryCredentialsSecret checks the name of a repository credentials Secret: a
// Secret name, and none of the values Secrets clusterkit makes for its apps (those hold
// another app's sensitive values).
func CheckRepositoryCredentialsSecret(name string) error {
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("%q is not a Secret name (a DNS-1123 subdomain: lower case letters, digits, '-' and '.')", name)
	}
	if strings.HasPrefix(name, ValuesSecretName("")) {
		return fmt.Errorf("%q is the name of a managed app's values Secret, which clusterkit owns; give a Secret of your own", name)
	}
	return nil
}

// CheckRepositoryCA checks PEM text holds one or more X.509 certificates and nothing else.
func CheckRepositoryCA(s string) error {
	if len(s) > maxRepositoryCA {
		return fmt.Errorf("it is %d bytes long, more than %d", len(s), maxRepositoryCA)
	}
	rest := []byte(s)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("PEM block %d is a %q, not a CERTIFICATE (give the CA's certificate, never a key)", n+1, block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("PEM block %d is not an X.509 certificate", n+1)
		}
		n++
	}
	if n == 0 {
		return errors.New("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return errors.New("it holds text after the last PEM certificate")
	}
	return nil
}

// CheckKeyring checks ASCII-armored OpenPGP public keys (one or more blocks, as
// `gpg --export --armor` writes them, concatenated).
func CheckKeyring(s string) error {
	_, err := keyringPackets(s)
	return err
}

// keyringPackets decodes the armored public keys into the binary keyring helm reads (the
// format of GnuPG's pubring.gpg; Helm 3 reads no other). A private key is refused: it
// would be stored in a ConfigMap and in Terraform's state.
func keyringPackets(s string) ([]byte, error) {
	if len(s) > maxKeyring {
		return nil, fmt.Errorf("it is %d bytes long, more than %d", len(s), maxKeyring)
	}
	var out bytes.Buffer
	// One buffered reader for all blocks: armor.Decode reuses it rather than wrapping it
	// in a buffer of its own, which would swallow the start of the next block.
	r := bufio.NewReader(strings.NewReader(s))
	keys := 0
	for {
		block, err := armor.Decode(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errors.New("it is not ASCII-armored OpenPGP (-----BEGIN PGP PUBLIC KEY BLOCK-----, as gpg --export --armor writes it)")
		}
		if block.Type != openpgp.PublicKeyType {
			return nil, fmt.Errorf("it holds a %q block: give public keys only (gpg --export --armor), never a private key", block.Type)
		}
		raw, err := io.ReadAll(block.Body)
		if err != nil {
			return nil, errors.New("an armored block is corrupt (its checksum or base64 is wrong)")
		}
		ring, err := openpgp.ReadKeyRing(bytes.NewReader(raw))
		if err != nil || len(ring) == 0 {
			return nil, errors.New("an armored block holds no OpenPGP public key")
		}
		for _, e := range ring {
			if e.PrivateKey != nil {
				return nil, errors.New("it holds a private key: give public keys only (gpg --export --armor)")
			}
		}
		keys += len(ring)
		out.Write(raw)
	}
	if keys == 0 {
		return nil, errors.New("it holds no OpenPGP public key (-----BEGIN PGP PUBLIC KEY BLOCK-----)")
	}
	return out.Bytes(), nil
}

// checkRepositoryAccess checks the repository access fields of a spec (Validate).
func (s InstallSpec) checkRepositoryAccess() error {
	var errs []error
	if s.RepositoryCredentialsSecret != "" {
		if s.RepositoryUsername != "" || s.RepositoryPassword != "" {
			errs = append(errs, errors.New("repository credentials come either from a Secret or as a user name and password, not both"))
		}
		if err := CheckRepositoryCredentialsSecret(s.RepositoryCredentialsSecret); err != nil {
			errs = append(errs, fmt.Errorf("repository credentials Secret: %w", err))
		}
	}
	if s.RepositoryCA != "" {
		if err := CheckRepositoryCA(s.RepositoryCA); err != nil {
			errs = append(errs, fmt.Errorf("repository CA: %w", err))
		}
	}
	switch {
	case s.Verify && s.Keyring == "":
		errs = append(errs, errors.New("verifying a chart's provenance needs a keyring of the signers' public keys"))
	case !s.Verify && s.Keyring != "":
		errs = append(errs, errors.New("a keyring is used only to verify a chart's provenance, which is off"))
	case s.Keyring != "":
		if err := CheckKeyring(s.Keyring); err != nil {
			errs = append(errs, fmt.Errorf("keyring: %w", err))
		}
	}
	return errors.Join(errs...)
}

// configBinaryFiles is the binary content of the app's values ConfigMap: the keyring
// (nil when there is none). The spec has been validated.
func configBinaryFiles(spec InstallSpec) map[string][]byte {
	if !spec.Verify || spec.Keyring == "" {
		return nil
	}
	ring, err := keyringPackets(spec.Keyring)
	if err != nil {
		return nil
	}
	return map[string][]byte{RepositoryKeyringFile: ring}
}

// credentialsProjection mounts the two keys of the user's credentials Secret as the
// files the script reads. Optional: a Secret without one of the keys (or deleted since
// the provider checked it) still lets the pod start, and the script then says what is
// missing, instead of the pod waiting for a mount until the operation's timeout.
func credentialsProjection(secret string, mode *int32) corev1.VolumeProjection {
	yes := true
	return corev1.VolumeProjection{Secret: &corev1.SecretProjection{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret},
		Items: []corev1.KeyToPath{
			{Key: SecretKeyUsername, Path: RepositoryUsernameFile, Mode: mode},
			{Key: SecretKeyPassword, Path: RepositoryPasswordFile, Mode: mode},
		},
		Optional: &yes,
	}}
}

// RepositoryCredentialsSecretError: the repository credentials Secret cannot be used.
type RepositoryCredentialsSecretError struct {
	Namespace, Name string
	// Missing: there is no such Secret; otherwise it is one of clusterkit's own.
	Missing bool
}

func (e *RepositoryCredentialsSecretError) Error() string {
	if e.Missing {
		return fmt.Sprintf("repository credentials Secret %s/%s does not exist: create it in the install namespace %s, with the keys %s and %s "+
			"(type kubernetes.io/basic-auth), before the install pod can use it", e.Namespace, e.Name, e.Namespace, SecretKeyUsername, SecretKeyPassword)
	}
	return fmt.Sprintf("repository credentials Secret %s/%s is managed by clusterkit (it holds another app's values or credentials); "+
		"give a Secret of your own", e.Namespace, e.Name)
}

// checkRepositoryCredentialsSecret checks, before the install pod is made, that the
// user's credentials Secret exists and is not clusterkit's own, with a metadata-only
// request: the Secret's data never reaches the provider. Without a metadata client (a
// test's fake clientset) the pod's own check stands alone.
func (c *Client) checkRepositoryCredentialsSecret(ctx context.Context, spec InstallSpec) error {
	if spec.RepositoryCredentialsSecret == "" || c.meta == nil {
		return nil
	}
	name := spec.RepositoryCredentialsSecret
	m, err := c.meta.Resource(corev1.SchemeGroupVersion.WithResource("secrets")).Namespace(spec.Namespace).Get(ctx, name, metav1.GetOptions{})
	if IsNotFound(err) {
		return &RepositoryCredentialsSecretError{Namespace: spec.Namespace, Name: name, Missing: true}
	}
	if err != nil {
		return wrap(fmt.Sprintf("read the metadata of secret %s/%s", spec.Namespace, name), err)
	}
	if m.Labels[LabelManagedBy] == ManagedByValue {
		return &RepositoryCredentialsSecretError{Namespace: spec.Namespace, Name: name}
	}
	return nil
}

// RepositoryFailure is why an install pod could not fetch its chart, as far as helm's
// error line tells: callers turn it into advice of their own (never the server's text).
type RepositoryFailure int

const (
	// RepositoryFailureNone: the failure is not (recognisably) the repository's.
	RepositoryFailureNone RepositoryFailure = iota
	// RepositoryFailureAuth: the repository or registry refused the credentials (401/403).
	RepositoryFailureAuth
	// RepositoryFailureTLS: helm does not trust the repository's certificate.
	RepositoryFailureTLS
	// RepositoryFailureProvenance: helm --verify refused the chart (no provenance file, a
	// checksum that does not match, a signer not in the keyring).
	RepositoryFailureProvenance
)

// repositoryFailures are fragments of helm's (3 and 4) error lines, lower case, by cause.
var repositoryFailures = []struct {
	kind      RepositoryFailure
	fragments []string
}{
	{RepositoryFailureProvenance, []string{"failed to fetch provenance", "sha256 sum does not match", "signature made by unknown entity",
		"provenance does not contain", "signature block not found", "openpgp: invalid signature", "no keys found"}},
	{RepositoryFailureTLS, []string{"x509: certificate signed by unknown authority", "certificate is not trusted", "tls: failed to verify certificate"}},
	{RepositoryFailureAuth, []string{"401 unauthorized", "403 forbidden", "status: 401", "status: 403", "unauthorized: authentication required",
		"basic credential not found", "401 (unauthorized)"}},
}

// RepositoryFailure classifies the failure from helm's error line.
func (e *InstallFailedError) RepositoryFailure() RepositoryFailure {
	line := strings.ToLower(e.HelmError)
	if line == "" {
		return RepositoryFailureNone
	}
	for _, f := range repositoryFailures {
		for _, frag := range f.fragments {
			if strings.Contains(line, frag) {
				return f.kind
			}
		}
	}
	return RepositoryFailureNone
}
