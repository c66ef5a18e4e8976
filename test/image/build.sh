#!/usr/bin/env bash
# `make image`: builds the shipped Dockerfile for real with podman, as `docker build` would.
# No container registry is reachable on the machines this runs on, so the base image the Dockerfile
# names is built locally under that very name first (base-image.sh, once per version); podman's layer
# cache makes warm runs fast. Prints the image name, its size and the build time.
# Env: IMAGE (default ghcr.io/callfleet/callfleet:<package.json version>).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
version=$(node -p "require('$root/package.json').version")
image=${IMAGE:-ghcr.io/callfleet/callfleet:$version}
base=$(sed -n 's/^ARG NODE_IMAGE=//p' "$root/Dockerfile")
[[ $base == */* ]] || base=docker.io/library/$base
command -v podman >/dev/null || bash "$root/test/support/system-deps.sh"
start=$SECONDS
bash "$here/base-image.sh" "$base"
# --network host: the RUN steps reach the npm registry and the Debian mirror directly.
build=(--quiet --format docker --pull=never --network host --layers --tag "$image" --file "$root/Dockerfile")
# A TLS-intercepting egress proxy (as on the machines this runs on): the host's CA bundle reaches npm in the
# build through a mounted global npmrc, never through the image (build-time mounts are not layers).
ca=${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}
if [ -n "$ca" ] && [ "$ca" != null ] && [ -f "$ca" ]; then
  tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
  printf 'cafile=/run/callfleet-build/ca.crt\n' >"$tmp/npmrc"
  cp "$ca" "$tmp/ca.crt"
  build+=(--volume "$tmp:/run/callfleet-build:ro" --volume "$tmp/npmrc:/usr/local/etc/npmrc:ro")
fi
podman build "${build[@]}" "$root" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$image")
printf '[image] %s: %d MB, built in %d s\n' "$image" $((size / 1000000)) $((SECONDS - start)) >&2
echo "$image"
