package kube

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Helm release records, read the way helm's default storage driver ("secret", in
// helm.sh/helm/v3/pkg/storage/driver) writes them: one Secret per revision in the release
// namespace, named sh.helm.release.v1.<name>.v<revision>, of type helm.sh/release.v1,
// labelled name=<name>, owner=helm, status=<status>, version=<revision>, whose data key
// "release" holds base64(gzip(json(release))). (The Secret's data is itself base64 in the
// API's JSON, so the bytes client-go hands us are still base64 once: helm encodes twice.)
// The JSON is decoded into a minimal local struct compatible with helm's pkg/release
// types, so the provider does not pull helm's module graph in.

// HelmReleaseSecretType is the type of helm's release Secrets.
const HelmReleaseSecretType corev1.SecretType = "helm.sh/release.v1"

// ReleaseStatus is helm's release status.
type ReleaseStatus string

const (
	ReleaseUnknown         ReleaseStatus = "unknown"
	ReleaseDeployed        ReleaseStatus = "deployed"
	ReleaseUninstalled     ReleaseStatus = "uninstalled"
	ReleaseSuperseded      ReleaseStatus = "superseded"
	ReleaseFailed          ReleaseStatus = "failed"
	ReleaseUninstalling    ReleaseStatus = "uninstalling"
	ReleasePendingInstall  ReleaseStatus = "pending-install"
	ReleasePendingUpgrade  ReleaseStatus = "pending-upgrade"
	ReleasePendingRollback ReleaseStatus = "pending-rollback"
)

func parseReleaseStatus(s string) ReleaseStatus {
	switch st := ReleaseStatus(s); st {
	case ReleaseDeployed, ReleaseUninstalled, ReleaseSuperseded, ReleaseFailed, ReleaseUninstalling,
		ReleasePendingInstall, ReleasePendingUpgrade, ReleasePendingRollback:
		return st
	}
	return ReleaseUnknown
}

// Pending reports whether a helm operation on the release is (or was left) in progress.
func (s ReleaseStatus) Pending() bool {
	return s == ReleasePendingInstall || s == ReleasePendingUpgrade || s == ReleasePendingRollback
}

// Release is the latest revision of a helm release.
type Release struct {
	Name         string
	Namespace    string
	Revision     int
	Status       ReleaseStatus
	ChartName    string
	ChartVersion string
	AppVersion   string
	Description  string // helm's own summary, e.g. "Install complete"
	LastDeployed time.Time
	// Objects are what the revision's manifest made (see MissingObjects); ManifestUnreadable
	// says the manifest was not YAML past the objects listed.
	Objects            []ObjectRef
	ManifestUnreadable bool
	// Values are the values the user gave helm for this revision (JSON, as helm records
	// them; "null" or empty for none), for adopting a release helm installed.
	Values json.RawMessage
}

// helmTime is helm's pkg/time.Time on the wire: RFC 3339 (with nanoseconds), and "" for
// the zero time.
type helmTime struct{ time.Time }

func (t helmTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte(`""`), nil
	}
	return t.Time.MarshalJSON()
}

func (t *helmTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" || string(b) == `""` {
		return nil
	}
	return t.Time.UnmarshalJSON(b)
}

// helmRelease is the part of helm's release.Release JSON we read (and write, for tests).
type helmRelease struct {
	Name      string     `json:"name,omitempty"`
	Info      *helmInfo  `json:"info,omitempty"`
	Chart     *helmChart `json:"chart,omitempty"`
	Manifest  string     `json:"manifest,omitempty"`
	Version   int        `json:"version,omitempty"`
	Namespace string     `json:"namespace,omitempty"`
	// Config is the values the user gave helm (every -f and --set merged), not the
	// chart's defaults.
	Config json.RawMessage `json:"config,omitempty"`
}

