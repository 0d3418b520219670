package cloud

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// WholeRequestBodies makes next send every request body from memory.
//
// The SDK hands net/http a body of its own type, which net/http does not know to be in
// memory: it sends the headers, streams the body straight to the socket, and only then
// reads the body once more to check for extra bytes. The SDK closes its body as soon as
// the response's headers arrive, and from then on that body answers io.EOF as an error;
// when the server was quick (a local endpoint, a loaded runner), the check fails and
// net/http closes the connection under the response body being read: "use of closed
// network connection", on every attempt of a call whose answer is long (seen with
// DescribeStackEvents in CI). A body read into memory first goes out whole in one write
// after the body is done, so no answer can overtake it, and the SDK's close no longer
// touches what net/http reads. A nil next is the SDK's default client.
func WholeRequestBodies(next aws.HTTPClient) aws.HTTPClient {
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	return wholeRequestBodies{next: next}
}

type wholeRequestBodies struct{ next aws.HTTPClient }

func (c wholeRequestBodies) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return c.next.Do(req)
	}
	body, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	out := req.Clone(req.Context())
	out.ContentLength = int64(len(body))
	out.Body, out.GetBody = http.NoBody, nil
	if len(body) > 0 { // net/http reads a non-nil body of length 0 as one of unknown length
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return c.next.Do(out)
}
