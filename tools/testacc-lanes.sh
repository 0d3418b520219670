#!/usr/bin/env bash
# tools/testacc-lanes.sh: the acceptance suite (make testacc) in two lanes at once, each test
# binary with its own local stack (TestMain starts one per binary):
#   lane 1: every package under OpenTofu, less LANE2_TESTS (GNUmakefile);
#   lane 2 (lines prefixed "[lane 2]"): LANE2_TESTS under OpenTofu (the fault tests, which stop
#           and start their stack's API server and so keep a stack to themselves, and the long
#           helm-option tests), then the Terraform run.
# The lanes mostly wait on pods, helm and timers (one used about half a core), so on 2 cores
# together they take about as long as the longer lane. Exits 1 when either lane failed, after
# both finished; each run closes with its own "LABEL: N passed, ..." line.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
make=${MAKE:-make}
mkdir -p .test
rm -f .test/*.summary
(
  status=0
  "$make" --no-print-directory testacc-faults || status=1
  "$make" --no-print-directory testacc-terraform || status=1
  exit "$status"
) > >(sed -u 's/^/[lane 2] /') 2>&1 &
lane2=$!
status=0
"$make" --no-print-directory testacc-tofu-main || status=1
wait "$lane2" || status=1
# Let the prefixing sed print lane 2's last lines before the verdict.
sleep 1
# Every run's counts (and failed tests) once more, together: a log's tail then says which
# run failed, whichever lane finished last.
echo "::: acceptance runs:"
cat .test/testacc-tofu.summary .test/testacc-tofu-faults.summary .test/testacc-terraform.summary 2>/dev/null
exit "$status"