type helmInfo struct {
	FirstDeployed helmTime `json:"first_deployed,omitempty"`
	LastDeployed  helmTime `json:"last_deployed,omitempty"`
	Deleted       helmTime `json:"deleted"`
	Description   string   `json:"description,omitempty"`
	Status        string   `json:"status,omitempty"`
}

type helmChart struct {
	Metadata *helmChartMetadata `json:"metadata,omitempty"`
}

type helmChartMetadata struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Name       string `json:"name,omitempty"`
	Version    string `json:"version,omitempty"`
	AppVersion string `json:"appVersion,omitempty"`
}

// ReleaseDecodeError: a release Secret exists but its record cannot be read.
type ReleaseDecodeError struct {
	Namespace, Secret string
	Cause             error
}

func (e *ReleaseDecodeError) Error() string {
	return fmt.Sprintf("helm release record %s/%s cannot be decoded (%v)", e.Namespace, e.Secret, e.Cause)
}

func (e *ReleaseDecodeError) Unwrap() error { return e.Cause }

// ReleaseSecretName is the name helm gives revision rev of release name.
func ReleaseSecretName(name string, rev int) string {
	return "sh.helm.release.v1." + name + ".v" + strconv.Itoa(rev)
}

// FindRelease returns the latest revision of release name in namespace, or nil, nil when
// there is none. A transient API error is retried a few times (readAttempts): a blip does
// not fail a read, and a refresh against a cluster that is down still fails in seconds.
func (c *Client) FindRelease(ctx context.Context, namespace, name string) (*Release, error) {
	return c.findRelease(ctx, namespace, name, readAttempts, "")
}

// FindReleaseAfterWait is FindRelease for the read that ends an install or upgrade: it
// retries transient errors until ctx ends, as the install pod's wait did, so that an
// outage that outlasts helm does not fail an install helm has finished.
func (c *Client) FindReleaseAfterWait(ctx context.Context, namespace, name string) (*Release, error) {
	return c.findRelease(ctx, namespace, name, 0, "")
}

// findRelease reads the latest revision of release name, or with status the latest one
// helm records with that status.
func (c *Client) findRelease(ctx context.Context, namespace, name string, attempts int, status ReleaseStatus) (*Release, error) {
	op := fmt.Sprintf("read helm release %s/%s", namespace, name)
	set := labels.Set{"owner": "helm", "name": name}
	if status != "" {
		set["status"] = string(status)
	}
	var list *corev1.SecretList
	err := c.retryCall(ctx, op, attempts, nil, func() error {
		var err error
		list, err = c.cs.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(set).String()})
		return err
	})
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	best := latestReleaseSecrets(list.Items)[name]
	if best == nil {
		return nil, nil
	}
	return decodeReleaseSecret(best)
}

// latestReleaseSecrets picks, per release name, the Secret of its highest revision among
// helm's records in items (Secrets of another type are ignored). Nothing is decoded but
// a record whose version label is missing or unreadable (the record says which revision
// it is).
func latestReleaseSecrets(items []corev1.Secret) map[string]*corev1.Secret {
	best := map[string]*corev1.Secret{}
	bestRev := map[string]int{}
	for i := range items {
		s := &items[i]
		if s.Type != HelmReleaseSecretType {
			continue
		}
		name := s.Labels["name"]
		rev, err := strconv.Atoi(s.Labels["version"])
		if err != nil {
			r, derr := decodeReleaseSecret(s)
			if derr != nil {
				continue
			}
			rev = r.Revision
			if name == "" {
				name = r.Name
			}
		}
		if cur, ok := bestRev[name]; !ok || rev > cur {
			best[name], bestRev[name] = s, rev
		}
	}
	return best
}

