// Package nodeagent runs the helm installer pods of the local test stack as real processes,
// the way a kubelet would: it watches the pods bound to the stack's one node, takes those
// whose image is a helm installer image (Owns), and runs the container's command in private
// mount, pid, UTS and IPC namespaces on a fresh tmpfs root with the pod's volumes, service
// account token, user and groups, writing the pod status as a kubelet does. Every other pod on
// the node stays with kwok, whose pod stages exclude the owned ones (KwokNotOwnedKey).
//
// Why client-go informers beside kwok rather than virtual-kubelet: virtual-kubelet's node and
// pod controllers own a whole node (its Node object, leases and every pod bound to it), so it
// would either replace kwok (and we would re-implement the fake pods kwok already drives from
// stages) or need a second node plus scheduling rules to steer install pods there. Here there
// is one node: kwok keeps its status and heartbeats and fakes the charts' workloads, the agent
// needs only a pod informer filtered to the node plus a status writer, and the split is one
// ownership rule shared by both sides. It also adds no dependency with its own Kubernetes
// version pins to go.mod.
//
// Container init: the agent re-executes its own binary (/proc/self/exe with argv[0] InitArg0)
// in new namespaces; that init builds the root, pivots into it, drops to the pod's user and
// execs the command, which is therefore PID 1 of its pid namespace, as in a container. The
// binary must call Main early (package init does it), so any binary that imports this package
// can serve as agent and init.
//
// How far a container matches a runtime's:
//   - The root is a fresh tmpfs with the host's /usr, /bin, /lib, /lib64 and /sbin bound
//     read-only (merged-usr symlinks kept), a minimal /etc, /proc of the pod's pid namespace,
//     a minimal /dev (null, zero, random, urandom, full, tty, fd links, /dev/shm) and the
//     toolset over /usr/local/bin. Unlike an image, /usr and friends are read-only even
//     without readOnlyRootFilesystem.
//   - readOnlyRootFilesystem remounts the root mount read-only after every other mount, as
//     runc does: volumes (unless readOnly), /dev, /dev/shm, /proc and /dev/termination-log
//     stay writable. /etc/hosts, /etc/hostname and /etc/resolv.conf are files of the root
//     here, so they become read-only too (kubelet bind-mounts them writable).
//   - Users: runAsUser/runAsGroup/fsGroup/supplementalGroups are applied with setgroups,
//     setgid, setuid; capabilities are the runtime default bounding set adjusted by
//     capabilities.add/drop (all when privileged); allowPrivilegeEscalation=false sets
//     no_new_privs. No seccomp, AppArmor or SELinux, no user namespace, no cgroup limits
//     (resources and emptyDir sizeLimit are not enforced), the host's network.
//   - One container per pod, no init or ephemeral containers, run once (restartPolicy
//     Always is refused; OnFailure does not restart). Tokens are requested once, never
//     refreshed. exec/attach/port-forward are not served for the agent's pods.
package nodeagent
