package provider

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/chartsrc"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/testenv/faultproxy"
)

// retryAfterRespected checks, for every request the proxy answered with 429, that the
// client asked again (same verb, path and query) and no sooner than Retry-After.
func retryAfterRespected(log []faultproxy.Request, retryAfter time.Duration) error {
	var errs []error
	for i, r := range log {
		if r.Fault != "respond" || r.Status != http.StatusTooManyRequests {
			continue
		}
		next := -1
		for j := i + 1; j < len(log); j++ {
			if log[j].Method == r.Method && log[j].Path == r.Path && log[j].Query == r.Query {
				next = j
				break
			}
		}
		switch {
		case next < 0:
			errs = append(errs, fmt.Errorf("%s %s got 429 and was never asked again", r.Method, r.Path))
		case log[next].Received.Sub(r.Answered) < retryAfter:
			errs = append(errs, fmt.Errorf("%s %s asked again %s after a 429 with Retry-After %s",
				r.Method, r.Path, log[next].Received.Sub(r.Answered), retryAfter))
		}
	}
	return errors.Join(errs...)
}

// TestAccManagedApp_FaultRefreshUnder429: a refresh of many apps while the API server
// answers a burst of their release reads with 429 Too Many Requests (Retry-After 1 s)
// completes with nothing to change, every throttled read asked again only after the
// server's Retry-After.
func TestAccManagedApp_FaultRefreshUnder429(t *testing.T) {
	s := stackFromEnv(t)
	cs := s.adminClientset(t)
	p := accStack.FaultProxy()
	if p == nil {
		t.Fatal("the stack has no fault proxy (testenv.Options.FaultProxy)")
	}
	t.Cleanup(p.Clear)
	const apps, prefix = 6, "ck-fault-rl"
	names := make([]string, apps)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", prefix, i)
		deleteNamespaceAtEnd(t, cs, names[i])
	}
	vars := managedAppVars(t, s, config.Variables{"prefix": config.StringVariable(prefix), "apps": config.IntegerVariable(apps)})
	vars["host"] = config.StringVariable(accStack.ProxyHost)
	dir := config.StaticDirectory("testdata/TestAccManagedApp_FaultRefreshUnder429")
	// Three 429s per app's release read: each read is throttled about three times over.
	const burst = 3 * apps
	var rule *faultproxy.Rule
	var start time.Time
	var logFrom int
	tfresource.Test(t, withProviderPerStep(tfresource.TestCase{
		PreCheck: func() { testAccPreCheck(t) },
		CheckDestroy: func(*terraform.State) error {
			var errs []error
			for _, n := range names {
				errs = append(errs, expectChartGone(cs, n, n))
			}
			return errors.Join(errs...)
		},
		Steps: []tfresource.TestStep{
			{
				ConfigDirectory: dir,
				ConfigVariables: vars,
				Check: func(*terraform.State) error {
					var errs []error
					for _, n := range names {
						errs = append(errs, expectRelease(cs, n, n, 1, kube.ReleaseDeployed, chartsrc.DemoVersion))
					}
					return errors.Join(errs...)
				},
			},
			{
				// The refresh (plan) under the burst: it must complete and find no change.
				PreConfig: func() {
					logFrom, start = len(p.Requests()), time.Now()
					rule = p.Respond(faultproxy.All(faultproxy.Method(http.MethodGet), faultproxy.PathContains("/secrets")), burst, http.StatusTooManyRequests, time.Second)
				},
				ConfigDirectory: dir,
				ConfigVariables: vars,
				PlanOnly:        true,
			},
			{
				// Same configuration again: checks what the refresh above went through.
				PreConfig: func() {
					log := p.Requests()[logFrom:]
					var errs []error
					if rule.Hits() != burst {
						errs = append(errs, fmt.Errorf("%d requests got 429, want the whole burst of %d", rule.Hits(), burst))
					}
					errs = append(errs, retryAfterRespected(log, time.Second))
					err := errors.Join(errs...)
					outcome := "pass"
					if err != nil {
						outcome = "FAIL: " + err.Error()
					}
					t.Logf("fault table | 429 burst x%d (Retry-After 1 s) | refresh of %d apps | %s | %s (%d requests)",
						burst, apps, outcome, time.Since(start).Round(100*time.Millisecond), len(log))
					if err != nil {
						t.Error(err)
					}
					rule.Remove()
				},
				ConfigDirectory: dir,
				ConfigVariables: vars,
				PlanOnly:        true,
			},
		},
	}))
}