func decodeReleaseSecret(s *corev1.Secret) (*Release, error) {
	fail := func(err error) (*Release, error) {
		return nil, &ReleaseDecodeError{Namespace: s.Namespace, Secret: s.Name, Cause: err}
	}
	data, ok := s.Data["release"]
	if !ok {
		return fail(fmt.Errorf("no \"release\" key"))
	}
	raw, err := base64.StdEncoding.DecodeString(string(data))
	if err != nil {
		return fail(fmt.Errorf("not base64"))
	}
	// Records from before helm compressed them are plain JSON.
	if len(raw) >= 3 && bytes.Equal(raw[:3], []byte{0x1f, 0x8b, 0x08}) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return fail(fmt.Errorf("bad gzip header"))
		}
		// A release record is at most ~1 MiB (the Secret size limit); bound the output.
		raw, err = io.ReadAll(io.LimitReader(zr, 32<<20))
		if err != nil {
			return fail(fmt.Errorf("bad gzip data"))
		}
	}
	var hr helmRelease
	if err := json.Unmarshal(raw, &hr); err != nil {
		return fail(fmt.Errorf("not a helm release JSON document"))
	}
	r := &Release{Name: hr.Name, Namespace: hr.Namespace, Revision: hr.Version, Status: ReleaseUnknown}
	if r.Name == "" {
		r.Name = s.Labels["name"]
	}
	if r.Namespace == "" {
		r.Namespace = s.Namespace
	}
	if hr.Info != nil {
		r.Status = parseReleaseStatus(hr.Info.Status)
		r.Description = hr.Info.Description
		r.LastDeployed = hr.Info.LastDeployed.Time
	}
	if r.Status == ReleaseUnknown {
		r.Status = parseReleaseStatus(s.Labels["status"])
	}
	if hr.Chart != nil && hr.Chart.Metadata != nil {
		r.ChartName, r.ChartVersion, r.AppVersion = hr.Chart.Metadata.Name, hr.Chart.Metadata.Version, hr.Chart.Metadata.AppVersion
	}
	// Only the objects' names are kept: a manifest can be megabytes, a refresh holds
	// hundreds of records.
	objs, err := manifestObjects(hr.Manifest)
	r.Objects, r.ManifestUnreadable = objs, err != nil
	r.Values = hr.Config
	return r, nil
}

// EncodeReleaseSecret makes the Secret helm's storage driver would write for r: the unit
// tests' records, and the revisions another helm client leaves behind in the acceptance
// tests (a release left failed or pending). An unset Status is deployed.
func EncodeReleaseSecret(r Release) *corev1.Secret {
	if r.Status == "" {
		r.Status = ReleaseDeployed
	}
	hr := helmRelease{
		Name: r.Name, Namespace: r.Namespace, Version: r.Revision, Manifest: manifestOf(r.Objects), Config: r.Values,
		Info: &helmInfo{
			FirstDeployed: helmTime{r.LastDeployed}, LastDeployed: helmTime{r.LastDeployed},
			Description: r.Description, Status: string(r.Status),
		},
		Chart: &helmChart{Metadata: &helmChartMetadata{
			APIVersion: "v2", Name: r.ChartName, Version: r.ChartVersion, AppVersion: r.AppVersion,
		}},
	}
	js, err := json.Marshal(hr)
	if err != nil {
		panic(err) // strings, ints and times only: cannot fail
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(js) // writes to memory cannot fail
	_ = zw.Close()
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ReleaseSecretName(r.Name, r.Revision),
			Namespace: r.Namespace,
			Labels: map[string]string{
				"name":    r.Name,
				"owner":   "helm",
				"status":  string(r.Status),
				"version": strconv.Itoa(r.Revision),
			},
		},
		Type: HelmReleaseSecretType,
		Data: map[string][]byte{"release": []byte(base64.StdEncoding.EncodeToString(buf.Bytes()))},
	}
}

// manifestOf renders objects as a minimal manifest, for EncodeReleaseSecret.
func manifestOf(objects []ObjectRef) string {
	var b strings.Builder
	for _, o := range objects {
		fmt.Fprintf(&b, "---\napiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n", o.APIVersion, o.Kind, o.Name)
		if o.Namespace != "" {
			fmt.Fprintf(&b, "  namespace: %s\n", o.Namespace)
		}
	}
	return b.String()
}
