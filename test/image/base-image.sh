#!/usr/bin/env bash
# Builds the Dockerfile's base image locally, under the very name the Dockerfile names
# (docker.io/library/node:<NODE_VERSION>-bookworm-slim), because no container registry is reachable here.
# Laid out as the official node:*-bookworm-slim image: a minbase Debian bookworm rootfs without docs,
# man pages or locales; node in /usr/local/bin; npm in /usr/local/lib/node_modules/npm; a `node`
# user (uid 1000); docker-entrypoint.sh; CMD ["node"]. Node comes from the npm registry's
# node-linux-<arch> package (the official release binary), npm from the npm package.
# Built once per (Node version, npm version, this recipe): podman's storage keeps it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
image=${1:?usage: base-image.sh docker.io/library/node:<version>-bookworm-slim}
node_version=$(sed -E 's#.*/?node:([0-9]+\.[0-9]+\.[0-9]+)-bookworm-slim.*#\1#' <<<"$image")
[[ $node_version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "[image] cannot read a Node version from $image" >&2; exit 2; }
npm_version=${NPM_VERSION:-11.19.0} # the npm that Node 24.21.0 bundles
recipe=$(cat "$0" | sha256sum | cut -c1-16)-$npm_version
log() { printf '[image] %s\n' "$*" >&2; }

if podman image exists "$image" &&
  [ "$(podman image inspect --format '{{index .Labels "io.callfleet.base-recipe"}}' "$image")" = "$recipe" ]; then
  log "base $image: cached"
  exit 0
fi

case $(uname -m) in
  x86_64) arch=x64 deb_arch=amd64 ;;
  aarch64) arch=arm64 deb_arch=arm64 ;;
  *) log "unsupported machine $(uname -m)"; exit 2 ;;
esac
cache=${CALLFLEET_CACHE:-$HOME/.cache/callfleet}/image
mkdir -p "$cache"
start=$SECONDS
log "base $image: building (first time only)..."
for pkg in "node-linux-$arch@$node_version" "npm@$npm_version"; do
  tgz="$cache/${pkg/@/-}.tgz"
  [ -f "$tgz" ] || (cd "$cache" && npm pack --silent "$pkg" >/dev/null)
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
# debian:bookworm-slim: minbase, and dpkg told never to install docs, man pages or locales.
excludes=('/usr/share/doc/*' '/usr/share/man/*' '/usr/share/groff/*' '/usr/share/info/*' '/usr/share/lintian/*'
  '/usr/share/linda/*' '/usr/share/locale/*')
dpkgopts=()
for path in "${excludes[@]}"; do dpkgopts+=(--dpkgopt="path-exclude=$path"); done
dpkgopts+=(--dpkgopt='path-include=/usr/share/doc/*/copyright')
mmdebstrap --quiet --variant=minbase --arch="$deb_arch" --format=directory "${dpkgopts[@]}" \
  --aptopt='Acquire::Languages "none"' \
  bookworm "$root" \
  "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log

# Node and npm as the official image lays them out.
tar -xzf "$cache/node-linux-$arch-$node_version.tgz" -C "$work"
install -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/include" "$root/usr/local/lib/node_modules/npm"
cp -r "$work/package/include/node" "$root/usr/local/include/node"
tar -xzf "$cache/npm-$npm_version.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'ENTRY'
#!/bin/sh
set -e
# Run command with node if the first argument contains a "-" or is not a system command.
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
ENTRY
chmod 0755 "$root/usr/local/bin/docker-entrypoint.sh"
chroot "$root" node --version >/dev/null
chroot "$root" npm --version >/dev/null

tar -C "$root" --numeric-owner -c . | podman import --quiet \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_VERSION=$node_version" \
  --change "ENTRYPOINT [\"docker-entrypoint.sh\"]" \
  --change 'CMD ["node"]' \
  --change "LABEL io.callfleet.base-recipe=$recipe" \
  - "$image" >/dev/null
log "base $image: built in $((SECONDS - start)) s"
