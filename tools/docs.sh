#!/usr/bin/env bash
# docs.sh: render docs/ with tfplugindocs. The schema comes from the freshly built provider
# through OpenTofu (both built from the Go module proxy), so nothing is downloaded.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
{ read -r DOCS; read -r TOFU; } < <("$ROOT/tools/build.sh" tfplugindocs tofu)
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
go build -C "$ROOT" -o "$W/bin/terraform-provider-clusterkit" .
cat >"$W/tofurc" <<RC
provider_installation {
  dev_overrides {
    "registry.opentofu.org/clusterkit-dev/clusterkit" = "$W/bin"
  }
  direct {}
}
RC
mkdir -p "$W/cfg"
cat >"$W/cfg/main.tf" <<'TF'
terraform {
  required_providers {
    clusterkit = { source = "registry.opentofu.org/clusterkit-dev/clusterkit" }
  }
}
TF
(cd "$W/cfg" && TF_CLI_CONFIG_FILE="$W/tofurc" "$TOFU/tofu" providers schema -json >"$W/schema.json" 2>"$W/tofu.err") ||
  { cat "$W/tofu.err" >&2; exit 1; }
# OpenTofu's schema has no list resources (Terraform >= 1.14 writes them as
# list_resource_schemas): the provider serves them to a small program in process.
go run -C "$ROOT" ./internal/provider/cmd/listschemas >"$W/list.json"
# tfplugindocs looks the schema up by the provider's short name.
python3 - "$W/schema.json" "$W/list.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
schema = next(iter(d["provider_schemas"].values()))
schema["list_resource_schemas"] = json.load(open(sys.argv[2]))
d["provider_schemas"] = {"clusterkit": schema}
json.dump(d, open(p, "w"))
PY
cd "$ROOT"
go run ./internal/apps/cmd/catalogdoc >templates/guides/catalog.md.tmpl
"$DOCS/tfplugindocs" generate --provider-name clusterkit --rendered-provider-name clusterkit \
  --providers-schema "$W/schema.json" >"$W/docs.log" 2>&1 || { cat "$W/docs.log" >&2; exit 1; }
echo "docs/ generated"
