#!/usr/bin/env bash
# Lints CloudFormation templates with the pinned cfn-lint (tools/pytools/requirements.txt),
# from the cached venv that tools/pytools/venv.sh builds on first use.
# Usage: tools/pytools/cfn-lint.sh FILE...   (exit status is cfn-lint's: 0 = no findings)
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: $0 TEMPLATE..." >&2
  exit 2
fi
venv="$("$(dirname "${BASH_SOURCE[0]}")/venv.sh")"
exec "$venv/bin/cfn-lint" -- "$@"
