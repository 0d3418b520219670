package nodeagent

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// imagePath is the PATH the helm "image" declares (alpine/helm's).
const imagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// containerEnv builds the container's environment as kubelet and the runtime do: the image's
// PATH, HOSTNAME, the kubernetes Service variables (pointing at the real apiserver on
// loopback: the Service IP is fake), envFrom, then env with $(VAR) references expanded;
// later entries win. HOME comes from /etc/passwd when nothing set it.
func (p podSource) containerEnv(ctx context.Context, c *corev1.Container, apiPort int, uid int64) ([]string, error) {
	var names []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			names = append(names, k)
		}
		vals[k] = v
	}
	set("PATH", imagePath)
	set("HOSTNAME", p.pod.Name)
	port := strconv.Itoa(apiPort)
	set("KUBERNETES_SERVICE_HOST", "127.0.0.1")
	set("KUBERNETES_SERVICE_PORT", port)
	set("KUBERNETES_SERVICE_PORT_HTTPS", port)
	set("KUBERNETES_PORT", "tcp://127.0.0.1:"+port)
	set("KUBERNETES_PORT_"+port+"_TCP", "tcp://127.0.0.1:"+port)
	set("KUBERNETES_PORT_"+port+"_TCP_PROTO", "tcp")
	set("KUBERNETES_PORT_"+port+"_TCP_PORT", port)
	set("KUBERNETES_PORT_"+port+"_TCP_ADDR", "127.0.0.1")
	for _, from := range c.EnvFrom {
		var data map[string][]byte
		var err error
		switch {
		case from.ConfigMapRef != nil:
			data, err = p.configMapData(ctx, from.ConfigMapRef.Name, from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional)
		case from.SecretRef != nil:
			data, err = p.secretData(ctx, from.SecretRef.Name, from.SecretRef.Optional != nil && *from.SecretRef.Optional)
		}
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(from.Prefix+k, string(data[k]))
		}
	}
	for _, e := range c.Env {
		v, ok, err := p.envValue(ctx, e, vals)
		if err != nil {
			return nil, err
		}
		if ok {
			set(e.Name, v)
		}
	}
	if _, ok := vals["HOME"]; !ok {
		set("HOME", homeOf(uid))
	}
	out := make([]string, 0, len(names))
	for _, k := range names {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

func (p podSource) envValue(ctx context.Context, e corev1.EnvVar, defined map[string]string) (string, bool, error) {
	vf := e.ValueFrom
	if vf == nil {
		return expand(e.Value, defined), true, nil
	}
	switch {
	case vf.FieldRef != nil:
		v, err := fieldValue(p.pod, vf.FieldRef.FieldPath)
		return v, err == nil, err
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		opt := ref.Optional != nil && *ref.Optional
		data, err := p.secretData(ctx, ref.Name, opt)
		if err != nil {
			return "", false, err
		}
		v, ok := data[ref.Key]
		if !ok && !opt {
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, p.pod.Namespace, ref.Name)
		}
		return string(v), ok, nil
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		opt := ref.Optional != nil && *ref.Optional
		data, err := p.configMapData(ctx, ref.Name, opt)
		if err != nil {
			return "", false, err
		}
		v, ok := data[ref.Key]
		if !ok && !opt {
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, p.pod.Namespace, ref.Name)
		}
		return string(v), ok, nil
	}
	return "", false, fmt.Errorf("env %s: unsupported valueFrom (fieldRef, secretKeyRef and configMapKeyRef are)", e.Name)
}

// expand replaces $(VAR) with defined variables as kubelet does; $$ escapes a dollar and an
// undefined reference stays as written.
func expand(s string, defined map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := defined[name]; ok {
					b.WriteString(v)
				} else {
					b.WriteString(s[i : i+3+end])
				}
				i += 2 + end
				continue
			}
			b.WriteByte('$')
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func homeOf(uid int64) string {
	switch uid {
	case 0:
		return "/root"
	case 65534:
		return "/nonexistent"
	}
	return "/"
}

// etcFiles is the "image's" /etc: root and nobody, loopback-only name resolution, and a
// CA bundle that trusts the stack's CA as an enterprise mirror image would.
func etcFiles(hostname string, hostCABundle, stackCA []byte) []initFile {
	ca := string(hostCABundle)
	if ca != "" && !strings.HasSuffix(ca, "\n") {
		ca += "\n"
	}
	ca += string(stackCA)
	return []initFile{
		{Path: "/etc/passwd", Mode: 0o644, Content: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
		{Path: "/etc/group", Mode: 0o644, Content: "root:x:0:\nnobody:x:65534:\n"},
		{Path: "/etc/hosts", Mode: 0o644, Content: "127.0.0.1\tlocalhost " + hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
		{Path: "/etc/hostname", Mode: 0o644, Content: hostname + "\n"},
		// No resolver is reachable: a lookup fails fast on loopback instead of leaving the host.
		{Path: "/etc/resolv.conf", Mode: 0o644, Content: "nameserver 127.0.0.1\noptions ndots:1 timeout:1 attempts:1\n"},
		{Path: "/etc/nsswitch.conf", Mode: 0o644, Content: "passwd: files\ngroup: files\nhosts: files dns\n"},
		{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Content: ca},
	}
}
