#!/usr/bin/env bash
# make demo: start the local stack, apply examples/quickstart with OpenTofu, show what now
# exists in the cluster, then destroy and stop (KEEP=1 keeps everything running).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STACK=$ROOT/.stack
step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\n!! demo failed during: %s\n   logs: %s/logs/*.log; rerun with TF_LOG=DEBUG for provider details\n' "$1" "$STACK" >&2; exit 1; }

step "building OpenTofu and the local stack's binaries (first time: several minutes)"
TOFU=$(tools/build.sh tofu)/tofu || fail "tool build"
tools/build.sh kube etcd kwok >/dev/null || fail "tool build"

step "starting the local stack (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
[ -f "$STACK/env" ] && go run ./internal/testenv/cmd/stack down --dir "$STACK" >/dev/null 2>&1 || true
go run ./internal/testenv/cmd/stack up --dir "$STACK" --tofu "$TOFU" --provider-dir "$ROOT/bin" || fail "stack start"
# shellcheck disable=SC1091
source "$STACK/env"
cleanup() {
  if [ "${KEEP:-0}" != 1 ]; then
    step "stopping the local stack"
    go run ./internal/testenv/cmd/stack down --dir "$STACK" || true
  else
    printf '\nKEEP=1: the stack is still running; `source .stack/env`, then `make down` when done.\n'
  fi
}
trap cleanup EXIT

W=$(mktemp -d); trap 'rm -rf "$W"; cleanup' EXIT
cp examples/quickstart/*.tf "$W/"
cat >"$W/terraform.tfvars" <<VARS
allow_local_requests   = true
cluster_host           = "$CLUSTERKIT_TEST_HOST"
cluster_ca_certificate = <<PEM
$(cat "$CLUSTERKIT_TEST_CA_FILE")
PEM
VARS
export TF_VAR_cluster_token=$CLUSTERKIT_TEST_TOKEN
tf() { (cd "$W" && "$TOFU" "$@"); }

step "tofu apply examples/quickstart (provider from bin/ through dev_overrides)"
tf apply -auto-approve -input=false || fail "apply"

step "outputs"
tf output

step "what now exists in the cluster (objects labelled app.kubernetes.io/managed-by=clusterkit)"
api() { curl -sf --cacert "$CLUSTERKIT_TEST_CA_FILE" -H "Authorization: Bearer $CLUSTERKIT_TEST_TOKEN" "$CLUSTERKIT_TEST_HOST$1"; }
sel='labelSelector=app.kubernetes.io%2Fmanaged-by%3Dclusterkit'
for kind in api/v1/namespaces api/v1/serviceaccounts apis/rbac.authorization.k8s.io/v1/rolebindings apis/rbac.authorization.k8s.io/v1/clusterrolebindings; do
  api "/$kind?$sel" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for o in d["items"]:
    m = o["metadata"]
    ref = o.get("roleRef", {}).get("name")
    print("  %-20s %-45s%s" % (o.get("kind") or d["kind"].removesuffix("List"), (m.get("namespace", "") + "/" if m.get("namespace") else "") + m["name"], "  -> " + ref if ref else ""))
' || fail "listing cluster objects"
done

if [ "${KEEP:-0}" != 1 ]; then
  step "tofu destroy"
  tf destroy -auto-approve -input=false || fail "destroy"
fi
step "demo finished"
