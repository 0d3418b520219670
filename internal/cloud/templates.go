package cloud

import (
	_ "embed"
	"fmt"
	"regexp"
)

//go:embed templates/eks-cluster.yaml
var eksClusterTemplate string

// EKSClusterTemplate returns the embedded CloudFormation template that creates an EKS
// cluster (logical ID EKSCluster) and its worker nodes: a self-managed Auto Scaling group
// with a launch template, the node instance role (logical ID NodeInstanceRole) and the
// node security group. It is linted by cfn-lint (tools/pytools/cfn-lint.sh) and deployed
// as is.
func EKSClusterTemplate() string { return eksClusterTemplate }

// EKSClusterTemplateParameters are the parameter names of EKSClusterTemplate, in template
// order. Every one without a default must be passed to CreateStack:
//
//   - ClusterName: EKS cluster name.
//   - ClusterRoleArn: the existing EKS cluster service role.
//   - KubernetesVersion: "1.N" (default 1.35).
//   - VpcId, SubnetIds (comma-separated), ControlPlaneSecurityGroupId: existing network.
//   - ServiceIpv4Cidr: Kubernetes service CIDR (default 172.20.0.0/16).
//   - NodeInstanceType (default t3.medium), NodeCount (1..100, default 3),
//     NodeVolumeSize (GiB, >= 8, default 20), KeyName (optional, default none).
//   - NodeImageId: an SSM parameter path holding the node AMI ID; pass
//     NodeAMIParameter(KubernetesVersion).
//   - EndpointPublicAccess ("true", the default), EndpointPrivateAccess ("false"),
//     PublicAccessCidrs (comma-separated, default 0.0.0.0/0; used only with public access).
//   - LogApi, LogAudit, LogAuthenticator, LogControllerManager, LogScheduler: "true" exports
//     that control-plane log type to CloudWatch Logs (default "false"); see LogTypeParameters.
//   - SecretsKmsKeyArn: a KMS key ARN for secrets encryption, or "" (default) for none.
//   - IpFamily: ipv4 (default) or ipv6; ServiceIpv4Cidr is ignored with ipv6.
//   - AuthenticationMode: API, API_AND_CONFIG_MAP (default, what the first templates
//     hard-coded) or CONFIG_MAP; ClusterAdminRoleArn: the role given an admin access entry
//     instead of EKS's creator entry, "" (default) for the creator entry. See
//     ClusterAuthentication.
//
// The parameters from EndpointPublicAccess on came later: EKSClusterTemplateDefaults holds
// their defaults, and a user template that does not declare one of them is not passed it.
var EKSClusterTemplateParameters = []string{
	"ClusterName",
	"ClusterRoleArn",
	"KubernetesVersion",
	"VpcId",
	"SubnetIds",
	"ControlPlaneSecurityGroupId",
	"ServiceIpv4Cidr",
	"NodeInstanceType",
	"NodeCount",
	"NodeVolumeSize",
	"KeyName",
	"NodeImageId",
	"EndpointPublicAccess",
	"EndpointPrivateAccess",
	"PublicAccessCidrs",
	"LogApi",
	"LogAudit",
	"LogAuthenticator",
	"LogControllerManager",
	"LogScheduler",
	"SecretsKmsKeyArn",
	"IpFamily",
	"AuthenticationMode",
	"ClusterAdminRoleArn",
}

// EKSClusterTemplateDefaults are the template's defaults of the parameters added after the
// first release (what a stack made from an older template, or a user template without
// them, behaves as: the EKS defaults).
var EKSClusterTemplateDefaults = map[string]string{
	"EndpointPublicAccess":  "true",
	"EndpointPrivateAccess": "false",
	"PublicAccessCidrs":     "0.0.0.0/0",
	"LogApi":                "false",
	"LogAudit":              "false",
	"LogAuthenticator":      "false",
	"LogControllerManager":  "false",
	"LogScheduler":          "false",
	"SecretsKmsKeyArn":      "",
	"IpFamily":              "ipv4",
	"AuthenticationMode":    AuthModeAPIAndConfigMap,
	"ClusterAdminRoleArn":   "",
}

// LogTypeParameters maps each EKS control-plane log type to the template parameter that
// turns it on. The keys are all the log types EKS has.
var LogTypeParameters = map[string]string{
	"api":               "LogApi",
	"audit":             "LogAudit",
	"authenticator":     "LogAuthenticator",
	"controllerManager": "LogControllerManager",
	"scheduler":         "LogScheduler",
}

// Logical IDs and output keys of EKSClusterTemplate that the provider relies on.
const (
	EKSClusterLogicalID       = "EKSCluster"
	NodeInstanceRoleLogicalID = "NodeInstanceRole"
	NodeAccessEntryLogicalID  = "NodeAccessEntry"
	AdminAccessEntryLogicalID = "AdminAccessEntry"

	OutputClusterName         = "ClusterName"
	OutputClusterArn          = "ClusterArn"
	OutputClusterEndpoint     = "ClusterEndpoint"
	OutputNodeInstanceRoleArn = "NodeInstanceRoleArn"
	OutputNodeSecurityGroupID = "NodeSecurityGroupId"
)

// kubernetesVersionRE is stricter than the template's AllowedPattern (^1\.\d+$): no
// leading zeros, so that "1.033" cannot name an SSM path that does not exist.
var kubernetesVersionRE = regexp.MustCompile(`^1\.(0|[1-9][0-9]{0,2})$`)

// InvalidKubernetesVersionError reports a Kubernetes version that is not of the form 1.N.
type InvalidKubernetesVersionError struct {
	Version string
}

func (e *InvalidKubernetesVersionError) Error() string {
	return fmt.Sprintf("invalid Kubernetes version %q: expected a minor version such as 1.35", e.Version)
}

// NodeAMIParameter returns the public SSM parameter path that holds the recommended
// EKS-optimized Amazon Linux 2023 (x86_64, standard) AMI ID for kubernetesVersion ("1.N"),
// the value to pass as the template's NodeImageId parameter. It returns an
// *InvalidKubernetesVersionError for anything else. It checks the form only, so that a
// stack imported on a version older than the release calendar (EKSVersion) still gets
// its parameter; which versions a new configuration may use is the calendar's business,
// checked at plan time.
func NodeAMIParameter(kubernetesVersion string) (string, error) {
	if !kubernetesVersionRE.MatchString(kubernetesVersion) {
		return "", &InvalidKubernetesVersionError{Version: kubernetesVersion}
	}
	return "/aws/service/eks/optimized-ami/" + kubernetesVersion + "/amazon-linux-2023/x86_64/standard/recommended/image_id", nil
}
