package cloud

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Cluster is what DescribeCluster tells the provider.
type Cluster struct {
	Name     string
	ARN      string
	Endpoint string
	CAPEM    []byte
	Version  string
	Status   string

	// The cluster's configuration, as EKS reports it.
	EndpointPublicAccess  bool
	EndpointPrivateAccess bool
	PublicAccessCIDRs     []string
	LogTypes              []string // the enabled control-plane log types
	SecretsKeyARN         string   // "" when secrets are not encrypted with a KMS key
	IPFamily              string
	ServiceCIDR           string // IPv4, or EKS's IPv6 block for an ipv6 cluster
	Tags                  map[string]string
	// AuthenticationMode is AuthModeAPI, AuthModeAPIAndConfigMap or AuthModeConfigMap; ""
	// when EKS reports no access configuration.
	AuthenticationMode string
	OIDCIssuer         string // the cluster's OpenID Connect issuer URL; "" when EKS gives none
}

// Serving reports a cluster whose API server can be reached: it has an endpoint and a CA,
// and EKS is not creating, deleting or failing it.
func (c *Cluster) Serving() bool {
	return c.Endpoint != "" && len(c.CAPEM) > 0 && (c.Status == "ACTIVE" || c.Status == "UPDATING")
}

// KnownCluster is FindCluster through the session's cache: the first serving answer is
// kept for the rest of the run. Anything else is asked again next time.
func (s *Session) KnownCluster(ctx context.Context, name string) (*Cluster, error) {
	s.mu.Lock()
	c, ok := s.clusters[name]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	return s.FindCluster(ctx, name)
}

// FindCluster describes an EKS cluster; *NotFoundError when it does not exist. It always
// asks EKS, and refreshes what KnownCluster returns.
func (s *Session) FindCluster(ctx context.Context, name string) (*Cluster, error) {
	c, _, err := s.findCluster(ctx, name)
	return c, err
}

// findCluster is FindCluster, also returning EKS's answer for readers that want more of it.
func (s *Session) findCluster(ctx context.Context, name string) (*Cluster, *ekstypes.Cluster, error) {
	c, raw, err := s.describeCluster(ctx, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil && c.Serving():
		if s.clusters == nil {
			s.clusters = map[string]*Cluster{}
		}
		s.clusters[name] = c
	case err == nil || IsNotFound(err):
		delete(s.clusters, name)
	}
	return c, raw, err
}

func (s *Session) describeCluster(ctx context.Context, name string) (*Cluster, *ekstypes.Cluster, error) {
	out, err := s.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	var nf *ekstypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, nil, &NotFoundError{Kind: "EKS cluster", Name: name}
	}
	if err != nil {
		return nil, nil, Sanitize(err)
	}
	c := out.Cluster
	res := &Cluster{
		Name:     aws.ToString(c.Name),
		ARN:      aws.ToString(c.Arn),
		Endpoint: aws.ToString(c.Endpoint),
		Version:  aws.ToString(c.Version),
		Status:   string(c.Status),
		Tags:     c.Tags,
	}
	if v := c.ResourcesVpcConfig; v != nil {
		res.EndpointPublicAccess, res.EndpointPrivateAccess, res.PublicAccessCIDRs = v.EndpointPublicAccess, v.EndpointPrivateAccess, v.PublicAccessCidrs
	}
	if c.Logging != nil {
		for _, l := range c.Logging.ClusterLogging {
			if aws.ToBool(l.Enabled) {
				for _, t := range l.Types {
					res.LogTypes = append(res.LogTypes, string(t))
				}
			}
		}
	}
	// One entry at most (EKS's limit); its Resources no longer matter: EKS envelope-encrypts
	// all Kubernetes API data, with this key when one is set.
	for _, e := range c.EncryptionConfig {
		if e.Provider != nil {
			res.SecretsKeyARN = aws.ToString(e.Provider.KeyArn)
		}
	}
	if n := c.KubernetesNetworkConfig; n != nil {
		res.IPFamily, res.ServiceCIDR = string(n.IpFamily), aws.ToString(n.ServiceIpv4Cidr)
		if n.IpFamily == ekstypes.IpFamilyIpv6 {
			res.ServiceCIDR = aws.ToString(n.ServiceIpv6Cidr)
		}
	}
	if c.AccessConfig != nil {
		res.AuthenticationMode = string(c.AccessConfig.AuthenticationMode)
	}
	if c.Identity != nil && c.Identity.Oidc != nil {
		res.OIDCIssuer = aws.ToString(c.Identity.Oidc.Issuer)
	}
	if c.CertificateAuthority != nil && c.CertificateAuthority.Data != nil {
		ca, err := base64.StdEncoding.DecodeString(aws.ToString(c.CertificateAuthority.Data))
		if err != nil {
			return nil, nil, errors.New("EKS DescribeCluster returned a certificate authority that is not base64")
		}
		res.CAPEM = ca
	}
	return res, c, nil
}

