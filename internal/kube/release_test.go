package kube

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestRelease_EncodeFindRoundTripPicksHighestRevision(t *testing.T) {
	at := time.Date(2026, 10, 30, 8, 15, 30, 123456789, time.UTC)
	var objs []runtime.Object
	for _, rev := range []int{1, 2, 10, 9} {
		st := ReleaseSuperseded
		if rev == 10 {
			st = ReleaseDeployed
		}
		objs = append(objs, EncodeReleaseSecret(Release{
			Name: "ingress-nginx", Namespace: "ingress", Revision: rev, Status: st,
			ChartName: "ingress-nginx", ChartVersion: "4.13." + strconv.Itoa(rev), AppVersion: "1.13.3",
			Description: "Upgrade complete", LastDeployed: at.Add(time.Duration(rev) * time.Minute),
		}))
	}
	// Another release, and a Secret with helm's labels but not helm's type, are ignored.
	objs = append(objs, EncodeReleaseSecret(Release{Name: "ingress-nginx-2", Namespace: "ingress", Revision: 50}))
	notHelm := EncodeReleaseSecret(Release{Name: "ingress-nginx", Namespace: "ingress", Revision: 99})
	notHelm.Name, notHelm.Type = "not-helm", corev1.SecretTypeOpaque
	objs = append(objs, notHelm)

	c := NewClientForInterface(fake.NewClientset(objs...))
	r, err := c.FindRelease(context.Background(), "ingress", "ingress-nginx")
	if err != nil {
		t.Fatal(err)
	}
	want := Release{Name: "ingress-nginx", Namespace: "ingress", Revision: 10, Status: ReleaseDeployed,
		ChartName: "ingress-nginx", ChartVersion: "4.13.10", AppVersion: "1.13.3", Description: "Upgrade complete",
		LastDeployed: at.Add(10 * time.Minute)}
	if r == nil || !r.LastDeployed.Equal(want.LastDeployed) {
		t.Fatalf("got %+v", r)
	}
	r.LastDeployed = want.LastDeployed
	if !reflect.DeepEqual(*r, want) {
		t.Fatalf("got  %+v\nwant %+v", *r, want)
	}

	if r, err := c.FindRelease(context.Background(), "ingress", "absent"); r != nil || err != nil {
		t.Fatalf("absent release: %+v %v", r, err)
	}
	if r, err := c.FindRelease(context.Background(), "elsewhere", "ingress-nginx"); r != nil || err != nil {
		t.Fatalf("other namespace: %+v %v", r, err)
	}
}

func TestEncodeReleaseSecret_IsWhatHelmWrites(t *testing.T) {
	s := EncodeReleaseSecret(Release{Name: "cert-manager", Namespace: "cert-manager", Revision: 3, Status: ReleaseFailed})
	if s.Name != "sh.helm.release.v1.cert-manager.v3" || s.Type != "helm.sh/release.v1" {
		t.Fatalf("%s %s", s.Name, s.Type)
	}
	for k, v := range map[string]string{"name": "cert-manager", "owner": "helm", "status": "failed", "version": "3"} {
		if s.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, s.Labels[k], v)
		}
	}
	raw, err := base64.StdEncoding.DecodeString(string(s.Data["release"]))
	if err != nil || !bytes.HasPrefix(raw, []byte{0x1f, 0x8b, 0x08}) {
		t.Fatal("release data must be base64 of gzip")
	}
}

// A record as helm 3 writes it (trimmed): extra fields, "deleted": "" for a zero time,
// and, from helm before 3.1, no gzip.
const helmJSON = `{"name":"prometheus","info":{"first_deployed":"2026-09-01T10:00:00.5+02:00",
"last_deployed":"2026-09-02T10:00:00.000000001+02:00","deleted":"","description":"Install complete",
"status":"pending-upgrade","notes":"..."},"chart":{"metadata":{"name":"kube-prometheus-stack",
"version":"77.0.0","description":"x","apiVersion":"v2","appVersion":"v0.85.0","type":"application"},
"lock":null,"templates":[],"values":{"a":1},"schema":null,"files":[]},"config":{"grafana":{"enabled":true}},
"manifest":"---\n","hooks":[{"name":"h","kind":"Job"}],"version":7,"namespace":"monitoring"}`

