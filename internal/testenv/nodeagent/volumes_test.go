package nodeagent

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestVolumeModes(t *testing.T) {
	ro, rw := int32(0o440), int32(0o444)
	yes := true
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "install-x", Namespace: "apps", UID: "u1", Labels: map[string]string{"b": "2", "a": "1"}}}
	cs := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "values", Namespace: "apps"}, Data: map[string]string{"values.yaml": "a: 1\n", "extra.yaml": "b: 2\n"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "secret-values", Namespace: "apps"}, Data: map[string][]byte{"secret-values.yaml": []byte("pw: x\n")}},
	)
	src := podSource{cs: cs, pod: pod}
	pv := &corev1.ProjectedVolumeSource{DefaultMode: &rw, Sources: []corev1.VolumeProjection{
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "values"}}},
		{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "secret-values"},
			Items: []corev1.KeyToPath{{Key: "secret-values.yaml", Path: "secret-values.yaml", Mode: &ro}}}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Optional: &yes}},
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}},
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}},
	}}
	payload, err := src.projectedPayload(context.Background(), pv, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		data string
		mode int32
	}{
		"values.yaml": {"a: 1\n", 0o444}, "extra.yaml": {"b: 2\n", 0o444}, "secret-values.yaml": {"pw: x\n", 0o440},
		"namespace": {"apps", 0o444}, "labels": {"a=\"1\"\nb=\"2\"", 0o444},
	}
	if len(payload) != len(want) {
		t.Fatalf("payload has %d files, want %d: %v", len(payload), len(want), payload)
	}
	for k, w := range want {
		if got := payload[k]; string(got.data) != w.data || got.mode != w.mode {
			t.Errorf("%s: %q %o, want %q %o", k, got.data, got.mode, w.data, w.mode)
		}
	}
	// A listed key that is missing fails a non-optional source.
	pv.Sources = []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "values"},
		Items: []corev1.KeyToPath{{Key: "nope", Path: "nope"}}}}}
	if _, err := src.projectedPayload(context.Background(), pv, nil, nil); err == nil {
		t.Error("a missing key was accepted")
	}

	dir := filepath.Join(t.TempDir(), "vol")
	if err := writeAtomic(dir, payload, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if target, _ := os.Readlink(filepath.Join(dir, "..data")); target != "..2026_01_02_03_04_05.000000006" {
		t.Errorf("..data -> %q", target)
	}
	if target, _ := os.Readlink(filepath.Join(dir, "secret-values.yaml")); target != "..data/secret-values.yaml" {
		t.Errorf("secret-values.yaml -> %q", target)
	}
	fi, err := os.Stat(filepath.Join(dir, "secret-values.yaml"))
	if err != nil || fi.Mode().Perm() != 0o440 {
		t.Fatalf("secret file mode %v %v", fi.Mode(), err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("fsGroup ownership needs root (CI runs as root)")
	}
	if err := setOwnership(dir, 65534, true); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(filepath.Join(dir, "secret-values.yaml"))
	if st := fi.Sys().(*syscall.Stat_t); st.Gid != 65534 || fi.Mode().Perm() != 0o440 {
		t.Errorf("after fsGroup: gid %d mode %v, want 65534 0440", st.Gid, fi.Mode())
	}
	fi, _ = os.Stat(filepath.Join(dir, "..data"))
	if fi.Mode()&fs.ModeSetgid == 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("payload dir mode %v, want setgid 0755", fi.Mode())
	}
}

func TestOwnershipMode(t *testing.T) {
	for _, tc := range []struct {
		in       fs.FileMode
		readOnly bool
		want     fs.FileMode
	}{
		{0o400, true, 0o440},
		{0o644, true, 0o644},
		{0o600, false, 0o660},
		{fs.ModeDir | 0o777, false, fs.ModeDir | fs.ModeSetgid | 0o777},
		{fs.ModeDir | 0o700, true, fs.ModeDir | fs.ModeSetgid | 0o750},
	} {
		if got := ownershipMode(tc.in, tc.readOnly); got&^fs.ModeDir != tc.want&^fs.ModeDir {
			t.Errorf("ownershipMode(%v, %v) = %v, want %v", tc.in, tc.readOnly, got, tc.want)
		}
	}
}

func TestExpand(t *testing.T) {
	defs := map[string]string{"A": "x", "B": "y"}
	for in, want := range map[string]string{
		"$(A)-$(B)": "x-y", "$$(A)": "$(A)", "$(C)": "$(C)", "plain": "plain", "$": "$", "a$b": "a$b", "$(A": "$(A",
	} {
		if got := expand(in, defs); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
