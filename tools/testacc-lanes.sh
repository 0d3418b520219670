#!/usr/bin/env bash
# tools/testacc-lanes.sh: the acceptance suite (make testacc) in three lanes at once, each test
# binary with its own local stack (TestMain starts one per binary); the GNUmakefile says which
# tests each lane runs:
#   lane 1: OpenTofu, every package less lanes 2 and 3 (testacc-tofu-main), then Terraform's
#           share of the Terraform run (testacc-terraform-1);
#   lane 2 (lines prefixed "[lane 2]"): the fault tests, which stop and start their stack's API
#           server and so keep a stack to themselves, and the long helm-option tests
#           (testacc-faults);
#   lane 3 (lines prefixed "[lane 3]"): the provider's managed-app and auth tests under
#           OpenTofu (testacc-tofu-apps), then the same group's share of the Terraform run
#           (testacc-terraform-3).
# The lanes mostly wait on pods, helm and timers, so on 2 cores together they take about as
# long as the longest lane. Exits 1 when any lane failed, after all finished; each run closes
# with its own "LABEL: N passed, ..." line, and all of them are printed again at the end.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
make=${MAKE:-make}
mkdir -p .test
rm -f .test/*.summary
lane() { # lane N TARGET...: the targets one after another, lines prefixed, exit 1 if any failed
  local n=$1 status=0 target
  shift
  for target in "$@"; do
    "$make" --no-print-directory "$target" || status=1
  done > >(sed -u "s/^/[lane $n] /") 2>&1
  return "$status"
}
lane 2 testacc-faults &
lane2=$!
lane 3 testacc-tofu-apps testacc-terraform-3 &
lane3=$!
status=0
"$make" --no-print-directory testacc-tofu-main || status=1
"$make" --no-print-directory testacc-terraform-1 || status=1
wait "$lane2" || status=1
wait "$lane3" || status=1
# Let the prefixing seds print the lanes' last lines before the verdict.
sleep 1
# Every run's counts (and failed tests) once more, together: a log's tail then says which
# run failed, whichever lane finished last.
echo "::: acceptance runs:"
for label in tofu tofu-faults tofu-apps terraform terraform-apps; do
  cat ".test/testacc-$label.summary" 2>/dev/null || echo "$label: no summary (the run did not finish)"
done
exit "$status"
