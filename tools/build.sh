#!/usr/bin/env bash
# build.sh NAME...  Build the outside tools the test stack needs from the Go module proxy, each
# from its own module in tools/NAME, into a cache directory keyed by tool, version and Go
# version (outside the checkout, so every fresh clone reuses it). Prints one directory per NAME.
# An entry whose checksums do not match is rebuilt, never trusted.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${CLUSTERKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clusterkit}
GOV=$(go env GOVERSION)
LDFLAGS="-s -w"

version_of() { # module path in tools/NAME/go.mod -> its required version
  awk -v m="$2" '$1==m {print $2; exit} $1=="require" && $2==m {print $3; exit}' "$HERE/$1/go.mod"
}

build_one() {
  local name=$1 bins version
  case $name in
    tofu) version=$(version_of tofu github.com/opentofu/opentofu); bins=tofu ;;
    kube) version=$(version_of kube k8s.io/kubernetes); bins="kube-apiserver kube-controller-manager kube-scheduler" ;;
    etcd) version=$(version_of etcd go.etcd.io/etcd/server/v3); bins=etcd ;;
    kwok) version=$(version_of kwok sigs.k8s.io/kwok); bins=kwok ;;
    tfplugindocs) version=$(version_of tfplugindocs github.com/hashicorp/terraform-plugin-docs); bins=tfplugindocs ;;
    golangci-lint) version=$(version_of golangci-lint github.com/golangci/golangci-lint/v2); bins=golangci-lint ;;
    helm3|helm4) version=$(version_of "$name" "helm.sh/helm/v${name#helm}"); bins=helm ;;
    *) echo "build.sh: unknown tool $name" >&2; return 2 ;;
  esac
  # go.mod, go.sum and this recipe key the entry too: a changed pin or build flag must never
  # reuse old binaries.
  local sum; sum=$(cat "$HERE/$name/go.mod" "$HERE/$name/go.sum" "$HERE/build.sh" | sha256sum | cut -c1-12)
  local out="$CACHE/$name-$version-$GOV-$sum"
  if [ -f "$out/SHA256SUMS" ] && (cd "$out" && sha256sum --quiet -c SHA256SUMS >/dev/null 2>&1); then
    echo "$out"; return 0
  fi
  # One builder per entry: a second caller waits, then finds the finished entry.
  mkdir -p "$CACHE"
  exec {lock}>"$out.lock"
  flock "$lock"
  if [ -f "$out/SHA256SUMS" ] && (cd "$out" && sha256sum --quiet -c SHA256SUMS >/dev/null 2>&1); then
    exec {lock}>&-; echo "$out"; return 0
  fi
  echo "build.sh: building $name $version (cold builds take minutes)" >&2
  local t0=$SECONDS
  rm -rf "$out" "$out.tmp"; mkdir -p "$out.tmp"
  (
    cd "$HERE/$name"
    case $name in
      tofu) go build -trimpath -ldflags "$LDFLAGS -X github.com/opentofu/opentofu/version.dev=no" -o "$out.tmp/tofu" github.com/opentofu/opentofu/cmd/tofu ;;
      kube)
        local minor=${version#v1.}; minor=${minor%%.*}
        local V=k8s.io/component-base/version
        go build -trimpath -o "$out.tmp/" -ldflags "$LDFLAGS -X $V.gitVersion=$version -X $V.gitMajor=1 -X $V.gitMinor=$minor -X $V.gitTreeState=clean -X $V.buildDate=1970-01-01T00:00:00Z" \
          k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler ;;
      etcd) go build -trimpath -ldflags "$LDFLAGS" -o "$out.tmp/etcd" . ;;
      kwok) go build -trimpath -ldflags "$LDFLAGS" -o "$out.tmp/kwok" sigs.k8s.io/kwok/cmd/kwok ;;
      tfplugindocs) go build -trimpath -ldflags "$LDFLAGS" -o "$out.tmp/tfplugindocs" github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs ;;
      # golangci-lint prints this version and checks a config's version against it.
      golangci-lint) go build -trimpath -ldflags "$LDFLAGS -X main.version=${version#v}" -o "$out.tmp/golangci-lint" github.com/golangci/golangci-lint/v2/cmd/golangci-lint ;;
      # helm reads its own version from these variables (as helm's Makefile sets them); the
      # install pods' script picks its flags from `helm version`, so they must be right.
      helm3|helm4)
        local H=helm.sh/helm/v${name#helm}/internal/version
        CGO_ENABLED=0 go build -trimpath -o "$out.tmp/helm" -ldflags "$LDFLAGS -X $H.version=$version -X $H.metadata= -X $H.gitTreeState=clean" "helm.sh/helm/v${name#helm}/cmd/helm" ;;
    esac
  ) >&2
  (cd "$out.tmp" && sha256sum $bins > SHA256SUMS)
  mv "$out.tmp" "$out"
  exec {lock}>&-
  echo "build.sh: built $name in $((SECONDS - t0))s" >&2
  echo "$out"
}

[ $# -gt 0 ] || { echo "usage: build.sh tofu|kube|etcd|kwok|tfplugindocs|golangci-lint|helm3|helm4..." >&2; exit 2; }
for n in "$@"; do build_one "$n"; done
