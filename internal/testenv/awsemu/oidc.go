package awsemu

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"
)

// Issuer is an OIDC identity provider like Terraform Cloud's workload identity issuer or
// a Kubernetes service-account issuer: it serves its discovery document and JWKS over
// HTTP on 127.0.0.1 and mints RS256 tokens with its key. The emulator fetches its keys
// the way STS does for AssumeRoleWithWebIdentity.
type Issuer struct {
	url string
	key *rsa.PrivateKey
	kid string
	srv *http.Server
}

// GenerateIssuerKey returns a new RSA key in PKCS#1 PEM, for StartIssuer.
func GenerateIssuerKey() ([]byte, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
}

// StartIssuer serves an issuer at http://<addr>/oidc with the RSA key keyPEM (PKCS#1),
// so a stack started in another process keeps the same issuer and key.
func StartIssuer(addr string, keyPEM []byte) (*Issuer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("awsemu: issuer key is not PEM")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("awsemu: issuer key: %w", err)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("awsemu: issuer listen: %w", err)
	}
	sum := sha256.Sum256(x509.MarshalPKCS1PublicKey(&key.PublicKey))
	i := &Issuer{url: "http://" + ln.Addr().String() + "/oidc", key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:8])}
	mux := http.NewServeMux()
	mux.HandleFunc("/oidc/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		serveJSON(w, map[string]any{
			"issuer": i.url, "jwks_uri": i.url + "/.well-known/jwks",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"}, "claims_supported": []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf"},
		})
	})
	mux.HandleFunc("/oidc/.well-known/jwks", func(w http.ResponseWriter, _ *http.Request) {
		pub := key.PublicKey
		serveJSON(w, map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "alg": "RS256", "use": "sig", "kid": i.kid,
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	})
	i.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = i.srv.Serve(ln) }()
	return i, nil
}

func serveJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// URL is the issuer URL, the tokens' iss.
func (i *Issuer) URL() string { return i.url }

// Close stops serving.
func (i *Issuer) Close() error { return i.srv.Close() }

// Token is what Mint puts in a token; iss is the issuer's own.
type Token struct {
	Subject   string
	Audience  string
	IssuedAt  time.Time
	ExpiresAt time.Time
	Extra     map[string]any // more claims (Terraform Cloud's terraform_* claims, say)
}

// Mint signs a token with the issuer's key.
func (i *Issuer) Mint(t Token) string { return signJWT(i.key, i.kid, i.url, t) }

// MintWithKey signs a token for this issuer with another key (a forged token).
func (i *Issuer) MintWithKey(key *rsa.PrivateKey, t Token) string {
	return signJWT(key, i.kid, i.url, t)
}

func signJWT(key *rsa.PrivateKey, kid, iss string, t Token) string {
	claims := map[string]any{}
	for k, v := range t.Extra {
		claims[k] = v
	}
	claims["iss"], claims["sub"], claims["aud"] = iss, t.Subject, t.Audience
	claims["iat"], claims["nbf"], claims["exp"] = t.IssuedAt.Unix(), t.IssuedAt.Unix(), t.ExpiresAt.Unix()
	claims["jti"] = randString(16, alnum)
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	p, _ := json.Marshal(claims)
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sum := sha256.Sum256([]byte(signing))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// jwks fetches an issuer's keys through its discovery document, as STS does.
func fetchJWKS(issuer string) (map[string]*rsa.PublicKey, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(client, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &disc); err != nil {
		return nil, err
	}
	if disc.Issuer != issuer || disc.JWKSURI == "" {
		return nil, errors.New("discovery document does not name this issuer or its jwks_uri")
	}
	var set struct {
		Keys []struct {
			Kty, Kid, N, E, Alg string
		} `json:"keys"`
	}
	if err := getJSON(client, disc.JWKSURI, &set); err != nil {
		return nil, err
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) > 4 {
			continue
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys, nil
}

func getJSON(client *http.Client, url string, v any) error {
	resp, err := client.Get(url) //nolint:noctx // bounded by the client's timeout
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
