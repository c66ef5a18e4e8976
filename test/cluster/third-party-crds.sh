#!/usr/bin/env bash
# Copies the CRD YAML that third-party Go modules ship into a cache dir, so rendered objects of
# those kinds can be validated by a real kube-apiserver (server-side dry run).
# Output: ~/.cache/callfleet/crds-<versions>/*.yaml ; prints that directory on stdout last.
# Not shipped as YAML by any module on the Go proxy (rendered objects are validated against the
# minimal stubs in test/cluster/crd-stubs/ instead): GKE BackendConfig (k8s.io/ingress-gce
# generates it in Go at runtime, pkg/crd), GCPBackendPolicy (gke-gateway-api is not on the proxy) and
# ManagedCertificate (gke-managed-certs is not on the proxy).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${CALLFLEET_CACHE:-$HOME/.cache/callfleet}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

GATEWAY_API_VERSION=v1.4.1
PROMETHEUS_OPERATOR_VERSION=v0.85.0
KEDA_VERSION=v2.18.1
ENVOY_GATEWAY_VERSION=v1.6.0
# The guides' snippets (docs/guides/*.md) are dry-run against these too: Karpenter NodePool, cert-manager issuers.
KARPENTER_VERSION=v1.8.0
CERT_MANAGER_VERSION=v1.19.1
# MemoryStore engine cloudnative-pg renders a Cluster and a ScheduledBackup (and a PodMonitor above).
CNPG_VERSION=v1.27.1

# The stubs are part of the key: a new or changed stub refreshes the cache.
stubs=$(cat "$here"/crd-stubs/*.yaml | sha256sum | cut -c1-8)
out="$cache/crds-gwapi$GATEWAY_API_VERSION-promop$PROMETHEUS_OPERATOR_VERSION-keda$KEDA_VERSION-eg$ENVOY_GATEWAY_VERSION-karpenter$KARPENTER_VERSION-cm$CERT_MANAGER_VERSION-cnpg$CNPG_VERSION-stubs$stubs"
log() { printf '[crds] %s\n' "$*" >&2; }

if [ -f "$out/.done" ]; then log "cached: $out"; echo "$out"; exit 0; fi

# module_dir MODULE VERSION: downloads (once) and prints the module's source directory.
module_dir() {
  local json
  json=$(cd "$cache" && go mod download -json "$1@$2")
  printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

mkdir -p "$cache"
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
gw=$(module_dir sigs.k8s.io/gateway-api "$GATEWAY_API_VERSION")
cp "$gw"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$out.tmp/"
po=$(module_dir github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")
cp "$po"/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml \
   "$po"/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml \
   "$po"/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml "$out.tmp/"
keda=$(module_dir github.com/kedacore/keda/v2 "$KEDA_VERSION")
cp "$keda"/config/crd/bases/keda.sh_scaledobjects.yaml "$keda"/config/crd/bases/keda.sh_triggerauthentications.yaml "$out.tmp/"
eg=$(module_dir github.com/envoyproxy/gateway "$ENVOY_GATEWAY_VERSION")
cp "$eg"/charts/gateway-helm/crds/generated/gateway.envoyproxy.io_backendtrafficpolicies.yaml "$out.tmp/"
karpenter=$(module_dir sigs.k8s.io/karpenter "$KARPENTER_VERSION")
cp "$karpenter"/pkg/apis/crds/karpenter.sh_nodepools.yaml "$out.tmp/"
cm=$(module_dir github.com/cert-manager/cert-manager "$CERT_MANAGER_VERSION")
cp "$cm"/deploy/crds/cert-manager.io_clusterissuers.yaml "$cm"/deploy/crds/cert-manager.io_issuers.yaml "$out.tmp/"
cnpg=$(module_dir github.com/cloudnative-pg/cloudnative-pg "$CNPG_VERSION")
cp "$cnpg"/config/crd/bases/postgresql.cnpg.io_clusters.yaml \
   "$cnpg"/config/crd/bases/postgresql.cnpg.io_scheduledbackups.yaml \
   "$cnpg"/config/crd/bases/postgresql.cnpg.io_backups.yaml "$out.tmp/"
cp "$here"/crd-stubs/*.yaml "$out.tmp/"
chmod -R u+w "$out.tmp"
rm -rf "$out" && mv "$out.tmp" "$out" && touch "$out/.done"
log "copied $(ls "$out" | wc -l) CRD files to $out"
echo "$out"
