package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"k8s.io/utils/clock"
	"sigs.k8s.io/yaml"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// AWSConfig is the emulated AWS world of a stack: the platform's IAM user, one customer
// account with a provisioning role that trusts the platform and requires an external ID,
// and an EKS token webhook the kube-apiserver authenticates `k8s-aws-v1.` tokens with.
type AWSConfig struct {
	Addr            string `json:"addr"`
	WebhookAddr     string `json:"webhook_addr"`
	Region          string `json:"region"`
	PlatformAccount string `json:"platform_account"`
	CustomerAccount string `json:"customer_account"`
	AccessKeyID     string `json:"access_key_id"`
	SecretKey       string `json:"secret_key"`
	RoleARN         string `json:"role_arn"`
	ExternalID      string `json:"external_id"`
	APIHost         string `json:"api_host"`
	CAFile          string `json:"ca_file"`
	AdminToken      string `json:"admin_token"`
	// The OIDC issuer the stack serves (a Terraform Cloud workload identity issuer in
	// miniature): its address and key, and the platform role its tokens may assume.
	OIDCAddr           string `json:"oidc_addr"`
	OIDCKeyPEM         string `json:"oidc_key_pem"`
	OIDCAudience       string `json:"oidc_audience"`
	WebIdentityRoleARN string `json:"web_identity_role_arn"`
	// WebIdentitySubjects are the subjects (StringLike) the web identity role trusts.
	WebIdentitySubjects []string `json:"web_identity_subjects"`
}

// Fixed identities of the emulated accounts.
const (
	PlatformAccount = "111111111111"
	CustomerAccount = "222222222222"
	ProvisionerRole = "clusterkit-provisioner"
	// WebIdentityRole is the platform role that web identity tokens of the stack's
	// issuer assume (Terraform Cloud dynamic credentials: the workspace's run role).
	WebIdentityRole = "clusterkit-tfc-run"
	// TFCOrganization is the organization whose workspaces the web identity role trusts.
	TFCOrganization = "clusterkit-acc"
	// TFCAudience is Terraform Cloud's default audience for AWS.
	TFCAudience = "aws.workload.identity"
)

func newAWSConfig(addr, webhookAddr, oidcAddr, apiHost, caFile, adminToken string) (AWSConfig, error) {
	key, err := awsemu.GenerateIssuerKey()
	if err != nil {
		return AWSConfig{}, err
	}
	return AWSConfig{
		OIDCAddr:            oidcAddr,
		OIDCKeyPEM:          string(key),
		OIDCAudience:        TFCAudience,
		WebIdentityRoleARN:  "arn:aws:iam::" + PlatformAccount + ":role/" + WebIdentityRole,
		WebIdentitySubjects: []string{"organization:" + TFCOrganization + ":project:*:workspace:*:run_phase:*"},
		Addr:                addr,
		WebhookAddr:         webhookAddr,
		Region:              "us-east-1",
		PlatformAccount:     PlatformAccount,
		CustomerAccount:     CustomerAccount,
		AccessKeyID:         "AKIA" + strings.ToUpper(randomToken()[:16]),
		SecretKey:           randomToken(),
		RoleARN:             "arn:aws:iam::" + CustomerAccount + ":role/" + ProvisionerRole,
		ExternalID:          "ext-" + randomToken()[:20],
		APIHost:             apiHost,
		CAFile:              caFile,
		AdminToken:          adminToken,
	}, nil
}

// awsRuntime is a running emulator and webhook.
type awsRuntime struct {
	emu       *awsemu.Emulator
	webhook   *http.Server
	issuer    *awsemu.Issuer
	stopNodes context.CancelFunc // the node joiner
}