func TestFindRelease_DecodesHelmRecords(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write([]byte(helmJSON)); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	mk := func(name, payload string) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "monitoring",
				Labels: map[string]string{"owner": "helm", "name": "prometheus", "version": "7", "status": "pending-upgrade"}},
			Type: HelmReleaseSecretType,
			Data: map[string][]byte{"release": []byte(payload)},
		}
	}
	for name, payload := range map[string]string{
		"gzip":  base64.StdEncoding.EncodeToString(gz.Bytes()),
		"plain": base64.StdEncoding.EncodeToString([]byte(helmJSON)),
	} {
		c := NewClientForInterface(fake.NewClientset(mk("sh.helm.release.v1.prometheus.v7", payload)))
		r, err := c.FindRelease(context.Background(), "monitoring", "prometheus")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantTime := time.Date(2026, 9, 2, 8, 0, 0, 1, time.UTC)
		if r.Revision != 7 || r.Status != ReleasePendingUpgrade || !r.Status.Pending() || r.ChartName != "kube-prometheus-stack" ||
			r.ChartVersion != "77.0.0" || r.AppVersion != "v0.85.0" || r.Namespace != "monitoring" || !r.LastDeployed.Equal(wantTime) {
			t.Errorf("%s: %+v", name, r)
		}
	}

	// A corrupt newest record is an error (not silently an older revision).
	c := NewClientForInterface(fake.NewClientset(mk("sh.helm.release.v1.prometheus.v7", "!!!not base64")))
	_, err := c.FindRelease(context.Background(), "monitoring", "prometheus")
	var decodeErr *ReleaseDecodeError
	if !errors.As(err, &decodeErr) || decodeErr.Secret != "sh.helm.release.v1.prometheus.v7" {
		t.Fatalf("got %v", err)
	}
}

func TestParseReleaseStatus(t *testing.T) {
	for in, want := range map[string]ReleaseStatus{
		"deployed": ReleaseDeployed, "failed": ReleaseFailed, "pending-install": ReleasePendingInstall,
		"pending-rollback": ReleasePendingRollback, "uninstalling": ReleaseUninstalling, "superseded": ReleaseSuperseded,
		"": ReleaseUnknown, "Deployed": ReleaseUnknown, "<script>": ReleaseUnknown,
	} {
		if got := parseReleaseStatus(in); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

// Reading helm's record retries a blip a few times (a refused connection, a 503), gives
// up after readAttempts calls, and stops at once on a 403; after the install pod's wait
// it retries as long as the wait would.
func TestFindRelease_RetriesTransientErrorsAFewTimes(t *testing.T) {
	rec := EncodeReleaseSecret(Release{Name: "podinfo", Namespace: "podinfo", Revision: 1, ChartName: "podinfo", ChartVersion: "6.7.1"})
	for _, tc := range []struct {
		name          string
		failures      []error
		calls, pauses int
		want          string // the error; "" for the release
	}{
		{"a blip", []error{connRefused(), apierrors.NewServiceUnavailable("later")}, 3, 2, ""},
		{"down", slices.Repeat([]error{connRefused()}, 10), readAttempts, readAttempts - 1,
			"read helm release podinfo/podinfo: the API server could not be reached"},
		{"down for a while, after a wait", slices.Repeat([]error{connRefused()}, 10), 11, 10, ""},
		{"forbidden", []error{apierrors.NewForbidden(corev1.Resource("secrets"), "", errors.New("<html>server text</html>"))}, 1, 0,
			"read helm release podinfo/podinfo: the API server answered HTTP 403 (the credential lacks permission for this operation)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset(rec)
			calls := 0
			cs.PrependReactor("list", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
				if calls++; calls <= len(tc.failures) {
					return true, nil, tc.failures[calls-1]
				}
				return false, nil, nil
			})
			clk := newStepClock()
			find := NewClientForInterface(cs).WithClock(clk).FindRelease
			if strings.HasSuffix(tc.name, "after a wait") {
				find = NewClientForInterface(cs).WithClock(clk).FindReleaseAfterWait
			}
			r, err := find(context.Background(), "podinfo", "podinfo")
			switch {
			case tc.want == "" && (err != nil || r == nil || r.Revision != 1):
				t.Fatalf("got %+v, %v", r, err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			if calls != tc.calls || len(clk.Pauses()) != tc.pauses {
				t.Fatalf("%d calls, pauses %v", calls, clk.Pauses())
			}
		})
	}
}
