package nodeagent

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// fileProjection is one file of an atomic-writer volume (configMap, secret, downwardAPI,
// projected), as kubelet builds them.
type fileProjection struct {
	data   []byte
	mode   int32
	fsUser *int64
}

const defaultVolumeMode = int32(0o644)

func modeOr(m *int32, def int32) int32 {
	if m != nil {
		return *m
	}
	return def
}

// keyPayload maps the keys of a ConfigMap or Secret to files: all keys with defaultMode, or
// just the listed items (item mode, else defaultMode). A listed key that is missing is an
// error unless the source is optional.
func keyPayload(data map[string][]byte, items []corev1.KeyToPath, defaultMode int32, optional bool, what string) (map[string]fileProjection, error) {
	out := map[string]fileProjection{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = fileProjection{data: v, mode: defaultMode}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("%s references non-existent key: %s", what, it.Key)
		}
		out[it.Path] = fileProjection{data: v, mode: modeOr(it.Mode, defaultMode)}
	}
	return out, nil
}

// podSource reads what a pod's volumes and env refer to; kubernetes.Interface in the agent.
type podSource struct {
	cs  kubernetes.Interface
	pod *corev1.Pod
}

func (p podSource) configMapData(ctx context.Context, name string, optional bool) (map[string][]byte, error) {
	cm, err := p.cs.CoreV1().ConfigMaps(p.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("configmap %q: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return data, nil
}

func (p podSource) secretData(ctx context.Context, name string, optional bool) (map[string][]byte, error) {
	s, err := p.cs.CoreV1().Secrets(p.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	return s.Data, nil
}

// token asks for a service account token bound to the pod, as kubelet's token manager does.
func (p podSource) token(ctx context.Context, src *corev1.ServiceAccountTokenProjection) ([]byte, error) {
	req := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		ExpirationSeconds: src.ExpirationSeconds,
		BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.pod.Name, UID: p.pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	sa := p.pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr, err := p.cs.CoreV1().ServiceAccounts(p.pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token for service account %q: %w", sa, err)
	}
	return []byte(tr.Status.Token), nil
}

// volumePayload builds the files of an atomic-writer volume; ok is false for other kinds.
func (p podSource) volumePayload(ctx context.Context, v corev1.Volume, fsUser, fsGroup *int64) (payload map[string]fileProjection, ok bool, err error) {
	vs := v.VolumeSource
	switch {
	case vs.ConfigMap != nil:
		opt := vs.ConfigMap.Optional != nil && *vs.ConfigMap.Optional
		data, err := p.configMapData(ctx, vs.ConfigMap.Name, opt)
		if err != nil {
			return nil, true, err
		}
		payload, err = keyPayload(data, vs.ConfigMap.Items, modeOr(vs.ConfigMap.DefaultMode, defaultVolumeMode), opt, "configmap")
		return payload, true, err
	case vs.Secret != nil:
		opt := vs.Secret.Optional != nil && *vs.Secret.Optional
		data, err := p.secretData(ctx, vs.Secret.SecretName, opt)
		if err != nil {
			return nil, true, err
		}
		payload, err = keyPayload(data, vs.Secret.Items, modeOr(vs.Secret.DefaultMode, defaultVolumeMode), opt, "secret")
		return payload, true, err
	case vs.DownwardAPI != nil:
		payload, err = downwardPayload(p.pod, vs.DownwardAPI.Items, modeOr(vs.DownwardAPI.DefaultMode, defaultVolumeMode))
		return payload, true, err
	case vs.Projected != nil:
		payload, err = p.projectedPayload(ctx, vs.Projected, fsUser, fsGroup)
		return payload, true, err
	}
	return nil, false, nil
}

func (p podSource) projectedPayload(ctx context.Context, pv *corev1.ProjectedVolumeSource, fsUser, fsGroup *int64) (map[string]fileProjection, error) {
	def := modeOr(pv.DefaultMode, defaultVolumeMode)
	out := map[string]fileProjection{}
	add := func(m map[string]fileProjection) {
		for k, v := range m {
			out[k] = v
		}
	}
	for _, src := range pv.Sources {
		switch {
		case src.ConfigMap != nil:
			opt := src.ConfigMap.Optional != nil && *src.ConfigMap.Optional
			data, err := p.configMapData(ctx, src.ConfigMap.Name, opt)
			if err != nil {
				return nil, err
			}
			m, err := keyPayload(data, src.ConfigMap.Items, def, opt, "configmap")
			if err != nil {
				return nil, err
			}
			add(m)
		case src.Secret != nil:
			opt := src.Secret.Optional != nil && *src.Secret.Optional
			data, err := p.secretData(ctx, src.Secret.Name, opt)
			if err != nil {
				return nil, err
			}
			m, err := keyPayload(data, src.Secret.Items, def, opt, "secret")
			if err != nil {
				return nil, err
			}
			add(m)
		case src.DownwardAPI != nil:
			m, err := downwardPayload(p.pod, src.DownwardAPI.Items, def)
			if err != nil {
				return nil, err
			}
			add(m)
		case src.ServiceAccountToken != nil:
			tok, err := p.token(ctx, src.ServiceAccountToken)
			if err != nil {
				return nil, err
			}
			// kubelet: the token is 0600 for its owner when the pod has a single user or
			// an fsGroup (which SetVolumeOwnership then widens to 0640).
			mode := def
			if fsUser != nil || fsGroup != nil {
				mode = 0o600
			}
			out[src.ServiceAccountToken.Path] = fileProjection{data: tok, mode: mode, fsUser: fsUser}
		default:
			return nil, fmt.Errorf("unsupported projected volume source (only configMap, secret, downwardAPI, serviceAccountToken)")
		}
	}
	return out, nil
}

func downwardPayload(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, def int32) (map[string]fileProjection, error) {
	out := map[string]fileProjection{}
	for _, it := range items {
		if it.FieldRef == nil {
			return nil, fmt.Errorf("downwardAPI %s: only fieldRef is supported", it.Path)
		}
		v, err := fieldValue(pod, it.FieldRef.FieldPath)
		if err != nil {
			return nil, err
		}
		out[it.Path] = fileProjection{data: []byte(v), mode: modeOr(it.Mode, def)}
	}
	return out, nil
}

// fieldValue resolves a downward API field path (env fieldRef and downwardAPI volumes).
func fieldValue(pod *corev1.Pod, path string) (string, error) {
	kv := func(m map[string]string) string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%q\n", k, m[k])
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return pod.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return pod.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return kv(pod.Labels), nil
	case "metadata.annotations":
		return kv(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.podIP":
		return "127.0.0.1", nil
	case "status.hostIPs", "status.podIPs":
		return "127.0.0.1", nil
	}
	return "", fmt.Errorf("unsupported field path %q", path)
}

// writeAtomic lays the payload out as kubelet's atomic writer does: the files in a
// timestamped directory, ..data pointing at it, and a symlink per top-level entry.
func writeAtomic(dir string, payload map[string]fileProjection, now time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ts := ".." + now.UTC().Format("2006_01_02_15_04_05.000000000")
	data := filepath.Join(dir, ts)
	if err := os.Mkdir(data, 0o755); err != nil {
		return err
	}
	top := map[string]bool{}
	for p, f := range payload {
		clean := filepath.Clean(p)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || strings.HasPrefix(clean, "..") {
			return fmt.Errorf("invalid volume file path %q", p)
		}
		full := filepath.Join(data, clean)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.data, 0o600); err != nil {
			return err
		}
		if err := os.Chmod(full, fs.FileMode(f.mode)&fs.ModePerm); err != nil {
			return err
		}
		if f.fsUser != nil {
			if err := os.Chown(full, int(*f.fsUser), -1); err != nil {
				return err
			}
		}
		top[strings.SplitN(clean, "/", 2)[0]] = true
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	for name := range top {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// setOwnership gives a volume to the pod's fsGroup as kubelet's SetVolumeOwnership does:
// group fsGroup on every entry, group read (read-only volumes) or read-write added to the
// mode, and directories setgid and searchable.
func setOwnership(dir string, fsGroup int64, readOnly bool) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, -1, int(fsGroup)); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.Chmod(path, ownershipMode(info.Mode(), readOnly))
	})
}

// ownershipMode is the mode SetVolumeOwnership gives an entry of mode m.
func ownershipMode(m fs.FileMode, readOnly bool) fs.FileMode {
	mask := fs.FileMode(0o660)
	if readOnly {
		mask = 0o440
	}
	if m.IsDir() {
		mask |= fs.ModeSetgid | 0o110
	}
	return (m & (fs.ModePerm | fs.ModeSetgid | fs.ModeSticky)) | mask
}
