# syntax=docker/dockerfile:1.7
# One image, two roles: `callfleet operator` and `callfleet gateway` (the Deployment's args choose).
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step, only the
# production dependencies. test/docker/image-layout.test.ts rebuilds this layout without Docker and
# starts both roles from it, so a missing runtime file or dependency fails CI.
# The base is pinned to an exact Node and Alpine release (same Node as package.json's devDependency);
# pin the digest too in your registry mirror (`node:24.21.0-alpine3.22@sha256:...`).
ARG NODE_IMAGE=node:24.21.0-alpine3.22

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# tini is PID 1: it forwards SIGTERM to node (graceful drain of live calls) and reaps zombies.
RUN apk add --no-cache tini \
  && addgroup -S -g 10001 callfleet \
  && adduser -S -D -H -u 10001 -G callfleet -h /app callfleet
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY operator ./operator
COPY voice-gateway ./voice-gateway
COPY cdk8s ./cdk8s
COPY crds ./crds
USER 10001:10001
# gateway: PORT (8080) serves /health; operator: --metrics-addr (8081) serves /healthz. Either answering is healthy.
EXPOSE 8080 8081
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "const p=process.env.PORT||8080;Promise.any([fetch(`http://127.0.0.1:${p}/health`),fetch('http://127.0.0.1:8081/healthz')].map(f=>f.then(r=>{if(!r.ok)throw r.status})) ).then(()=>process.exit(0),()=>process.exit(1))"]
ENTRYPOINT ["/sbin/tini", "--", "node", "bin/callfleet.ts"]
CMD ["gateway"]
