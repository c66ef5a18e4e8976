// A light simulator of many gateway pods in one process (issue 24): for every kwok pod of every
// VoiceAgent it serves that pod's internal door (GET /status, POST /retire) on the pod's own loopback IP
// (kwok hands out 127.1xx.x.y, or a range test/support/local-route.ts made local) and sends the pod's busy /
// idle / draining notices to the operator, with the gateway's own link code (voice-gateway/gateway-link.ts).
// Calls are counters, not media: `startCall` / `endCall` move a pod's presence exactly as a webhook
// and a stream start / end do in a real gateway. It watches the pods too, so it can time each busy
// edge from the call's start to the label the operator writes.
import { createServer, type Server } from 'node:http';
import type { KubeConfig, KubernetesObject, V1Pod, V1Secret } from '@kubernetes/client-node';
import pino from 'pino';
import { BUSY_LABEL, VOICEAGENT_LABEL, voiceAgentNames } from '../../cdk8s/charts/labels.ts';
import { INTERNAL_PORT } from '../../cdk8s/charts/voiceagent/model.ts';
import { objectKey, resourceFor } from '../../operator/kube/resources.ts';
import { KubeRest } from '../../operator/kube/rest.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import { GatewayLink } from '../../voice-gateway/gateway-link.ts';
import { readBody } from '../../voice-gateway/http/body.ts';
import type { HttpRequest } from '../../voice-gateway/http/types.ts';

export interface SimPod {
  key: string;
  namespace: string;
  name: string;
  voiceAgent: string;
  ip: string;
  live: number;
  link: GatewayLink;
  server?: Server;
  /** When the pod's current busy edge began (a call on an idle pod), until the label shows it. */
  busySince?: number;
  idleSince?: number;
  /** Terminated (deleted) while it still carried calls: a cut call. */
  cut: number;
  calls: number;
}

export interface GatewayFleetOptions {
  kc: KubeConfig;
  /** Only pods in these namespaces (default all). */
  namespaces?: string[];
  /** The operator's notice endpoint; unset: no notices (poll only). */
  noticeUrl?: string;
  capacity?: number;
  /** Called with the milliseconds from a busy (or idle) edge to the label showing it. */
  onLatency?(edge: 'busy' | 'idle', ms: number): void;
}

const SELECTOR = 'app.kubernetes.io/managed-by=callfleet-operator,app.kubernetes.io/component=gateway';

/** Keeps of a pod only what the simulator reads. */
function slimPod(object: KubernetesObject): KubernetesObject {
  const pod = object as V1Pod;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.metadata?.name,
      namespace: pod.metadata?.namespace,
      resourceVersion: pod.metadata?.resourceVersion,
      deletionTimestamp: pod.metadata?.deletionTimestamp,
      labels: pod.metadata?.labels,
    },
    status: { podIP: pod.status?.podIP, phase: pod.status?.phase },
  } as V1Pod;
}

export class GatewayFleet {
  readonly pods = new Map<string, SimPod>();
  readonly #o: GatewayFleetOptions;
  readonly #rest: KubeRest;
  readonly #informer: Informer<V1Pod>;
  readonly #keys = new Map<string, string>();
  readonly #log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  #opening = Promise.resolve();

