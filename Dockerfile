# syntax=docker/dockerfile:1.7
# One image, two roles: `callfleet operator` and `callfleet gateway` (the Deployment's args choose).
# The sources are TypeScript with erasable types only: Node runs them as they are in development and tests,
# and the image carries the same code with the types erased by tsc (stage `js`), so no process in a cluster
# loads Node's type stripper (~30 MB of resident memory per pod; ADR 0030). `make image` builds this file for real (podman, test/image/build.sh) and
# test/image/image.int.test.ts starts both roles from the image as uid 10001 on a read-only root.
# The base is pinned to an exact Node and Debian release (same Node as package.json's devDependency);
# pin the digest too in your registry mirror (`node:24.21.0-bookworm-slim@sha256:...`). See ADR 0014.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# Production dependencies only (npm ci --omit=dev: the dev tools never reach the image), without the files
# Node never loads at run time (type declarations, source maps, TypeScript sources, docs, prebuilt addons for
# the Bare runtime; licences stay).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force \
  && find node_modules -type f \( -name '*.ts' -o -name '*.cts' -o -name '*.mts' -o -name '*.map' -o -iname '*.md' -o -name '*.bare' \) \
     ! -iname 'licen[cs]e*' -delete

# The sources as JavaScript: tsc erases the types and rewrites relative `.ts` imports to `.js`
# (tsconfig.image.json). Only the `typescript` package is installed here, at the version and integrity our
# lockfile gives (`npm ci` of a one-package lockfile cut from ours); the type check is `make typecheck`'s job.
FROM ${NODE_IMAGE} AS js
WORKDIR /src
COPY package-lock.json tsconfig.json tsconfig.image.json ./
RUN mkdir /tools && node -e " \
    const fs = require('fs'); \
    const { dev, ...typescript } = require('./package-lock.json').packages['node_modules/typescript']; \
    const root = { name: 'image-tools', private: true, dependencies: { typescript: typescript.version } }; \
    fs.writeFileSync('/tools/package.json', JSON.stringify(root)); \
    fs.writeFileSync('/tools/package-lock.json', JSON.stringify({ name: root.name, lockfileVersion: 3, requires: true, \
      packages: { '': root, 'node_modules/typescript': typescript } }));" \
  && cd /tools && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && npm cache clean --force
COPY package.json ./
COPY bin ./bin
COPY operator ./operator
COPY voice-gateway ./voice-gateway
COPY cdk8s ./cdk8s
# `callfleet call` (the Twilio call simulator) is a product sub-command for smoke tests in a cluster.
COPY test/simulator ./test/simulator
RUN /tools/node_modules/.bin/tsc -p tsconfig.image.json --outDir /js \
  && ! find /js -name '*.ts' | grep . \
  && rm -f /js/package.json

# The runtime's whole root filesystem: node (stripped of its symbol tables), the C libraries it links, tini, and
# the callfleet user. No shell, no package manager, no npm: ~115 MB where the slim base alone is ~330 MB.
FROM ${NODE_IMAGE} AS rootfs
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini binutils \
  && rm -rf /var/lib/apt/lists/*
RUN set -eu; \
  mkdir -p /rootfs/usr/local/bin /rootfs/sbin /rootfs/etc /rootfs/tmp /rootfs/app; \
  chmod 1777 /rootfs/tmp; \
  strip -o /rootfs/usr/local/bin/node /usr/local/bin/node; \
  cp /usr/bin/tini-static /rootfs/sbin/tini; \
  for lib in $(ldd /usr/local/bin/node | grep -o '/[^ ]*'); do cp --parents -L "$lib" /rootfs/; done; \
  cp /etc/nsswitch.conf /rootfs/etc/; \
  printf 'root:x:0:0:root:/root:/sbin/nologin\ncallfleet:x:10001:10001:callfleet:/app:/sbin/nologin\n' >/rootfs/etc/passwd; \
  printf 'root:x:0:\ncallfleet:x:10001:\n' >/rootfs/etc/group; \
  chroot /rootfs /usr/local/bin/node --version

FROM scratch AS runtime
COPY --from=rootfs /rootfs/ /
WORKDIR /app
ENV NODE_ENV=production PATH=/usr/local/bin:/sbin HOME=/app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY --from=js /js/ ./
COPY crds ./crds
# The files belong to root and are read-only for the process: it can change nothing of its own code.
USER 10001:10001
# gateway: PORT (8080) serves /health; operator: --metrics-addr (8081) serves /healthz. Either answering is healthy.
EXPOSE 8080 8081
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "const p=process.env.PORT||8080;Promise.any([fetch(`http://127.0.0.1:${p}/health`),fetch('http://127.0.0.1:8081/healthz')].map(f=>f.then(r=>{if(!r.ok)throw r.status})) ).then(()=>process.exit(0),()=>process.exit(1))"]
# tini is PID 1: it forwards SIGTERM to node (graceful drain of live calls) and reaps zombies.
ENTRYPOINT ["/sbin/tini", "--", "node", "bin/callfleet.js"]
CMD ["gateway"]
