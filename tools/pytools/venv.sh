#!/usr/bin/env bash
# Creates (once) the Python venv for tools/pytools/requirements.txt and prints its directory.
#
# The venv lives outside the checkout, under
#   ${CLUSTERKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clusterkit}/pytools-<key>
# where <key> is the first 12 hex chars of sha256(requirements.txt + constraints.txt + venv.sh),
# so every clone reuses it and any change to the pins (or to this script) builds a new one.
# Creation is flock-protected (parallel callers wait for one build) and happens in place
# (venv entry points carry absolute shebangs, so it cannot be moved); a marker file
# written last, after an import check, marks it complete. A venv without a
# valid marker, or whose python no longer runs, is rebuilt, never trusted.
# All output except the final directory goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CLUSTERKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clusterkit}"
python="${CLUSTERKIT_PYTHON:-python3}" # the interpreter the venv is made from

key="$(cat "$here/requirements.txt" "$here/constraints.txt" "$here/venv.sh" | sha256sum | cut -c1-12)"
venv="$cache/pytools-$key"
marker="$venv/.clusterkit-complete"

ok() {
  [ -f "$marker" ] && [ "$(cat "$marker")" = "$key" ] &&
    "$venv/bin/python" -c 'import sys' >/dev/null 2>&1
}

if ok; then
  echo "$venv"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/pytools-$key.lock"
flock 9
if ok; then # built by another process while we waited
  echo "$venv"
  exit 0
fi

echo "pytools: building venv $venv (first run, ~1 min)" >&2
t=$SECONDS
rm -rf "$venv" # a half-built one from an interrupted run (no marker)
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$here/requirements.txt" >&2
"$venv/bin/python" -c 'import cfnlint, moto.server' >&2
echo "$key" >"$marker"
echo "pytools: venv ready in $((SECONDS - t))s" >&2
echo "$venv"
