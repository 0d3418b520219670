package nodeagent

import (
	"encoding/json"
	"regexp"

	corev1 "k8s.io/api/core/v1"
)

// HelmImagePattern matches an image reference whose repository's last path segment is
// "helm" (alpine/helm:4.3.2, docker.io/alpine/helm:3.22.0, registry:5000/mirror/helm@sha256:…).
// It is the one ownership rule: Owns uses it, and KwokNotOwnedKey hands the same regex to
// kwok's gojq selector (gojq's test() compiles with Go's regexp, so the syntax is shared).
const HelmImagePattern = `^(?:[^/@]+/)*helm(?::[\w][\w.-]*)?(?:@[\w+.-]+:[[:xdigit:]]+)?$`

var helmImageRE = regexp.MustCompile(HelmImagePattern)

// IsHelmImage reports whether image is a helm installer image.
func IsHelmImage(image string) bool { return helmImageRE.MatchString(image) }

// Owns reports whether the agent runs pod (rather than kwok faking it): any of its
// containers uses a helm installer image.
func Owns(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if IsHelmImage(c.Image) {
			return true
		}
	}
	return false
}

// KwokNotOwnedKey is a kwok stage selector key (a gojq expression) that yields true for the
// pods Owns accepts; kwok stages use it with operator NotIn and values ["true"].
func KwokNotOwnedKey() string {
	lit, _ := json.Marshal(HelmImagePattern) // a JSON string is a valid jq string literal
	return `.spec.containers | map(.image | test(` + string(lit) + `)) | any`
}
