#!/usr/bin/env bash
# Installs the Debian packages the tests start for real (PostgreSQL, nginx, Lua), when missing.
set -euo pipefail
need=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v lua5.4 >/dev/null || need+=(lua5.4)
[ ${#need[@]} -eq 0 ] && exit 0
echo "[system-deps] installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps Debian from starting the services system-wide: tests start their own on loopback.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
rm -f /usr/sbin/policy-rc.d
