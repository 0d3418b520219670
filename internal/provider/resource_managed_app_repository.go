package provider

import "github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"

// repositoryAdvice is what to do about an install pod that could not fetch its chart, in
// the resource's attribute names; ok is false when the failure is not the repository's.
// It leads the diagnostic; helm's own line follows it.
func repositoryAdvice(kind kube.RepositoryFailure) (advice string, ok bool) {
	switch kind {
	case kube.RepositoryFailureAuth:
		return "Authentication to the chart repository or registry failed: it refused the credentials. Check repository_username and " +
			"repository_password (change repository_password_version to send a new password), or the keys username and password of the " +
			"Secret named in repository_credentials_secret (the next apply reads it again).", true
	case kube.RepositoryFailureTLS:
		return "helm does not trust the TLS certificate of the chart repository or registry. If a private CA signed it, give that CA's " +
			"certificate (PEM) in repository_ca_cert.", true
	case kube.RepositoryFailureProvenance:
		return "helm refused the chart's provenance (verify = true): the repository must serve <chart>-<version>.tgz.prov next to the " +
			"chart (an OCI registry: the chart pushed with its .prov file beside it), signed by a key in keyring, with the chart's checksum. " +
			"A missing provenance file, a checksum that does not match " +
			"(the chart changed after it was signed) or a signer whose key is not in keyring fails the install before anything is applied.", true
	}
	return "", false
}
