package kube

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/netguard"
)

// APIError is a failed call described in our own words: the status code and a fixed
// explanation, never the text the server sent (the cluster URL is user input, so the
// server may be anything). Cause keeps the original error for the debug log.
type APIError struct {
	Op     string // e.g. "create namespace team-a"
	Status int32  // HTTP status; 0 when no response came back
	// Detail replaces the generic explanation of Status when the server's structured
	// answer names a known cause (our words again, chosen from a fixed set).
	Detail string
	Cause  error
}

func (e *APIError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: %s", e.Op, transportReason(e.Cause))
	}
	reason := e.Detail
	if reason == "" {
		reason = statusReason(e.Status)
	}
	return fmt.Sprintf("%s: the API server answered HTTP %d (%s)", e.Op, e.Status, reason)
}

func (e *APIError) Unwrap() error { return e.Cause }

// DebugCause describes Cause for the debug log without any text the server chose (for a
// response that is not a Kubernetes Status, client-go puts the body in its error text).
func (e *APIError) DebugCause() string { return describeCause(e.Cause) }

// describeCause: the status code and reason token of an API answer, or what failed in our
// own transport (e.g. "dial: connection refused").
func describeCause(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		st := status.Status()
		s := fmt.Sprintf("HTTP %d", st.Code)
		if r := safeReason(string(st.Reason)); r != "" {
			s += ", reason " + r
		}
		return s
	}
	var op *net.OpError
	if errors.As(err, &op) {
		var errno syscall.Errno
		if errors.As(op.Err, &errno) {
			return op.Op + ": " + errno.Error()
		}
		return op.Op + ": " + transportReason(err)
	}
	return transportReason(err)
}

// wrap turns any client error into an *APIError, keeping SSRF refusals as they are so
// callers can report them precisely.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var blocked *netguard.BlockedError
	if errors.As(err, &blocked) {
		return fmt.Errorf("%s: %w", op, blocked)
	}
	var redirect *netguard.RedirectError
	if errors.As(err, &redirect) {
		return fmt.Errorf("%s: %w", op, redirect)
	}
	var local *LocalError
	if errors.As(err, &local) {
		return fmt.Errorf("%s: %w", op, local)
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return &APIError{Op: op, Status: status.Status().Code, Detail: knownCause(err), Cause: err}
	}
	return &APIError{Op: op, Cause: err}
}

// knownCause explains the structured causes users can act on. The namespace lifecycle
// admission answers 403 for a namespace being deleted, which is no permission problem.
func knownCause(err error) string {
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return "the namespace is being deleted: wait until it is gone, then apply again"
	}
	return ""
}

func statusReason(code int32) string {
	switch code {
	case 400:
		return "the request was rejected as invalid"
	case 401:
		return "the token was not accepted: check that it is valid and not expired"
	case 403:
		return "the credential lacks permission for this operation"
	case 404:
		return "not found"
	case 409:
		return "conflict with the current state of the object"
	case 422:
		return "the object was rejected by validation"
	case 429:
		return "the API server is throttling requests"
	case 500, 502, 503, 504:
		return "the API server failed or is unavailable"
	default:
		return "unexpected response"
	}
}

func transportReason(err error) string {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "the request timed out"
	case errors.Is(err, context.Canceled):
		return "the operation was cancelled"
	case errors.As(err, &unknownAuthority):
		return "TLS verification failed: the server certificate is not signed by cluster_ca_certificate"
	case errors.As(err, &hostname):
		return "TLS verification failed: the server certificate is not valid for this host name"
	case errors.As(err, &invalid):
		return "TLS verification failed: the server certificate is invalid or expired"
	case errors.As(err, &dnsErr):
		return "the host name could not be resolved"
	default:
		return "the API server could not be reached"
	}
}

// IsNotFound reports whether err is a 404 from the API server.
func IsNotFound(err error) bool {
	var e *APIError
	if errors.As(err, &e) {
		return e.Status == 404
	}
	return apierrors.IsNotFound(err)
}

// IsConflict: the API server answered 409 (a create that lost a race, or a stale update).
func IsConflict(err error) bool {
	var e *APIError
	if errors.As(err, &e) {
		return e.Status == 409
	}
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)
}

// LocalError is a refusal of our own making (not a server's answer), safe to show as is.
type LocalError struct{ Msg string }

func (e *LocalError) Error() string { return e.Msg }
