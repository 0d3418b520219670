package cloud

// The moto server the wire check runs against, and raw helpers for what the SDK clients in
// go.mod do not cover (EC2, SSM, Auto Scaling): hand-signed Query calls.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"go.yaml.in/yaml/v3"
)

// ---- moto server ----

type motoServer struct {
	URL string
}

var motoVenv struct {
	once sync.Once
	dir  string
	err  error
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// pytoolsVenv builds (once per process; the script caches across runs) the Python venv.
func pytoolsVenv(t *testing.T) string {
	t.Helper()
	motoVenv.once.Do(func() {
		root := repoRoot(t)
		cmd := exec.Command("bash", filepath.Join(root, "tools", "pytools", "venv.sh"))
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			motoVenv.err = fmt.Errorf("tools/pytools/venv.sh: %w\n%s", err, stderr.String())
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		motoVenv.dir = lines[len(lines)-1]
	})
	if motoVenv.err != nil {
		t.Fatal(motoVenv.err)
	}
	return motoVenv.dir
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects the server's output for failure reports.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startMoto starts moto_server on a free loopback port and waits until it answers.
// It is stopped (by its process group, which only it is in) when the test ends.
func startMoto(t *testing.T) *motoServer {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("needs the moto server from tools/pytools (a Python venv): set TF_ACC=1, as make test and CI do")
	}
	venv := pytoolsVenv(t)
	port := freePort(t)
	cmd := exec.Command(filepath.Join(venv, "bin", "moto_server"), "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case err := <-exited:
			t.Logf("moto_server stopped: %v", err)
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Logf("moto_server killed: %v", <-exited)
		}
		if t.Failed() {
			t.Logf("moto_server output:\n%s", logs.String())
		}
	})

	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Post(u+"/moto-api/reset", "application/json", nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &motoServer{URL: u}
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("moto_server exited: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on %s within 60s\n%s", u, logs.String())
		}
	}
}

// awsConfig is a hermetic SDK configuration for moto: no environment, shared files or IMDS.
func (m *motoServer) awsConfig(creds aws.CredentialsProvider) aws.Config {
	return aws.Config{
		Region:           motoRegion,
		Credentials:      creds,
		BaseEndpoint:     aws.String(m.URL),
		RetryMaxAttempts: 2,
		HTTPClient:       WholeRequestBodies(awshttp.NewBuildableClient()),
	}
}

// rawCall sends a SigV4-signed request to one of moto's services that the project has no
// SDK client for (EC2, SSM, Auto Scaling). moto picks the service from the signature's
// credential scope and the account from the access key.
func (m *motoServer) rawCall(t *testing.T, ctx context.Context, cfg aws.Config, service string, header map[string]string, body string) []byte {
	t.Helper()
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, motoRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", service, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d: %s", service, body, resp.StatusCode, out)
	}
	return out
}

// query calls a Query-protocol API (EC2, Auto Scaling) and decodes the XML answer into out.
func (m *motoServer) query(t *testing.T, ctx context.Context, cfg aws.Config, service, version, action string, params url.Values, out any) {
	t.Helper()
	v := url.Values{"Action": {action}, "Version": {version}}
	for k, vs := range params {
		v[k] = vs
	}
	body := m.rawCall(t, ctx, cfg, service, map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, v.Encode())
	if err := xml.Unmarshal(body, out); err != nil {
		t.Fatalf("%s %s: decode: %v\n%s", service, action, err, body)
	}
}

// ---- the template as moto can run it ----

// motoRewrite says what motoTemplate changes in a copy of the template (see the file
// comment); nothing else is touched.
type motoRewrite struct {
	// NodeImageDefault replaces Parameters.NodeImageId.Default ("" keeps it).
	NodeImageDefault string
	// ClusterAttrs replaces each {"Fn::GetAtt": ["EKSCluster", X]} node by ClusterAttrs[X]
	// (nil keeps them); with OutputsOnly, only those under Outputs.
	ClusterAttrs map[string]string
	OutputsOnly  bool
}

// motoTemplate returns the template as JSON with rw applied and how many Fn::GetAtt
// nodes it replaced; it fails on a cluster attribute it has no value for.
func motoTemplate(tpl string, rw motoRewrite) (string, int, error) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(tpl), &doc); err != nil {
		return "", 0, err
	}
	if rw.NodeImageDefault != "" {
		p, ok := doc["Parameters"].(map[string]any)["NodeImageId"].(map[string]any)
		if !ok {
			return "", 0, errors.New("no NodeImageId parameter")
		}
		p["Default"] = rw.NodeImageDefault
	}
	n := 0
	var errs []error
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			if ga, ok := v["Fn::GetAtt"].([]any); ok && len(v) == 1 && len(ga) == 2 && ga[0] == EKSClusterLogicalID {
				attr, _ := ga[1].(string)
				val, ok := rw.ClusterAttrs[attr]
				if !ok {
					errs = append(errs, fmt.Errorf("no value for EKSCluster.%s", attr))
				}
				n++
				return val
			}
			for k, c := range v {
				v[k] = walk(c)
			}
		case []any:
			for i, c := range v {
				v[i] = walk(c)
			}
		}
		return v
	}
	switch {
	case rw.ClusterAttrs == nil:
	case rw.OutputsOnly:
		doc["Outputs"] = walk(doc["Outputs"])
	default:
		walk(doc)
	}
	if err := errors.Join(errs...); err != nil {
		return "", n, err
	}
	b, err := json.Marshal(doc)
	return string(b), n, err
}

// ---- CloudFormation helpers ----

// waitStackStatus polls DescribeStacks (by stack ID) every 200ms until the stack reaches
// want; any other terminal status fails the test.
func waitStackStatus(t *testing.T, ctx context.Context, cfn *cloudformation.Client, stackID string, want cfntypes.StackStatus) cfntypes.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackID)})
		if err != nil {
			t.Fatalf("DescribeStacks %s: %v", stackID, err)
		}
		if len(out.Stacks) != 1 {
			t.Fatalf("DescribeStacks %s: %d stacks", stackID, len(out.Stacks))
		}
		s := out.Stacks[0]
		switch {
		case s.StackStatus == want:
			return s
		case !strings.HasSuffix(string(s.StackStatus), "_IN_PROGRESS"):
			t.Fatalf("stack %s: status %s (%s), want %s", stackID, s.StackStatus, aws.ToString(s.StackStatusReason), want)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stack %s: still %s after 2m, want %s", stackID, s.StackStatus, want)
		case <-tick.C:
		}
	}
}
