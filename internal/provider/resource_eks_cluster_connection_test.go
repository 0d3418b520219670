package provider

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/awsemu"
)

// tokenTrap is an HTTPS server a configuration could point a cluster_connection at: it
// records every request and the kind of credential it carried.
type tokenTrap struct {
	srv   *httptest.Server
	caPEM string
	mu    sync.Mutex
	seen  []string // "<method> <path> <credential kind>"
}

func newTokenTrap(t *testing.T) *tokenTrap {
	t.Helper()
	tr := &tokenTrap{}
	tr.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "no credential"
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer k8s-aws-v1.") {
			kind = "an EKS token"
		} else if a != "" {
			kind = "another credential"
		}
		tr.mu.Lock()
		tr.seen = append(tr.seen, r.Method+" "+r.URL.Path+" with "+kind)
		tr.mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(tr.srv.Close)
	tr.caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tr.srv.Certificate().Raw}))
	return tr
}

func (tr *tokenTrap) requests() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.seen...)
}

// TestAccEKSCluster_ConnectionHostFromEKS: on the EKS path the provider mints an admin
// token, so where it sends it must come from EKS, not from the configuration. A
// cluster_connection whose host (and CA) a configuration replaced with another HTTPS
// server is refused before any token is minted, and so is one with another CA; the
// unchanged connection works.
func TestAccEKSCluster_ConnectionHostFromEKS(t *testing.T) {
	s := stackFromEnv(t)
	name := "ck-acc-elsewhere"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 10 * time.Millisecond})
	trap := newTokenTrap(t)
	// Checked however the steps end.
	t.Cleanup(func() {
		if seen := trap.requests(); len(seen) != 0 {
			t.Errorf("the server the configuration chose got %d requests, the first %s", len(seen), seen[0])
		}
	})
	vars := func(host, ca string) config.Variables {
		extra := config.Variables{}
		if host != "" {
			extra["host_override"] = config.StringVariable(host)
		}
		if ca != "" {
			extra["ca_override"] = config.StringVariable(ca)
		}
		return eksVars(name, extra)
	}
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []resource.TestStep{
			{
				ConfigDirectory: config.TestNameDirectory(),
				ConfigVariables: vars(trap.srv.URL, trap.caPEM),
				ExpectError: regexp.MustCompile(`(?s)cluster_connection.host does not match the EKS cluster.*` +
					regexp.QuoteMeta(trap.srv.URL) + `.*but EKS reports.*` + regexp.QuoteMeta(s.Host) +
					`.*for\s+cluster\s+ck-acc-elsewhere.*no\s+token\s+was\s+sent`),
			},
			{
				ConfigDirectory: config.TestNameDirectory(),
				ConfigVariables: vars("", trap.caPEM),
				ExpectError:     regexp.MustCompile(`(?s)cluster_connection.cluster_ca_certificate does not match the EKS cluster.*ck-acc-elsewhere`),
			},
			{
				ConfigDirectory: config.TestNameDirectory(),
				ConfigVariables: vars("", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("host"), knownvalue.StringExact(s.Host)),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("id"), knownvalue.StringExact("kube-system/ck-elsewhere-integration@"+s.Host)),
				},
				Check: func(*terraform.State) error {
					return expectServiceAccount(s.adminClientset(t), "kube-system", "ck-elsewhere-integration", "cluster_integration/kube-system/ck-elsewhere-integration")
				},
			},
		},
	}))
}

// TestAccEKSCluster_CreateTimeoutStopsDependents: a create that stops waiting keeps its
// stack ID (the resource is not tainted; the next apply resumes), and a resource that takes
// its cluster_connection in the same apply fails saying exactly that, naming the stack and
// its status, instead of complaining about a missing setting. The next apply resumes the
// same stack and creates the dependent.
func TestAccEKSCluster_CreateTimeoutStopsDependents(t *testing.T) {
	s := stackFromEnv(t)
	name := "ck-acc-early"
	accStack.AWS.SetStackScript(name, awsemu.StackScript{StepDelay: 300 * time.Millisecond})
	before := countCalls("CreateStack", name)
	resource.Test(t, withProviderPerStep(resource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		Steps: []resource.TestStep{
			{
				ConfigDirectory: config.TestNameDirectory(),
				ConfigVariables: eksVars(name, config.Variables{"create_timeout": config.StringVariable("3s")}),
				ExpectError: regexp.MustCompile(`(?s)EKS cluster ck-acc-early is not ready.*cluster_connection.*` +
					`stopped\s+waiting.*stack\s+ck-acc-early\s+is\s+CREATE_IN_PROGRESS.*apply\s+again.*resumes\s+waiting\s+on\s+the\s+same\s+stack`),
			},
			{
				ConfigDirectory: config.TestNameDirectory(),
				ConfigVariables: eksVars(name, nil),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						// Not tainted, and the stack ID from the first apply is in state.
						plancheck.ExpectResourceAction(eksAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(eksAddr, tfjsonpath.New("stack_id"), knownvalue.StringRegexp(regexp.MustCompile(`^arn:aws:cloudformation:us-east-1:222222222222:stack/ck-acc-early/`))),
						plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionCreate),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("status"), knownvalue.StringExact("CREATE_COMPLETE")),
					statecheck.ExpectKnownValue(eksAddr, tfjsonpath.New("cluster_connection").AtMapKey("host"), knownvalue.StringExact(s.Host)),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("host"), knownvalue.StringExact(s.Host)),
				},
				Check: func(*terraform.State) error {
					if n := countCalls("CreateStack", name) - before; n != 1 {
						return fmt.Errorf("%d CreateStack calls, want exactly 1", n)
					}
					return expectServiceAccount(s.adminClientset(t), "kube-system", "ck-early-integration", "cluster_integration/kube-system/ck-early-integration")
				},
			},
		},
	}))
}
