package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// accSession is a session of role (assumed from the platform's keys with the stack's
// external ID), for reading EKS through the emulator's signed API and minting tokens.
func accSession(t *testing.T, role, session string) *cloud.Session {
	t.Helper()
	a := accStack.AWSConfig
	f := cloud.NewFactory(cloud.Config{Region: a.Region, AccessKey: a.AccessKeyID, SecretKey: a.SecretKey,
		Endpoints: cloud.Endpoints{STS: accStack.AWSEndpoint, CloudFormation: accStack.AWSEndpoint, EKS: accStack.AWSEndpoint}})
	sess, err := f.Session(context.Background(), cloud.Target{RoleARN: role, ExternalID: a.ExternalID, SessionName: session})
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// whoAmI is the identity the local kube-apiserver (through the EKS token webhook) gives a
// token of sess for cluster.
func whoAmI(ctx context.Context, sess *cloud.Session, cluster string) (authv1.UserInfo, error) {
	tok, err := sess.TokenSource(cluster, nil).Token(ctx)
	if err != nil {
		return authv1.UserInfo{}, err
	}
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: accStack.Host, BearerToken: tok, TLSClientConfig: rest.TLSClientConfig{CAData: []byte(accStack.CAPEM)}})
	if err != nil {
		return authv1.UserInfo{}, err
	}
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return authv1.UserInfo{}, err
	}
	return r.Status.UserInfo, nil
}

// TestAccEKSCluster_AccessEntries: a new cluster in the default API mode. Through the
// emulator's signed EKS API, the stack made an EC2_LINUX access entry for the node role and
// one with AmazonEKSClusterAdminPolicy (cluster scope) for the provisioning role, and EKS
// made none for the creator; the provider bootstrapped through that entry, wrote nothing to
// aws-auth, and a token of the node role is a node to the API server. Going back to
// API_AND_CONFIG_MAP is refused at plan time; destroy removes the entries with the stack.
func TestAccEKSCluster_AccessEntries(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	name := "ck-acc-entries"
	owner := "eks_cluster/us-east-1/" + name
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	role := accStack.AWSConfig.RoleARN
	sess := accSession(t, role, "acc-entries")
	var nodeRole, stackID string
	noAWSAuthOfOurs := func() error {
		cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "aws-auth", metav1.GetOptions{})
		if err == nil && cm.Annotations[kube.AnnotationOwner] == owner {
			return fmt.Errorf("kube-system/aws-auth was created by %s", owner)
		}
		roles, err := kube.NewClientForInterface(cs).FindRoleMappings(ctx)
		if err != nil {
			return err
		}
		for _, r := range roles {
			if r.RoleARN == nodeRole {
				return fmt.Errorf("aws-auth maps the node role %s", nodeRole)
			}
		}
		return nil
	}
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if info, ok := accStack.AWS.Stack(name); !ok || info.Status != "DELETE_COMPLETE" {
				return fmt.Errorf("stack after destroy: %s", info.Status)
			}
			_, err := sess.EKS.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(name)})
			var nf *ekstypes.ResourceNotFoundException
			if !errors.As(err, &nf) {
				return fmt.Errorf("ListAccessEntries after destroy: %v, want ResourceNotFoundException", err)
			}
			events, err := sess.StackEvents(ctx, stackID, "")
			if err != nil {
				return err
			}
			var gone []string
			for _, e := range events {
				if e.Status == "DELETE_COMPLETE" && (e.LogicalID == cloud.NodeAccessEntryLogicalID || e.LogicalID == cloud.AdminAccessEntryLogicalID) {
					gone = append(gone, e.LogicalID)
				}
			}
			if slices.Sort(gone); !slices.Equal(gone, []string{cloud.AdminAccessEntryLogicalID, cloud.NodeAccessEntryLogicalID}) {
				return fmt.Errorf("access entries deleted with the stack: %q", gone)
			}
			return noAWSAuthOfOurs()
		},
		Steps: []resource.TestStep{
			{
				ConfigDirectory: eksConfig,
				ConfigVariables: eksVars(name, nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("authentication_mode"), knownvalue.StringExact("API")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("CREATE_COMPLETE")),
					// DescribeCluster's identity.oidc.issuer (for IRSA).
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("oidc_issuer_url"), knownvalue.StringRegexp(regexp.MustCompile(`^https://oidc\.eks\.us-east-1\.amazonaws\.com/id/[0-9A-F]{32}$`))),
				},
				Check: func(st *terraform.State) error {
					nodeRole = st.RootModule().Resources[eksAddr].Primary.Attributes["node_instance_role_arn"]
					stackID = st.RootModule().Resources[eksAddr].Primary.Attributes["stack_id"]
					dc, err := sess.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
					if err != nil {
						return err
					}
					if ac := dc.Cluster.AccessConfig; ac == nil || ac.AuthenticationMode != ekstypes.AuthenticationModeApi || aws.ToBool(ac.BootstrapClusterCreatorAdminPermissions) {
						return fmt.Errorf("accessConfig %+v, want API without the creator bootstrap", ac)
					}
					list, err := sess.EKS.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(name)})
					if err != nil {
						return err
					}
					want := []string{nodeRole, role}
					slices.Sort(want)
					if got := slices.Sorted(slices.Values(list.AccessEntries)); !slices.Equal(got, want) {
						return fmt.Errorf("access entries %q, want %q", got, want)
					}
					ne, err := sess.EKS.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(name), PrincipalArn: aws.String(nodeRole)})
					if err != nil {
						return err
					}
					if aws.ToString(ne.AccessEntry.Type) != "EC2_LINUX" {
						return fmt.Errorf("node entry type %s", aws.ToString(ne.AccessEntry.Type))
					}
					pols, err := sess.EKS.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(name), PrincipalArn: aws.String(role)})
					if err != nil {
						return err
					}
					if p := pols.AssociatedAccessPolicies; len(p) != 1 || aws.ToString(p[0].PolicyArn) != cloud.ClusterAdminPolicyARN || p[0].AccessScope.Type != ekstypes.AccessScopeTypeCluster {
						return fmt.Errorf("provisioning role's policies %+v", p)
					}
					// The bootstrap ran through the role's access entry.
					if err := expectServiceAccount(cs, "kube-system", "clusterkit", owner); err != nil {
						return err
					}
					if err := noAWSAuthOfOurs(); err != nil {
						return err
					}
					// A node's credentials (the node role) authenticate as a node, by access entry.
					accStack.AWS.AddRole(awsemu.Role{ARN: nodeRole, TrustedAccounts: []string{accStack.AWSConfig.PlatformAccount}, ExternalID: accStack.AWSConfig.ExternalID})
					u, err := whoAmI(ctx, accSession(t, nodeRole, "i-0123456789abcdef0"), name)
					if err != nil {
						return fmt.Errorf("node role token: %w", err)
					}
					if u.Username != "system:node:ip-10-0-0-1.ec2.internal" || !slices.Contains(u.Groups, "system:nodes") {
						return fmt.Errorf("node role is %q %q, want a node", u.Username, u.Groups)
					}
					return nil
				},
			},
			{
				ConfigDirectory: eksConfig,
				ConfigVariables: eksVars(name, config.Variables{"authentication_mode": config.StringVariable("API_AND_CONFIG_MAP")}),
				ExpectError:     regexp.MustCompile(`(?s)Authentication mode cannot go back.*from API to\s+API_AND_CONFIG_MAP`),
			},
		},
	}))
}

