package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// TestAccEKSClusterDataSource_Basic: a cluster that clusterkit_eks_cluster made (the "other
// workspace", step 1) is read by region and name through the customer role; what the data
// source says equals the resource's attributes, and its cluster_connection, passed to a
// clusterkit_cluster_integration, reaches the cluster with EKS tokens. A name EKS does not
// know and a wrong external ID fail the plan with diagnostics in the user's words. Plan,
// state and the DEBUG log hold no credential or token.
func TestAccEKSClusterDataSource_Basic(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	name := "ck-acc-ds"
	const ds = "data.clusterkit_eks_cluster.test"
	owner := "cluster_integration/kube-system/ck-ds-integration"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	logFile := filepath.Join(t.TempDir(), "debug.log")
	t.Setenv("TF_LOG", "DEBUG")
	t.Setenv("TF_LOG_PATH", logFile)
	var stateFiles []string
	readConfig := config.TestNameDirectory()
	same := func(attr string) statecheck.StateCheck {
		return statecheck.CompareValuePairs(ds, tfjsonpath.New(attr), eksAddr, tfjsonpath.New(attr), compare.ValuesSame())
	}
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			if info, _ := accStack.AWS.Stack(name); info.Status != "DELETE_COMPLETE" {
				return fmt.Errorf("stack after destroy: %s", info.Status)
			}
			return expectNothingOwned(cs, owner, "ck-ds-team")
		},
		Steps: []resource.TestStep{
			{
				// The other workspace makes the cluster.
				ConfigDirectory: eksConfig,
				ConfigVariables: eksVars(name, nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("CREATE_COMPLETE")),
				},
			},
			{
				// A name EKS does not know: the plan fails, naming region and name, without
				// AWS's own text.
				ConfigDirectory: readConfig,
				ConfigVariables: eksVars(name, config.Variables{"read_name": config.StringVariable("ck-acc-ds-missing")}),
				ExpectError: cliText("EKS cluster not found", "EKS has no cluster named ck-acc-ds-missing in us-east-1 that the role "+accStack.AWSConfig.RoleARN+
					" can see. Check name and region: the cluster must be in the account of provision_role_arn."),
			},
			{
				// A wrong external ID: the resource's diagnostic.
				ConfigDirectory: readConfig,
				ConfigVariables: eksVars(name, config.Variables{"read_external_id": config.StringVariable("not-the-external-id")}),
				ExpectError:     regexp.MustCompile(`(?s)Cannot assume the provisioning role.*AccessDenied.*external_id`),
			},
			{
				ConfigDirectory: readConfig,
				ConfigVariables: eksVars(name, nil),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						noSecretsInPlanBeyondInputs{},
						plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionNoop),
						plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionCreate),
						// Read at plan time: the integration plans with a known connection.
						plancheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("cluster_connection").AtMapKey("host"), knownvalue.StringExact(s.Host)),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					// Concrete values, as the emulated EKS reports them.
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("id"), knownvalue.StringExact("us-east-1/"+name)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("endpoint"), knownvalue.StringExact(s.Host)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("status"), knownvalue.StringExact("ACTIVE")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("kubernetes_version"), knownvalue.StringExact("1.35")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("platform_version"), knownvalue.StringExact("eks.1")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("cluster_arn"), knownvalue.StringExact("arn:aws:eks:us-east-1:222222222222:cluster/"+name)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("cluster_role_arn"), knownvalue.StringExact("arn:aws:iam::222222222222:role/eks-service")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("oidc_issuer_url"), knownvalue.StringRegexp(regexp.MustCompile(`^https://oidc\.eks\.us-east-1\.amazonaws\.com/id/[0-9A-F]{32}$`))),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("created_at"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`))),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("session_name"), knownvalue.StringExact("clusterkit-"+name)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("subnet_ids"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("subnet-0123456789abcdef0"), knownvalue.StringExact("subnet-0123456789abcdef1")})),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("security_group_ids"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("sg-0123456789abcdef0")})),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("endpoint_public_access"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("endpoint_private_access"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("public_access_cidrs"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("0.0.0.0/0")})),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("enabled_log_types"), knownvalue.SetSizeExact(0)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("secrets_kms_key_arn"), knownvalue.Null()),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("ip_family"), knownvalue.StringExact("ipv4")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("service_ipv4_cidr"), knownvalue.StringExact("172.20.0.0/16")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("service_ipv6_cidr"), knownvalue.Null()),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("tags").AtMapKey("team"), knownvalue.StringExact("platform")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("tags").AtMapKey("clusterkit.dev/resource"), knownvalue.StringExact("us-east-1/"+name)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("cluster_connection").AtMapKey("token"), knownvalue.Null()),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("cluster_connection").AtMapKey("cluster_ca_certificate"), knownvalue.StringExact(s.CAPEM)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("cluster_connection").AtMapKey("eks").AtMapKey("cluster_name"), knownvalue.StringExact(name)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("cluster_connection").AtMapKey("eks").AtMapKey("role_arn"), knownvalue.StringExact(accStack.AWSConfig.RoleARN)),
					statecheck.ExpectSensitiveValue(ds, tfjsonpath.New("external_id")),
					// The resource's own attributes, value for value; cluster_connection whole,
					// so the data source stands in for the resource wherever it is taken.
					same("id"), same("endpoint"), same("certificate_authority_data"), same("cluster_arn"), same("kubernetes_version"),
					same("cluster_role_arn"), same("subnet_ids"), same("endpoint_public_access"), same("endpoint_private_access"),
					same("public_access_cidrs"), same("enabled_log_types"), same("secrets_kms_key_arn"), same("ip_family"),
					same("service_ipv4_cidr"), same("session_name"), same("region"), same("cluster_connection"),
					// The integration through the data source's connection: EKS tokens, none stored.
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("host"), knownvalue.StringExact(s.Host)),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("token"), knownvalue.Null()),
					statecheck.CompareValuePairs(integrationAddr, tfjsonpath.New("cluster_connection"), ds, tfjsonpath.New("cluster_connection"), compare.ValuesSame()),
				},
				Check: resource.ComposeTestCheckFunc(noTemporaryCredentials, func(st *terraform.State) error {
					b, err := json.Marshal(st)
					if err != nil {
						return err
					}
					stateFiles = append(stateFiles, string(b))
					if err := expectServiceAccount(cs, "kube-system", "ck-ds-integration", owner); err != nil {
						return err
					}
					return expectRestrictedNamespace(cs, "ck-ds-team", "edit", owner, nil)
				}),
			},
		},
	}))

	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Reading the EKS cluster") {
		t.Fatal("the DEBUG log does not show the data source's read: the scan would prove nothing")
	}
	if m := secretPatterns.Find(b); m != nil {
		t.Fatalf("the DEBUG log holds a credential or token (%.12s…)", m)
	}
	issued := accStack.AWS.IssuedSecrets()
	if len(issued) < 2 {
		t.Fatalf("the emulator issued %d secrets; the scan would prove nothing", len(issued))
	}
	if len(stateFiles) != 1 {
		t.Fatalf("%d states scanned, want 1", len(stateFiles))
	}
	for _, secret := range append(issued, accStack.AWSConfig.SecretKey) {
		if strings.Contains(string(b), secret) {
			t.Fatalf("the DEBUG log holds a secret (%.8s…)", secret)
		}
		if strings.Contains(stateFiles[0], secret) {
			t.Fatalf("the state holds a secret (%.8s…)", secret)
		}
	}
}

// noSecretsInPlanBeyondInputs is noSecretsInPlan on what the plan says besides the root
// module's variables: those are the test's own inputs, the platform's secret key among them
// (this configuration takes it as a variable, as testdata/eks does).
type noSecretsInPlanBeyondInputs struct{}

func (noSecretsInPlanBeyondInputs) CheckPlan(ctx context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	p := *req.Plan
	if _, ok := p.Variables["secret_key"]; !ok {
		resp.Error = fmt.Errorf("the plan has no variable secret_key: the inputs this check leaves out are not the ones it expects")
		return
	}
	p.Variables = nil
	noSecretsInPlan{}.CheckPlan(ctx, plancheck.CheckPlanRequest{Plan: &p}, resp)
}
