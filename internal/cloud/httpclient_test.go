package cloud

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// sdkLikeBody behaves as the SDK's request body does: readable until closed, and once
// closed its WriteTo answers io.EOF. Its WriteTo (net/http's check for extra bytes,
// after the body went out) waits for the close, so the close always comes first, as it
// does on a loaded machine when the server answers quickly.
type sdkLikeBody struct {
	r      *bytes.Reader
	mu     sync.Mutex
	closed chan struct{}
	once   sync.Once
}

func newSDKLikeBody(s string) *sdkLikeBody {
	return &sdkLikeBody{r: bytes.NewReader([]byte(s)), closed: make(chan struct{})}
}

func (b *sdkLikeBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.closed:
		return 0, io.EOF
	default:
	}
	return b.r.Read(p)
}

func (b *sdkLikeBody) WriteTo(io.Writer) (int64, error) {
	<-b.closed
	return 0, io.EOF
}

func (b *sdkLikeBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// A long answer is read whole although the SDK closes the request body as soon as the
// answer's headers arrive.
func TestWholeRequestBodies_LongAnswerAfterTheBodyIsClosed(t *testing.T) {
	long := strings.Repeat("<member>event</member>\n", 40000) // ~1 MB: more than net/http buffers
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, long)
	}))
	defer srv.Close()

	body := newSDKLikeBody("Action=DescribeStackEvents&StackName=demo")
	req, err := http.NewRequest(http.MethodPost, srv.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(body.r.Len())
	resp, err := WholeRequestBodies(srv.Client()).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_ = body.Close() // what the SDK does once Do returns
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	if len(got) != len(long) {
		t.Fatalf("read %d bytes of the answer, want %d", len(got), len(long))
	}
	if gotBody != "Action=DescribeStackEvents&StackName=demo" {
		t.Fatalf("the server got the body %q", gotBody)
	}
}

func TestWholeRequestBodies_KeepsTheRequest(t *testing.T) {
	var seen []*http.Request
	var bodies []string
	next := doFunc(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, r)
		var b []byte
		if r.Body != nil {
			b, _ = io.ReadAll(r.Body)
		}
		bodies = append(bodies, string(b))
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	})
	c := WholeRequestBodies(next)

	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", newSDKLikeBody("a=1"))
	req.ContentLength = 3
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 x")
	if _, err := c.Do(req); err != nil {
		t.Fatal(err)
	}
	got := seen[0]
	if got.ContentLength != 3 || bodies[0] != "a=1" || got.Header.Get("Authorization") != "AWS4-HMAC-SHA256 x" || got.Method != http.MethodPost {
		t.Fatalf("sent %s length %d body %q authorization %q", got.Method, got.ContentLength, bodies[0], got.Header.Get("Authorization"))
	}
	if again, _ := got.GetBody(); again == nil {
		t.Fatal("no GetBody")
	} else if b, _ := io.ReadAll(again); string(b) != "a=1" {
		t.Fatalf("GetBody gave %q", b)
	}

	// No body, and an empty one: net/http must see no body (an empty non-nil body with
	// length 0 would be sent as one of unknown length).
	for _, body := range []io.Reader{nil, strings.NewReader("")} {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", body)
		if _, err := c.Do(req); err != nil {
			t.Fatal(err)
		}
		last := seen[len(seen)-1]
		if last.Body != nil && last.Body != http.NoBody {
			t.Fatalf("body %T sent for %v", last.Body, body)
		}
	}
}

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// Every client the provider builds sends whole bodies: the base configuration carries the
// wrapper (and the assume-role clients are built from it).
func TestFactory_BaseSendsWholeRequestBodies(t *testing.T) {
	w := newAuthWorld(t)
	base, err := NewFactory(w.config(Config{AccessKey: w.keys["config-user"][0], SecretKey: w.keys["config-user"][1]})).Base(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := base.HTTPClient.(wholeRequestBodies); !ok {
		t.Fatalf("the base configuration's HTTP client is %T, not the one that sends whole bodies", base.HTTPClient)
	}
}