  constructor(o: GatewayFleetOptions) {
    this.#o = o;
    this.#rest = new KubeRest(o.kc);
    this.#informer = new Informer<V1Pod>(
      this.#rest,
      {
        resource: resourceFor('v1', 'Pod'),
        namespaces: o.namespaces,
        labelSelector: SELECTOR,
        transform: slimPod,
      },
      this.#log,
    );
    this.#informer.on((event, pod) => {
      this.#opening = this.#opening.then(() => this.#observe(event, pod)).catch(() => undefined);
    });
  }

  async start(): Promise<void> {
    await this.#informer.start();
  }

  async stop(): Promise<void> {
    await this.#informer.stop();
    await this.#opening;
    await Promise.all([...this.pods.values()].map((p) => this.#close(p)));
  }

  /** Simulated pods that serve their internal door. */
  serving(): SimPod[] {
    return [...this.pods.values()].filter((p) => p.server);
  }

  /** A call arrives on a pod: the webhook answers (connecting), then the stream starts (live). */
  startCall(pod: SimPod, callSid: string): void {
    if (!pod.link.presence.busy) pod.busySince = performance.now();
    pod.link.presence.connecting(callSid);
    pod.live++;
    pod.calls++;
    pod.link.presence.started(callSid);
  }

  endCall(pod: SimPod): void {
    if (pod.live === 0) return;
    pod.live--;
    if (pod.live === 0) pod.idleSince = performance.now();
    pod.link.presence.changed();
  }

  /** Whether a pod would accept a call now (not retired, not terminating, under capacity). */
  accepts(pod: SimPod): boolean {
    return Boolean(pod.server) && !pod.link.presence.retired && pod.live < (this.#o.capacity ?? 10);
  }

  async #streamKey(namespace: string, voiceAgent: string): Promise<string | undefined> {
    const cacheKey = `${namespace}/${voiceAgent}`;
    const known = this.#keys.get(cacheKey);
    if (known) return known;
    const secret = await this.#rest.getOrNull<V1Secret>(
      `/api/v1/namespaces/${namespace}/secrets/${voiceAgentNames(voiceAgent).streamKey}`,
    );
    const value = secret?.data?.key ? Buffer.from(secret.data.key, 'base64').toString('utf8') : undefined;
    if (value) this.#keys.set(cacheKey, value);
    return value;
  }

  async #observe(event: string, pod: V1Pod): Promise<void> {
    const key = objectKey(pod);
    const known = this.pods.get(key);
    if (event === 'deleted' || pod.metadata?.deletionTimestamp) {
      if (known) {
        known.cut += known.live;
        await this.#close(known);
        this.pods.delete(key);
      }
      return;
    }
    if (known) {
      const busyLabel = pod.metadata?.labels?.[BUSY_LABEL];
      if (busyLabel === 'true' && known.busySince !== undefined) {
        this.#o.onLatency?.('busy', performance.now() - known.busySince);
        known.busySince = undefined;
      } else if (busyLabel !== 'true' && known.idleSince !== undefined && known.live === 0) {
        this.#o.onLatency?.('idle', performance.now() - known.idleSince);
        known.idleSince = undefined;
      }
      return;
    }
    const ip = pod.status?.podIP;
    const voiceAgent = pod.metadata?.labels?.[VOICEAGENT_LABEL];
    if (!ip || pod.status?.phase !== 'Running' || !voiceAgent) return;
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const streamKey = await this.#streamKey(namespace, voiceAgent);
    const sim: SimPod = {
      key,
      namespace,
      name,
      voiceAgent,
      ip,
      live: 0,
      cut: 0,
      calls: 0,
      link: undefined as unknown as GatewayLink,
    };
    sim.link = new GatewayLink({
      liveCalls: () => sim.live,
      draining: () => false,
      capacity: this.#o.capacity ?? 10,
      streamKey,
      podName: name,
      podNamespace: namespace,
      noticeUrl: this.#o.noticeUrl,
      log: this.#log,
    });
    this.pods.set(key, sim);
    sim.server = await this.#serve(sim).catch(() => undefined);
  }

  async #serve(sim: SimPod): Promise<Server> {
    const server = createServer(async (req, res) => {
      const read = await readBody(req, 65_536, 10_000);
      const body = read.ok ? read.body : Buffer.alloc(0);
      if (req.method === 'GET' && req.url === '/status') {
        const state = sim.link.presence.state();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            ...state,
            capacity: this.#o.capacity ?? 10,
            callsTotal: sim.calls,
            callsFailed: 0,
          }),
        );
        return;
      }
      if (req.method === 'POST' && req.url === '/retire') {
        const request: HttpRequest = {
          method: 'POST',
          path: '/retire',
          url: '/retire',
          query: new URLSearchParams(),
          headers: req.headers,
          body,
        };
        const answer = sim.link.retire(request);
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
        return;
      }
      res.writeHead(404).end();
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(INTERNAL_PORT, sim.ip, resolve);
    });
    return server;
  }

  async #close(sim: SimPod): Promise<void> {
    sim.link.close();
    const server = sim.server;
    sim.server = undefined;
    if (!server) return;
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  }
}
