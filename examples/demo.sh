#!/usr/bin/env bash
# make demo: start the local stack (emulated AWS + real kube-apiserver), apply
# examples/quickstart unchanged with OpenTofu, show what now exists, then destroy and stop
# (KEEP=1 keeps everything running).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STACK=$ROOT/.stack
step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\n!! demo failed during: %s\n   logs: %s/logs/*.log; rerun with TF_LOG=DEBUG for provider details\n' "$1" "$STACK" >&2; exit 1; }

step "building OpenTofu and the local stack's binaries (first time: several minutes)"
TOFU=$(tools/build.sh tofu)/tofu || fail "tool build"
tools/build.sh kube etcd kwok >/dev/null || fail "tool build"

step "starting the local stack (AWS emulator, etcd, kube-apiserver, controller-manager, scheduler, kwok)"
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
# The quickstart, unchanged, pointed at the local stack: emulated AWS endpoints, the
# platform's keys, the customer's role and external ID, fake network IDs.
cat >"$W/demo.auto.tfvars" <<VARS
region                          = "$CLUSTERKIT_TEST_AWS_REGION"
aws_endpoint                    = "$CLUSTERKIT_TEST_AWS_ENDPOINT"
allow_local_requests            = true
cluster_name                    = "clusterkit-demo"
provision_role_arn              = "$CLUSTERKIT_TEST_ROLE_ARN"
cluster_role_arn                = "arn:aws:iam::222222222222:role/eks-cluster-role"
vpc_id                          = "vpc-0a1b2c3d4e5f67890"
subnet_ids                      = ["subnet-0a1b2c3d4e5f67890", "subnet-0f9e8d7c6b5a43210"]
control_plane_security_group_id = "sg-0a1b2c3d4e5f67890"
VARS
export TF_VAR_external_id=$CLUSTERKIT_TEST_EXTERNAL_ID
export AWS_ACCESS_KEY_ID=$CLUSTERKIT_TEST_AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$CLUSTERKIT_TEST_AWS_SECRET_ACCESS_KEY
unset AWS_PROFILE AWS_SESSION_TOKEN
tf() { (cd "$W" && "$TOFU" "$@"); }

step "tofu apply examples/quickstart: EKS stack -> integration -> 3 managed apps, in one apply"
tf apply -auto-approve -input=false || fail "apply"

step "outputs"
tf output

step "what now exists"
echo "  CloudFormation stack (emulated AWS):"
tf state show -no-color clusterkit_eks_cluster.this | grep -E '^\s+(stack_id|status|node_instance_role_arn) ' | sed 's/^ */    /'
api() { curl -sf --cacert "$CLUSTERKIT_TEST_CA_FILE" -H "Authorization: Bearer $CLUSTERKIT_TEST_TOKEN" "$CLUSTERKIT_TEST_HOST$1"; }
echo "  Cluster objects labelled app.kubernetes.io/managed-by=clusterkit:"
sel='labelSelector=app.kubernetes.io%2Fmanaged-by%3Dclusterkit'
for kind in api/v1/namespaces api/v1/serviceaccounts api/v1/configmaps apis/rbac.authorization.k8s.io/v1/rolebindings apis/rbac.authorization.k8s.io/v1/clusterrolebindings; do
  api "/$kind?$sel" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for o in d["items"]:
    m = o["metadata"]
    ref = o.get("roleRef", {}).get("name")
    print("    %-20s %-55s%s" % (d["kind"].removesuffix("List"), (m.get("namespace", "") + "/" if m.get("namespace") else "") + m["name"], "  -> " + ref if ref else ""))
' || fail "listing cluster objects"
done
echo "  Install pods that ran (scheduler events; the pods are removed after success):"
api "/api/v1/namespaces/clusterkit-managed-apps/events?fieldSelector=reason%3DScheduled" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["items"]:
    print("    %-30s %s" % (e["involvedObject"]["name"], e["message"]))
' || fail "listing install pod events"
echo "  aws-auth (node role mapped so nodes can join):"
api "/api/v1/namespaces/kube-system/configmaps/aws-auth" | python3 -c 'import json,sys; print("    " + json.load(sys.stdin)["data"]["mapRoles"].replace("\n", "\n    "))'

if [ "${KEEP:-0}" != 1 ]; then
  step "tofu destroy"
  tf destroy -auto-approve -input=false || fail "destroy"
fi
step "demo finished"
