#!/bin/sh
# cert-manager post-install step (run by the install pod's script with sh -e): installs
# the ClusterIssuer from $CONFIG_DIR/cluster-issuer.yaml, when the configuration has one,
# as a small release of its own next to cert-manager. cert-manager's webhook may take a
# few seconds after the chart's --wait to admit resources, hence the bounded retry.
issuer="$CONFIG_DIR/cluster-issuer.yaml"
[ -f "$issuer" ] || exit 0
chart="$(mktemp -d)/cluster-issuer"
mkdir -p "$chart/templates"
printf 'apiVersion: v2\nname: cluster-issuer\nversion: 1.0.0\n' > "$chart/Chart.yaml"
cp "$issuer" "$chart/templates/cluster-issuer.yaml"
attempt=1
until helm upgrade --install "$RELEASE_NAME-cluster-issuer" "$chart" --namespace "$RELEASE_NAMESPACE" --wait --timeout 60s; do
  if [ "$attempt" -ge 30 ]; then
    echo "cluster issuer: giving up after $attempt attempts" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  echo "cluster issuer: cert-manager webhook not ready yet, retrying in 5s"
  sleep 5
done
