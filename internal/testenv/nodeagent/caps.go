package nodeagent

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// capNames are the Linux capability numbers by name (without CAP_).
var capNames = map[string]int{
	"CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
	"SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10, "NET_BROADCAST": 11,
	"NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15, "SYS_MODULE": 16, "SYS_RAWIO": 17,
	"SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20, "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23,
	"SYS_RESOURCE": 24, "SYS_TIME": 25, "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29,
	"AUDIT_CONTROL": 30, "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
	"BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
}

// defaultCaps is containerd's default set for a container.
var defaultCaps = []string{"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
	"SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}

// capabilities is the bounding set the command runs with: the runtime default plus add minus
// drop ("ALL" allowed in both), everything when privileged. It only matters for a root
// command; a non-root one has none after setuid anyway.
func capabilities(sc *corev1.SecurityContext) []int {
	keep := map[int]bool{}
	set := func(name string, on bool) {
		name = strings.TrimPrefix(strings.ToUpper(name), "CAP_")
		if name == "ALL" {
			for _, n := range capNames {
				keep[n] = on
			}
		} else if n, ok := capNames[name]; ok {
			keep[n] = on
		}
	}
	if sc != nil && sc.Privileged != nil && *sc.Privileged {
		set("ALL", true)
	} else {
		for _, c := range defaultCaps {
			set(c, true)
		}
		if sc != nil && sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Drop {
				set(string(c), false)
			}
			for _, c := range sc.Capabilities.Add {
				set(string(c), true)
			}
		}
	}
	var out []int
	for n := 0; n <= 40; n++ {
		if keep[n] {
			out = append(out, n)
		}
	}
	return out
}
