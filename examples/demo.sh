#!/usr/bin/env bash
# make demo: start the local stack (emulated AWS + real kube-apiserver + a node agent that
# runs the install pods with real helm, and mirrors of the public chart repositories), apply
# examples/quickstart unchanged with OpenTofu (TF=terraform: HashiCorp Terraform from PATH),
# show what now exists (including what helm installed), then destroy and stop (KEEP=1 keeps
# everything running).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STACK=$ROOT/.stack
step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\n!! demo failed during: %s\n   logs: %s/logs/*.log; rerun with TF_LOG=DEBUG for provider details\n' "$1" "$STACK" >&2; exit 1; }

# The provider reads helm's release records, which only real helm writes: with the node agent
# off (kwok faking the install pods) every install would fail.
if [ "${CLUSTERKIT_NODE_AGENT:-1}" = 0 ]; then
  printf '!! make demo needs the node agent (real helm in the install pods); unset CLUSTERKIT_NODE_AGENT=0\n' >&2
  exit 1
fi

case "${TF:-tofu}" in
  tofu)
    step "building OpenTofu and the local stack's binaries (first time: several minutes)"
    CLI=$(tools/build.sh tofu)/tofu || fail "tool build"
    stack_cli=(--tofu "$CLI") ;;
  terraform)
    CLI=$(command -v terraform) || { printf '!! TF=terraform: no terraform on PATH; install HashiCorp Terraform >= 1.11\n' >&2; exit 1; }
    export CHECKPOINT_DISABLE=1 # no update check: there may be no network
    stack_cli=()
    step "building the local stack's binaries (first time: several minutes); CLI: $(TF_CLI_CONFIG_FILE='' "$CLI" version | head -1)" ;;
  *) printf '!! TF=%s: want TF=tofu (the default) or TF=terraform\n' "$TF" >&2; exit 2 ;;
esac
tools/build.sh kube etcd kwok helm4 helm3 >/dev/null || fail "tool build"
HELM=$(tools/build.sh helm4)/helm || fail "tool build"

step "starting the local stack (AWS emulator, etcd, kube-apiserver, controller-manager, scheduler, kwok, node agent, chart mirrors)"
[ -f "$STACK/env" ] && go run ./internal/testenv/cmd/stack down --dir "$STACK" >/dev/null 2>&1 || true
go run ./internal/testenv/cmd/stack up --dir "$STACK" "${stack_cli[@]}" --provider-dir "$ROOT/bin" --node-agent || fail "stack start"
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
# The public chart repositories the quickstart names, served by the stack's mirrors.
[ -n "${CLUSTERKIT_TEST_CHART_MIRRORS:-}" ] || fail "stack start (no CLUSTERKIT_TEST_CHART_MIRRORS in .stack/env)"
python3 -c '
import json, os
m = json.loads(os.environ["CLUSTERKIT_TEST_CHART_MIRRORS"])
print("chart_repository_mirrors = {")
for k in sorted(m):
    print("  %s = %s" % (json.dumps(k), json.dumps(m[k])))
print("}")
' >>"$W/demo.auto.tfvars" || fail "writing chart_repository_mirrors"
export TF_VAR_external_id=$CLUSTERKIT_TEST_EXTERNAL_ID
export AWS_ACCESS_KEY_ID=$CLUSTERKIT_TEST_AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$CLUSTERKIT_TEST_AWS_SECRET_ACCESS_KEY
unset AWS_PROFILE AWS_SESSION_TOKEN
tf() { (cd "$W" && "$CLI" "$@"); }

step "${TF:-tofu} apply examples/quickstart: EKS stack -> integration -> 3 managed apps, in one apply"
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
# authentication_mode API (the default): the nodes join through their access entry, and
# no aws-auth ConfigMap is written; in CONFIG_MAP mode it holds the node role.
echo "  node access:"
{ api "/api/v1/namespaces/kube-system/configmaps/aws-auth" || true; } | python3 -c '
import json, sys
try:
    roles = json.load(sys.stdin)["data"]["mapRoles"]
except (ValueError, KeyError):
    print("    no aws-auth ConfigMap: the node role joins through its EC2_LINUX access entry")
else:
    print("    aws-auth mapRoles:\n    " + roles.replace("\n", "\n    "))
'

# helm's own view (the stack's helm 4; KUBECONFIG from .stack/env), then the live objects.
echo "  helm releases (helm list -A):"
"$HELM" list -A | sed 's/^/    /' || fail "helm list"
releases=$("$HELM" list -A -o json | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print(r["namespace"], r["name"])
') || fail "helm list"
while read -r ns rel; do
  echo "  objects of release $ns/$rel (helm get manifest):"
  manifest=$("$HELM" get manifest "$rel" -n "$ns") || fail "helm get manifest $ns/$rel"
  python3 -c '
import sys
kind = None
for line in sys.stdin:
    if line.startswith("kind: "):
        kind = line.split()[1]
    elif line.startswith("  name: ") and kind:
        print("    %s/%s" % (kind, line.split()[1]))
        kind = None
' <<<"$manifest"
done <<<"$releases"
echo "  live Deployments made by helm (kwok runs their pods and reports them ready):"
sel='labelSelector=app.kubernetes.io%2Fmanaged-by%3DHelm'
api "/apis/apps/v1/deployments?$sel" | python3 -c '
import json, sys
for o in json.load(sys.stdin)["items"]:
    m, st = o["metadata"], o.get("status", {})
    print("    %-50s %s/%s ready" % (m["namespace"] + "/" + m["name"], st.get("readyReplicas", 0), o["spec"]["replicas"]))
' || fail "listing the charts' Deployments"
echo "  live Services made by helm (LoadBalancer addresses from the stack's load balancer controller):"
api "/api/v1/services?$sel" | python3 -c '
import json, sys
for o in json.load(sys.stdin)["items"]:
    m, st = o["metadata"], o.get("status", {})
    lb = ", ".join(i.get("hostname") or i.get("ip", "") for i in st.get("loadBalancer", {}).get("ingress", []))
    print("    %-50s %-12s %s" % (m["namespace"] + "/" + m["name"], o["spec"]["type"], lb))
' || fail "listing the charts' Services"

if [ "${KEEP:-0}" != 1 ]; then
  step "${TF:-tofu} destroy"
  tf destroy -auto-approve -input=false || fail "destroy"
  left=$("$HELM" list -A -q) || fail "helm list after destroy"
  [ -z "$left" ] || { printf '  helm releases left after destroy: %s\n' "$left"; fail "destroy (helm releases left)"; }
  echo "  helm list -A after destroy: no releases left"
fi
step "demo finished"
