#!/usr/bin/env bash
# tools/testacc.sh CLI [go test args...]: the acceptance tests (TF_ACC=1) under one CLI, tofu
# or terraform (CLUSTERKIT_TEST_CLI; internal/provider/cli_test.go finds the binary and fails
# when it is missing). The log gets plain go test's lines, one line per acceptance test and
# a closing "CLI: N passed, N failed, N skipped" (tools/testsummary.py); the whole
# `go test -json` stream is kept in .test/testacc-LABEL.json for a closer look. LABEL (default:
# the CLI) names the run when several run at once. The summary's closing lines also go to
# .test/testacc-LABEL.summary, which tools/testacc-lanes.sh prints again at the end.
set -euo pipefail
cli=${1:?usage: tools/testacc.sh tofu|terraform [go test args...]}
shift
cd "$(dirname "$0")/.."
mkdir -p .test
label=${LABEL:-$cli}
json=.test/testacc-$label.json
start=$SECONDS
echo "::: acceptance tests under $cli ($label): go test $*"
# TF_ACC_TERRAFORM_PATH is cleared so that a sourced .stack/env cannot swap the CLI.
status=0
summary=.test/testacc-$label.summary
rm -f "$summary"
CLUSTERKIT_TEST_CLI=$cli TF_ACC_TERRAFORM_PATH='' TF_ACC=1 "${GO:-go}" test -json "$@" | tee "$json" |
  python3 tools/testsummary.py "$label" | tee >(grep --line-buffered -E "^$label: " > "$summary") || status=$?
echo "::: acceptance tests under $cli ($label) took $((SECONDS - start))s"
exit "$status"