// TestAccEKSCluster_AuthenticationModeSteps: a cluster made in CONFIG_MAP mode (the node
// role in aws-auth, no access entries) moves in place to API_AND_CONFIG_MAP (the stack adds
// the nodes' entry; EKS's creator entry appears) and then to API, each a stack update of the
// same stack, and keeps being reachable by the provider.
func TestAccEKSCluster_AuthenticationModeSteps(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	ctx := context.Background()
	name := "ck-acc-modes"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	role := accStack.AWSConfig.RoleARN
	sess := accSession(t, role, "acc-modes")
	var nodeRole, stackID string
	entries := func() ([]string, error) {
		out, err := sess.EKS.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(name)})
		if err != nil {
			return nil, err
		}
		return slices.Sorted(slices.Values(out.AccessEntries)), nil
	}
	mode := func(m string) config.Variables {
		return eksVars(name, config.Variables{"authentication_mode": config.StringVariable(m)})
	}
	sameStack := func(st *terraform.State) error {
		if id := st.RootModule().Resources[eksAddr].Primary.Attributes["stack_id"]; id != stackID {
			return fmt.Errorf("stack %s, want the first one %s", id, stackID)
		}
		return nil
	}
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if info, ok := accStack.AWS.Stack(name); !ok || info.Status != "DELETE_COMPLETE" {
				return fmt.Errorf("stack after destroy: %s", info.Status)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				ConfigDirectory: eksConfig,
				ConfigVariables: mode("CONFIG_MAP"),
				Check: func(st *terraform.State) error {
					nodeRole = st.RootModule().Resources[eksAddr].Primary.Attributes["node_instance_role_arn"]
					stackID = st.RootModule().Resources[eksAddr].Primary.Attributes["stack_id"]
					if _, err := entries(); err == nil {
						return errors.New("ListAccessEntries answers in CONFIG_MAP mode")
					}
					roles, err := kube.NewClientForInterface(cs).FindRoleMappings(ctx)
					if err != nil {
						return err
					}
					if !slices.ContainsFunc(roles, func(r kube.RoleMapping) bool { return r.RoleARN == nodeRole }) {
						return fmt.Errorf("aws-auth %+v lacks the node role %s", roles, nodeRole)
					}
					return nil
				},
			},
			{
				ConfigDirectory: eksConfig,
				ConfigVariables: mode("API_AND_CONFIG_MAP"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("UPDATE_COMPLETE")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("authentication_mode"), knownvalue.StringExact("API_AND_CONFIG_MAP")),
				},
				Check: func(st *terraform.State) error {
					if err := sameStack(st); err != nil {
						return err
					}
					got, err := entries()
					want := slices.Sorted(slices.Values([]string{nodeRole, role}))
					if err != nil || !slices.Equal(got, want) {
						return fmt.Errorf("access entries %q %v, want %q (the nodes' and EKS's creator entry)", got, err, want)
					}
					return nil
				},
			},
			{
				ConfigDirectory: eksConfig,
				ConfigVariables: mode("API"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("authentication_mode"), knownvalue.StringExact("API")),
				},
				Check: func(st *terraform.State) error {
					if err := sameStack(st); err != nil {
						return err
					}
					dc, err := sess.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
					if err != nil {
						return err
					}
					if ac := dc.Cluster.AccessConfig; ac.AuthenticationMode != ekstypes.AuthenticationModeApi || !aws.ToBool(ac.BootstrapClusterCreatorAdminPermissions) {
						return fmt.Errorf("accessConfig %+v, want API with the creator bootstrap it was made with", ac)
					}
					// Still reachable: the bootstrap ran again through the creator's entry.
					return expectServiceAccount(cs, "kube-system", "clusterkit", "eks_cluster/us-east-1/"+name)
				},
			},
		},
	}))
}
