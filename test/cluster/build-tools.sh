#!/usr/bin/env bash
# Builds the local control-plane tools from the Go module proxy, once per pinned version.
# Output: ~/.cache/callfleet/<tool>-<version>/ ; prints the bin directory of each on stdout last.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${CALLFLEET_CACHE:-$HOME/.cache/callfleet}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
mkdir -p "$cache"

# shellcheck source=versions.env
source "$here/versions.env"

log() { printf '[tools] %s\n' "$*" >&2; }

# build NAME VERSION MODULE_DIR LDFLAGS PACKAGE...
build() {
  local name=$1 version=$2 dir=$3 ldflags=$4; shift 4
  local out="$cache/$name-$version"
  local stamp="$out/.built-$(sha256sum "$here/tools/$dir/go.mod" | cut -c1-16)"
  if [ -f "$stamp" ]; then log "$name $version: cached"; return; fi
  log "$name $version: building (first time only, this takes a while on 2 cores)..."
  local start=$SECONDS
  rm -rf "$out.tmp" && mkdir -p "$out.tmp/bin"
  (cd "$here/tools/$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp/bin/" "$@")
  rm -rf "$out" && mv "$out.tmp" "$out" && touch "$out/.built-$(sha256sum "$here/tools/$dir/go.mod" | cut -c1-16)"
  log "$name $version: built in $((SECONDS - start)) s"
}

kube_minor=${KUBERNETES_VERSION#v1.}; kube_minor=${kube_minor%%.*}
kv=k8s.io/component-base/version
kube_ldflags="-X $kv.gitVersion=$KUBERNETES_VERSION -X $kv.gitMajor=1 -X $kv.gitMinor=$kube_minor -X $kv.gitTreeState=clean -X $kv.buildDate=1970-01-01T00:00:00Z -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$kube_minor"

want=${*:-etcd kubernetes kwok helm promtool prometheus actionlint versitygw}
for tool in $want; do
  case $tool in
    kubernetes) build kubernetes "$KUBERNETES_VERSION" kubernetes "$kube_ldflags" \
                  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler ;;
    etcd)       build etcd "$ETCD_VERSION" etcd "" go.etcd.io/etcd/server/v3 && \
                  { [ -e "$cache/etcd-$ETCD_VERSION/bin/etcd" ] || mv "$cache/etcd-$ETCD_VERSION/bin/server" "$cache/etcd-$ETCD_VERSION/bin/etcd"; } ;;
    kwok)       build kwok "$KWOK_VERSION" kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok ;;
    helm)       build helm "$HELM_VERSION" helm "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" helm.sh/helm/v3/cmd/helm ;;
    promtool)   build promtool "$PROMETHEUS_VERSION" promtool "" github.com/prometheus/prometheus/cmd/promtool ;;
    # The server for the alerting end-to-end test. Without the builtinassets tag the web UI is not embedded
    # (nothing to build with npm); the API and rule evaluation are all the test uses.
    prometheus) build prometheus "$PROMETHEUS_VERSION" prometheus "" github.com/prometheus/prometheus/cmd/prometheus ;;
    actionlint) build actionlint "$ACTIONLINT_VERSION" actionlint "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint ;;
    # The S3-compatible server of the object-storage tests (backups, call recordings): Versity's
    # gateway over a POSIX directory. MinIO builds too but takes several times longer here (ADR 0022).
    versitygw)  build versitygw "$VERSITYGW_VERSION" versitygw "" github.com/versity/versitygw/cmd/versitygw ;;
    *) log "unknown tool: $tool"; exit 2 ;;
  esac
done

for tool in $want; do
  case $tool in
    kubernetes) echo "$cache/kubernetes-$KUBERNETES_VERSION/bin" ;;
    etcd) echo "$cache/etcd-$ETCD_VERSION/bin" ;;
    kwok) echo "$cache/kwok-$KWOK_VERSION/bin" ;;
    helm) echo "$cache/helm-$HELM_VERSION/bin" ;;
    promtool) echo "$cache/promtool-$PROMETHEUS_VERSION/bin" ;;
    prometheus) echo "$cache/prometheus-$PROMETHEUS_VERSION/bin" ;;
    actionlint) echo "$cache/actionlint-$ACTIONLINT_VERSION/bin" ;;
    versitygw) echo "$cache/versitygw-$VERSITYGW_VERSION/bin" ;;
  esac
done
