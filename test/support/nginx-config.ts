// nginx.conf from Ingress objects and EndpointSlices, the way ingress-nginx writes it for the
// annotations our renderer uses: upstream-hash-by → `hash <value> consistent`, proxy-read/send-timeout,
// proxy-buffering, use-regex (host-wide: every path of the host becomes a case-insensitive regex
// location, longest first), limit-rps (limit_req with burst = 5 × rps). Upstream servers are the
// ready endpoints of the backend Service's EndpointSlices; a backend without any answers 503.
import type { V1EndpointSlice, V1Ingress } from '@kubernetes/client-node';

const A = 'nginx.ingress.kubernetes.io';

export interface Backend {
  name: string;
  servers: string[];
  hashBy?: string;
}

interface Location {
  path: string;
  pathType: string;
  upstream: Backend;
  readTimeout: number;
  sendTimeout: number;
  buffering: boolean;
  limitZone?: { name: string; rps: number };
}

interface Server {
  host: string;
  regex: boolean;
  locations: Location[];
}

export interface NginxModel {
  servers: Server[];
  upstreams: Map<string, Backend>;
}

/** ready (or unknown readiness, which the API defines as ready) endpoints of a Service port. */
export function readyAddresses(
  slices: V1EndpointSlice[],
  service: string,
  port: { name?: string; number?: number },
): string[] {
  const out = new Set<string>();
  for (const slice of slices) {
    if (slice.metadata?.labels?.['kubernetes.io/service-name'] !== service) continue;
    const p = slice.ports?.find((sp) => (port.name ? sp.name === port.name : true));
    const number = p?.port ?? port.number;
    if (!number) continue;
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false) continue;
      for (const address of endpoint.addresses) out.add(`${address}:${number}`);
    }
  }
  return [...out].sort();
}

export function buildModel(ingresses: V1Ingress[], slices: V1EndpointSlice[]): NginxModel {
  const servers = new Map<string, Server>();
  const upstreams = new Map<string, Backend>();
  for (const ingress of ingresses) {
    const ann = ingress.metadata?.annotations ?? {};
    const namespace = ingress.metadata?.namespace ?? 'default';
    const seconds = (key: string, fallback: number) => Number(ann[`${A}/${key}`] ?? fallback);
    const rps = ann[`${A}/limit-rps`] ? Number(ann[`${A}/limit-rps`]) : undefined;
    for (const rule of ingress.spec?.rules ?? []) {
      const host = rule.host ?? '_';
      const server = servers.get(host) ?? { host, regex: false, locations: [] };
      servers.set(host, server);
      if (ann[`${A}/use-regex`] === 'true') server.regex = true;
      for (const p of rule.http?.paths ?? []) {
        const svc = p.backend.service;
        if (!svc) continue;
        const portKey = svc.port?.name ?? String(svc.port?.number ?? '');
        const name = `${namespace}-${ingress.metadata?.name}-${svc.name}-${portKey}`;
        const upstream: Backend = upstreams.get(name) ?? {
          name,
          servers: readyAddresses(slices, svc.name, { name: svc.port?.name, number: svc.port?.number }),
          hashBy: ann[`${A}/upstream-hash-by`],
        };
        upstreams.set(name, upstream);
        server.locations.push({
          path: p.path ?? '/',
          pathType: p.pathType,
          upstream,
          readTimeout: seconds('proxy-read-timeout', 60),
          sendTimeout: seconds('proxy-send-timeout', 60),
          buffering: ann[`${A}/proxy-buffering`] === 'on',
          ...(rps ? { limitZone: { name: `${namespace}_${ingress.metadata?.name}_rps`, rps } } : {}),
        });
      }
    }
  }
  return { servers: [...servers.values()], upstreams };
}

function locationMatch(server: Server, location: Location): string {
  // ingress-nginx: with use-regex anywhere on the host, every path there is a `~*` regex anchored at ^.
  if (server.regex) return `~* "^${location.path}"`;
  if (location.pathType === 'Exact') return `= ${location.path}`;
  return location.path;
}

export interface RenderOptions {
  dir: string;
  port: number;
  /** `user` directive when the master runs as root (workers must not). */
  workerUser?: string;
}

export function renderConfig(model: NginxModel, o: RenderOptions): string {
  const lines: string[] = [];
  const out = (s: string) => lines.push(s);
  if (o.workerUser) out(`user ${o.workerUser};`);
  out('daemon off;');
  out('master_process on;');
  out('worker_processes 1;');
  out(`pid ${o.dir}/nginx.pid;`);
  out(`error_log ${o.dir}/error.log notice;`);
  // A reload starts new workers; the old ones keep their connections (live calls' WebSockets) until
  // they end or this timeout passes — ingress-nginx's worker-shutdown-timeout (rule 3).
  out('worker_shutdown_timeout 3600s;');
  out('events { worker_connections 4096; }');
  out('http {');
  out(`  access_log ${o.dir}/access.log;`);
  for (const k of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    out(`  ${k}_temp_path ${o.dir}/tmp/${k};`);
  out("  map $http_upgrade $connection_upgrade { default upgrade; '' close; }");
  out('  limit_req_status 503;');
  const zones = new Map<string, number>();
  for (const s of model.servers)
    for (const l of s.locations) if (l.limitZone) zones.set(l.limitZone.name, l.limitZone.rps);
  for (const [name, rps] of zones)
    out(`  limit_req_zone $binary_remote_addr zone=${name}:5m rate=${rps}r/s;`);
  for (const u of model.upstreams.values()) {
    if (u.servers.length === 0) continue;
    out(`  upstream ${u.name} {`);
    if (u.hashBy) out(`    hash ${u.hashBy} consistent;`);
    for (const server of u.servers) out(`    server ${server} max_fails=0;`);
    out('    keepalive 32;');
    out('  }');
  }
  for (const [i, s] of model.servers.entries()) {
    out('  server {');
    // The simulator connects to 127.0.0.1:<port>, so the first host is the default server.
    out(`    listen 127.0.0.1:${o.port}${i === 0 ? ' default_server' : ''};`);
    out(`    server_name ${s.host};`);
    const sorted = [...s.locations].sort((a, b) => b.path.length - a.path.length);
    for (const l of sorted) {
      out(`    location ${locationMatch(s, l)} {`);
      if (l.limitZone) out(`      limit_req zone=${l.limitZone.name} burst=${l.limitZone.rps * 5} nodelay;`);
      if (l.upstream.servers.length === 0) {
        out('      return 503;');
      } else {
        out('      proxy_http_version 1.1;');
        out('      proxy_set_header Upgrade $http_upgrade;');
        out('      proxy_set_header Connection $connection_upgrade;');
        out('      proxy_set_header Host $host;');
        out('      proxy_set_header X-Real-IP $remote_addr;');
        out('      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;');
        out('      proxy_set_header X-Forwarded-Host $host;');
        out('      proxy_set_header X-Forwarded-Proto $scheme;');
        out('      proxy_connect_timeout 5s;');
        out(`      proxy_read_timeout ${l.readTimeout}s;`);
        out(`      proxy_send_timeout ${l.sendTimeout}s;`);
        out(`      proxy_buffering ${l.buffering ? 'on' : 'off'};`);
        out('      proxy_next_upstream error timeout;');
        out(`      proxy_pass http://${l.upstream.name};`);
      }
      out('    }');
    }
    out('    location / { return 404; }');
    out('  }');
  }
  out('}');
  return `${lines.join('\n')}\n`;
}
