package nodeagent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// materialise writes what the container needs into the pod directory (volumes, the
// termination log, the init's spec); reason is the waiting reason kubelet would show when it
// cannot.
func (w *podWorker) materialise() (reason string, err error) {
	pod := w.pod
	c := pod.Spec.Containers[0]
	if err := os.RemoveAll(filepath.Join(w.dir, "volumes")); err != nil {
		return "ContainerCreating", err
	}
	for _, d := range []string{"volumes", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(w.dir, d), 0o700); err != nil {
			return "ContainerCreating", err
		}
	}
	// The pod directory is the mount source of volumes for a non-root user: traversable.
	if err := os.Chmod(w.dir, 0o711); err != nil {
		return "ContainerCreating", err
	}
	if err := os.Chmod(filepath.Join(w.dir, "volumes"), 0o711); err != nil {
		return "ContainerCreating", err
	}
	uid, gid, groups, fsGroup := identity(pod, &c)
	fsUser := fsUserOf(pod, &c)
	src := podSource{cs: w.a.cs, pod: pod}
	vols := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(w.dir, "volumes", v.Name)
		switch payload, ok, err := src.volumePayload(w.ctx, v, fsUser, fsGroup); {
		case err != nil:
			return "ContainerCreating", fmt.Errorf("MountVolume.SetUp failed for volume %q: %w", v.Name, err)
		case ok:
			if err := writeAtomic(dir, payload, w.a.opts.Clock.Now()); err != nil {
				return "ContainerCreating", err
			}
			if fsGroup != nil {
				if err := setOwnership(dir, *fsGroup, true); err != nil {
					return "ContainerCreating", err
				}
			}
		case v.EmptyDir != nil:
			if err := os.Mkdir(dir, 0o777); err != nil {
				return "ContainerCreating", err
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				return "ContainerCreating", err
			}
			if fsGroup != nil {
				if err := setOwnership(dir, *fsGroup, false); err != nil {
					return "ContainerCreating", err
				}
			}
		default:
			return "ContainerCreating", fmt.Errorf("volume %q: the node agent supports configMap, secret, projected, downwardAPI and emptyDir volumes", v.Name)
		}
		vols[v.Name] = dir
	}
	toolset := w.a.cfg.Toolsets[c.Image]
	mounts := []initMount{{Source: toolset, Target: "/usr/local/bin", ReadOnly: true}}
	for _, m := range c.VolumeMounts {
		src, ok := vols[m.Name]
		if !ok {
			return "CreateContainerConfigError", fmt.Errorf("volume mount %q: no such volume", m.Name)
		}
		if m.SubPath != "" {
			sp := filepath.Clean(m.SubPath)
			if filepath.IsAbs(sp) || sp == ".." || strings.HasPrefix(sp, "../") {
				return "CreateContainerConfigError", fmt.Errorf("volume mount %q: invalid subPath %q", m.Name, m.SubPath)
			}
			src = filepath.Join(src, sp)
		}
		if !filepath.IsAbs(m.MountPath) {
			return "CreateContainerConfigError", fmt.Errorf("volume mount %q: mountPath %q is not absolute", m.Name, m.MountPath)
		}
		mounts = append(mounts, initMount{Source: src, Target: filepath.Clean(m.MountPath), ReadOnly: m.ReadOnly})
	}
	term := filepath.Join(w.dir, "termination-log")
	if err := os.WriteFile(term, nil, 0o666); err != nil {
		return "ContainerCreating", err
	}
	if err := os.Chmod(term, 0o666); err != nil {
		return "ContainerCreating", err
	}
	termPath := c.TerminationMessagePath
	if termPath == "" {
		termPath = "/dev/termination-log"
	}
	mounts = append(mounts, initMount{Source: term, Target: termPath})
	for _, d := range devices {
		if "/dev/"+d == termPath {
			return "CreateContainerConfigError", fmt.Errorf("terminationMessagePath %s is a device", termPath)
		}
	}

	env, err := src.containerEnv(w.ctx, &c, w.a.apiPort, uid)
	if err != nil {
		return "CreateContainerConfigError", err
	}
	defined := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		defined[k] = v
	}
	var args []string
	for _, a := range append(append([]string{}, c.Command...), c.Args...) {
		args = append(args, expand(a, defined))
	}
	if len(c.Command) == 0 {
		return "CreateContainerConfigError", fmt.Errorf("container %q has no command: a helm image has no entrypoint the agent could use", c.Name)
	}
	sc := c.SecurityContext
	noNewPrivs := sc != nil && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	spec := initSpec{
		Root:         filepath.Join(w.dir, "rootfs"),
		Hostname:     pod.Name,
		Files:        etcFiles(pod.Name, w.a.hostCA, w.a.caPEM),
		Mounts:       mounts,
		Args:         args,
		Env:          env,
		Dir:          c.WorkingDir,
		UID:          uint32(uid),
		GID:          uint32(gid),
		Groups:       groups,
		NoNewPrivs:   noNewPrivs,
		ReadOnlyRoot: sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem,
		Caps:         capabilities(sc),
	}
	if pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.RunAsNonRoot != nil && *pod.Spec.SecurityContext.RunAsNonRoot && uid == 0 {
		return "CreateContainerConfigError", fmt.Errorf("container has runAsNonRoot and image will run as root")
	}
	if err := writeJSON(w.specFile(), spec); err != nil {
		return "ContainerCreating", err
	}
	return "", nil
}

// identity is the container's user, primary group and supplementary groups (fsGroup and
// supplementalGroups) as the runtime applies them; the "image" runs as root.
func identity(pod *corev1.Pod, c *corev1.Container) (uid, gid int64, groups []uint32, fsGroup *int64) {
	psc := pod.Spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	csc := c.SecurityContext
	if csc == nil {
		csc = &corev1.SecurityContext{}
	}
	pick := func(container, podLevel *int64) *int64 {
		if container != nil {
			return container
		}
		return podLevel
	}
	if u := pick(csc.RunAsUser, psc.RunAsUser); u != nil {
		uid = *u
	}
	gid = uid // the image's passwd: root is 0:0 and nobody 65534:65534
	if uid != 0 && uid != 65534 {
		gid = 0
	}
	if g := pick(csc.RunAsGroup, psc.RunAsGroup); g != nil {
		gid = *g
	}
	seen := map[int64]bool{gid: true}
	add := func(g int64) {
		if !seen[g] {
			seen[g] = true
			groups = append(groups, uint32(g))
		}
	}
	if psc.FSGroup != nil {
		add(*psc.FSGroup)
	}
	for _, g := range psc.SupplementalGroups {
		add(g)
	}
	return uid, gid, groups, psc.FSGroup
}

// fsUserOf is kubelet's FsUserFrom for this one-container pod: its effective runAsUser.
func fsUserOf(pod *corev1.Pod, c *corev1.Container) *int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		return c.SecurityContext.RunAsUser
	}
	if pod.Spec.SecurityContext != nil {
		return pod.Spec.SecurityContext.RunAsUser
	}
	return nil
}