func startAWS(cfg AWSConfig, logf func(string, ...any)) (*awsRuntime, error) {
	ca, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	emu, err := awsemu.Start(awsemu.Options{Region: cfg.Region, Addr: cfg.Addr, Log: logf})
	if err != nil {
		return nil, err
	}
	emu.AddUserKey(cfg.PlatformAccount, "platform", cfg.AccessKeyID, cfg.SecretKey)
	emu.AddRole(awsemu.Role{ARN: cfg.RoleARN, TrustedAccounts: []string{cfg.PlatformAccount}, ExternalID: cfg.ExternalID})
	// Every EKS cluster the emulator creates is this stack's kube-apiserver.
	emu.SetDefaultCluster(cfg.APIHost, ca)
	var issuer *awsemu.Issuer
	if cfg.OIDCAddr != "" {
		if issuer, err = awsemu.StartIssuer(cfg.OIDCAddr, []byte(cfg.OIDCKeyPEM)); err != nil {
			emu.Close()
			return nil, err
		}
		emu.AddOIDCProvider(issuer.URL(), cfg.OIDCAudience)
		emu.AddRole(awsemu.Role{ARN: cfg.WebIdentityRoleARN, WebIdentity: &awsemu.WebIdentityTrust{
			Issuer: issuer.URL(), Audience: cfg.OIDCAudience, Subjects: cfg.WebIdentitySubjects}})
	}

	ln, err := net.Listen("tcp", cfg.WebhookAddr)
	if err != nil {
		emu.Close()
		if issuer != nil {
			_ = issuer.Close()
		}
		return nil, err
	}
	mapper := &awsAuthMapper{cfg: cfg, api: newAPIClient(cfg.APIHost, ca, cfg.AdminToken)}
	mux := http.NewServeMux()
	mux.Handle("/authenticate", emu.TokenReviewHandler(mapper.identity))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	nctx, stopNodes := context.WithCancel(context.Background())
	go (&nodeJoiner{emu: emu, api: mapper.api, mapper: mapper.identity, logf: logf, clock: clock.RealClock{}}).run(nctx)
	return &awsRuntime{emu: emu, webhook: srv, issuer: issuer, stopNodes: stopNodes}, nil
}

func (r *awsRuntime) close() {
	if r == nil {
		return
	}
	if r.stopNodes != nil {
		r.stopNodes()
	}
	if r.issuer != nil {
		_ = r.issuer.Close()
	}
	_ = r.webhook.Close()
	_ = r.emu.Close()
}

// awsAuthMapper is the kube-system/aws-auth part of EKS's authenticator: the emulator maps
// by access entries (and the cluster creator's implicit admin) first, and asks it for
// clusters whose authentication mode has a config map.
type awsAuthMapper struct {
	cfg AWSConfig
	api *apiClient
}

func (m *awsAuthMapper) identity(arn string) (string, []string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, body, err := m.api.do(ctx, http.MethodGet, "/api/v1/namespaces/kube-system/configmaps/aws-auth", "")
	if err != nil || code != http.StatusOK {
		return "", nil, false
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if json.Unmarshal(body, &cm) != nil {
		return "", nil, false
	}
	var roles []struct {
		RoleARN  string   `json:"rolearn"`
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	}
	if yaml.Unmarshal([]byte(cm.Data["mapRoles"]), &roles) != nil {
		return "", nil, false
	}
	for _, r := range roles {
		if r.RoleARN == arn {
			return strings.ReplaceAll(r.Username, "{{EC2PrivateDNSName}}", "ip-10-0-0-1.ec2.internal"), r.Groups, true
		}
	}
	return "", nil, false
}

// webhookKubeconfig points the kube-apiserver's token webhook at the emulator.
func webhookKubeconfig(addr string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: eks-token-webhook
  cluster: {server: "http://%s/authenticate"}
users:
- name: kube-apiserver
contexts:
- name: webhook
  context: {cluster: eks-token-webhook, user: kube-apiserver}
current-context: webhook
`, addr)
}

// RunAWS serves a stack's emulator from a separate process (a detached `make up` stack),
// until ctx ends.
func RunAWS(ctx context.Context, configFile string) error {
	b, err := os.ReadFile(configFile)
	if err != nil {
		return err
	}
	var cfg AWSConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return err
	}
	rt, err := startAWS(cfg, func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
	if err != nil {
		return err
	}
	<-ctx.Done()
	rt.close()
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}
