package cloud

import (
	"context"
	"encoding/base64"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
}

// FindCluster describes an EKS cluster; *NotFoundError when it does not exist.
func (s *Session) FindCluster(ctx context.Context, name string) (*Cluster, error) {
	out, err := s.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	var nf *ekstypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, &NotFoundError{Kind: "EKS cluster", Name: name}
	}
	if err != nil {
		return nil, Sanitize(err)
	}
	c := out.Cluster
	res := &Cluster{
		Name:     aws.ToString(c.Name),
		ARN:      aws.ToString(c.Arn),
		Endpoint: aws.ToString(c.Endpoint),
		Version:  aws.ToString(c.Version),
		Status:   string(c.Status),
	}
	if c.CertificateAuthority != nil && c.CertificateAuthority.Data != nil {
		ca, err := base64.StdEncoding.DecodeString(aws.ToString(c.CertificateAuthority.Data))
		if err != nil {
			return nil, errors.New("EKS DescribeCluster returned a certificate authority that is not base64")
		}
		res.CAPEM = ca
	}
	return res, nil
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

// EKSToken mints a token for clusterName with the session's (assumed-role) identity.
func (s *Session) EKSToken(ctx context.Context, clusterName string, now time.Time) (EKSToken, error) {
	presign := sts.NewPresignClient(s.STS)
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
	return EKSToken{
		Value:      eksTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(req.URL)),
		Expiration: now.Add(eksTokenLifetime),
	}, nil
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
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := ts.clock.Now()
	if ts.current.Value != "" && now.Before(ts.current.Expiration) {
		return ts.current.Value, nil
	}
	tok, err := ts.session.EKSToken(ctx, ts.cluster, now)
	if err != nil {
		return "", err
	}
	ts.current = tok
	return tok.Value, nil
}