// EKSToken is a bearer token for an EKS API server. It is a presigned STS
// GetCallerIdentity URL: the server learns who we are without any secret crossing over.
type EKSToken struct {
	Value      string
	Expiration time.Time
}

const (
	eksTokenPrefix = "k8s-aws-v1."
	// The presigned URL is valid for 60s; EKS accepts it for 15 minutes from signing. We
	// treat it as valid for 14, so a token is never used at its edge.
	eksTokenLifetime = 14 * time.Minute
	clusterIDHeader  = "x-k8s-aws-id"
)

// EKSToken mints a token for clusterName with the session's (assumed-role) identity. It
// expires at the earlier of its own lifetime and the moment the credential cache retires
// the credentials that signed it (credentialsRefreshWindow before STS's expiry): a
// presigned call is worth nothing once its credentials have expired.
func (s *Session) EKSToken(ctx context.Context, clusterName string, now time.Time) (EKSToken, error) {
	signer := &recordingPresigner{signer: v4.NewSigner()}
	presign := sts.NewPresignClient(s.STS, func(o *sts.PresignOptions) { o.Presigner = signer })
	req, err := presign.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, func(so *sts.Options) {
			so.APIOptions = append(so.APIOptions,
				smithyhttp.AddHeaderValue(clusterIDHeader, clusterName),
				// X-Amz-* headers are hoisted into the presigned query string.
				smithyhttp.AddHeaderValue("X-Amz-Expires", "60"),
			)
		})
	})
	if err != nil {
		return EKSToken{}, Sanitize(err)
	}
	expires := now.Add(eksTokenLifetime)
	// The cache hands credentials out with Expires already moved credentialsRefreshWindow
	// before STS's expiry; that window is the margin.
	if c := signer.signedWith; c.CanExpire && c.Expires.Before(expires) {
		expires = c.Expires
	}
	return EKSToken{
		Value:      eksTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(req.URL)),
		Expiration: expires,
	}, nil
}

// recordingPresigner is the SDK's SigV4 presigner that also remembers which credentials
// it signed with: exactly those bound the token's life. One per token.
type recordingPresigner struct {
	signer     *v4.Signer
	signedWith aws.Credentials
}

func (p *recordingPresigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string,
	signingTime time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	p.signedWith = creds
	return p.signer.PresignHTTP(ctx, creds, r, payloadHash, service, region, signingTime, optFns...)
}

// EKSTokenSource caches one token and mints a new one shortly before it expires.
type EKSTokenSource struct {
	session *Session
	cluster string
	clock   Clock
	mu      sync.Mutex
	current EKSToken
}

// TokenSource returns a source of tokens for clusterName.
func (s *Session) TokenSource(clusterName string, clock Clock) *EKSTokenSource {
	if clock == nil {
		clock = RealClock
	}
	return &EKSTokenSource{session: s, cluster: clusterName, clock: clock}
}

// Token returns a valid token.
func (ts *EKSTokenSource) Token(ctx context.Context) (string, error) {
	tok, err := ts.Current(ctx)
	return tok.Value, err
}

// Current returns the cached token, or a new one when it has expired.
func (ts *EKSTokenSource) Current(ctx context.Context) (EKSToken, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := ts.clock.Now()
	if ts.current.Value != "" && now.Before(ts.current.Expiration) {
		return ts.current, nil
	}
	tok, err := ts.session.EKSToken(ctx, ts.cluster, now)
	if err != nil {
		return EKSToken{}, err
	}
	ts.current = tok
	return tok, nil
}
