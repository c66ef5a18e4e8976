// Runs one CampaignDialer per CallCampaign on the leader: resolves what a dialer needs (the
// VoiceAgent's Twilio credentials and public URL, the MemoryStore's database and encryption key, the
// recipients Secret), shares one small pool per database, feeds each dialer its fleet's free slots
// and writes its counts to the campaign's status.
import type { KubernetesObject, V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  type CallCampaignSpec,
  parseCallCampaign,
  parseMemoryStore,
  parseVoiceAgent,
} from '../../cdk8s/api/v1alpha1/index.ts';
import { memoryStoreConnection } from '../../cdk8s/charts/index.ts';
import { parseKeyring } from '../../voice-gateway/memory/store/crypto.ts';
import { createPool } from '../../voice-gateway/memory/store/pool.ts';
import type { EventRecorder } from '../events.ts';
import { objectKey } from '../kube/resources.ts';
import type { KubeRest } from '../kube/rest.ts';
import { condition } from '../reconcile/conditions.ts';
import { type WithStatus, writeStatus } from '../reconcile/status.ts';
import type { Informer } from '../runtime/informer.ts';
import type { CallTracker } from '../tracker/call-tracker.ts';
import { CampaignDialer, type CampaignStatusReport, type DialerEnv } from './dialer.ts';

export interface CampaignManagerOptions {
  rest: KubeRest;
  campaigns: Informer<WithStatus>;
  voiceAgents: Informer<WithStatus>;
  memoryStores: Informer<WithStatus>;
  tracker?: CallTracker | undefined;
  events: EventRecorder;
  log: Logger;
  /** The dialers' clock (calling windows, start time, backoff); default Date.now. */
  clock?: () => number;
  tickMs?: number;
}

interface Running {
  dialer: CampaignDialer;
  uid: string;
  voiceAgent: string;
}

/** The campaign's key in the database: namespace/name/uid (a re-created campaign starts afresh). */
export function campaignId(object: KubernetesObject): string {
  return `${object.metadata?.namespace}/${object.metadata?.name}/${object.metadata?.uid}`;
}

export class CampaignManager {
  readonly #o: CampaignManagerOptions;
  readonly #running = new Map<string, Running>();
  readonly #pools = new Map<string, pg.Pool>();
  readonly #specs = new Map<string, { version: string; spec: CallCampaignSpec | undefined }>();

  constructor(o: CampaignManagerOptions) {
    this.#o = o;
  }

  /** Starts the campaign's dialer unless it runs (a new uid restarts it). */
  async ensure(object: WithStatus): Promise<void> {
    const key = objectKey(object);
    const uid = object.metadata?.uid ?? '';
    const current = this.#running.get(key);
    if (current?.uid === uid) return;
    if (current) await this.remove(key);
    const spec = this.#spec(key);
    const ns = object.metadata?.namespace ?? '';
    const voiceAgent = spec?.voiceAgentRef.name ?? '';
    const log = this.#o.log.child({ campaign: key });
    const dialer = new CampaignDialer({
      id: campaignId(object),
      log,
      spec: () => this.#spec(key),
      env: () => this.#env(ns, key),
      fleet: () => this.#o.tracker?.slots(ns, voiceAgent) ?? { capacity: 0, active: 0, fresh: false },
      others: () => {
        let live = 0;
        let inProgress = 0;
        for (const [k, r] of this.#running) {
          if (k === key || r.voiceAgent !== voiceAgent || !k.startsWith(`${ns}/`)) continue;
          live += r.dialer.live;
          inProgress += r.dialer.inProgress;
        }
        return { live, inProgress };
      },
      report: (status) => this.#report(key, status),
      ...(this.#o.clock ? { clock: this.#o.clock } : {}),
      ...(this.#o.tickMs ? { tickMs: this.#o.tickMs } : {}),
    });
    this.#running.set(key, { dialer, uid, voiceAgent });
    dialer.start();
  }

  async remove(key: string): Promise<void> {
    const r = this.#running.get(key);
    this.#running.delete(key);
    this.#specs.delete(key);
    await r?.dialer.stop();
  }

  /** Deletion: stop dialing, cancel the recipients not dialed; false when the database is unreachable. */
  async cancel(object: WithStatus): Promise<number> {
    const key = objectKey(object);
    await this.remove(key);
    const parsed = parseCallCampaign(object);
    if (!parsed.ok) return 0;
    const env = await this.#env(object.metadata?.namespace ?? '', key, parsed.value.spec);
    return CampaignDialer.cancel(env.pool, campaignId(object));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.keys()].map((k) => this.remove(k)));
    await Promise.all([...this.#pools.values()].map((p) => p.end().catch(() => {})));
    this.#pools.clear();
  }

  #spec(key: string): CallCampaignSpec | undefined {
    const object = this.#o.campaigns.get(key);
    if (!object || object.metadata?.deletionTimestamp) return undefined;
    const version = object.metadata?.resourceVersion ?? '';
    const cached = this.#specs.get(key);
    if (cached?.version === version) return cached.spec;
    const parsed = parseCallCampaign(object);
    const spec = parsed.ok ? parsed.value.spec : undefined;
    this.#specs.set(key, { version, spec });
    return spec;
  }

  async #secret(ns: string, name: string, key: string, what: string): Promise<string> {
    const secret = await this.#o.rest.getOrNull<V1Secret>(`/api/v1/namespaces/${ns}/secrets/${name}`);
    const value = secret?.data?.[key];
    if (!value) throw new Error(`${what}: Secret ${name} has no key ${key}`);
    return Buffer.from(value, 'base64').toString('utf8');
  }

  async #caOf(ns: string, ca: { kind: 'Secret' | 'ConfigMap'; name: string; key: string }): Promise<string> {
    if (ca.kind === 'Secret') return this.#secret(ns, ca.name, ca.key, 'MemoryStore CA');
    const cm = await this.#o.rest.getOrNull<V1ConfigMap>(`/api/v1/namespaces/${ns}/configmaps/${ca.name}`);
    const value = cm?.data?.[ca.key];
    if (!value) throw new Error(`MemoryStore CA: ConfigMap ${ca.name} has no key ${ca.key}`);
    return value;
  }

  async #env(ns: string, key: string, given?: CallCampaignSpec): Promise<DialerEnv> {
    const spec = given ?? this.#spec(key);
    if (!spec) throw new Error('the campaign does not parse');
    const vaObject = this.#o.voiceAgents.get(`${ns}/${spec.voiceAgentRef.name}`);
    if (!vaObject) throw new Error(`spec.voiceAgentRef: VoiceAgent ${spec.voiceAgentRef.name} not found`);
    const va = parseVoiceAgent(vaObject);
    if (!va.ok) throw new Error(`spec.voiceAgentRef: VoiceAgent ${spec.voiceAgentRef.name} is invalid`);
    const twilio = va.value.spec.telephony.twilio;
    if (va.value.spec.telephony.mode !== 'twilio-stream' || !twilio)
      throw new Error('spec.voiceAgentRef: the VoiceAgent must use telephony mode twilio-stream');
    const storeName = va.value.spec.memory?.storeRef?.name;
    if (!storeName)
      throw new Error(
        'spec.voiceAgentRef: the VoiceAgent has no memory.storeRef (recipients live in its MemoryStore)',
      );
    const msObject = this.#o.memoryStores.get(`${ns}/${storeName}`);
    const ms = msObject ? parseMemoryStore(msObject) : undefined;
    if (!ms?.ok) throw new Error(`MemoryStore ${storeName} not found or invalid`);
    const conn = memoryStoreConnection(ms.value);
    const url = await this.#secret(
      ns,
      conn.connectionSecretName,
      conn.connectionSecretKey,
      'MemoryStore connection',
    );
    const keyring = parseKeyring(
      await this.#secret(
        ns,
        conn.encryptionKeySecretRef.name,
        conn.encryptionKeySecretRef.key,
        'encryption key',
      ),
    );
    // The store's CA (postgres, cloudnative-pg, external with caBundle): verify-full, as the gateways do.
    const ca = conn.ca ? await this.#caOf(ns, conn.ca) : undefined;
    let pool = this.#pools.get(url);
    if (!pool) {
      pool = createPool(url, { max: 4, applicationName: 'callfleet-dialer', ...(ca ? { ca } : {}) });
      pool.on('error', () => {});
      this.#pools.set(url, pool);
    }
    const base =
      va.value.spec.telephony.publicBaseUrl ??
      (va.value.spec.ingress ? `https://${va.value.spec.ingress.host}` : undefined);
    if (!base)
      throw new Error(
        'spec.voiceAgentRef: the VoiceAgent has no public URL (telephony.publicBaseUrl or ingress.host)',
      );
    return {
      pool,
      keyring,
      twilio: {
        accountSid: await this.#secret(
          ns,
          twilio.accountSidSecretRef.name,
          twilio.accountSidSecretRef.key,
          'Twilio account SID',
        ),
        authToken: await this.#secret(
          ns,
          twilio.authTokenSecretRef.name,
          twilio.authTokenSecretRef.key,
          'Twilio auth token',
        ),
        baseUrl: twilio.apiBaseUrl ?? 'https://api.twilio.com',
      },
      publicBaseUrl: base,
      csv: () =>
        this.#secret(
          ns,
          spec.recipients.csvSecretRef.name,
          spec.recipients.csvSecretRef.key,
          'spec.recipients.csvSecretRef',
        ),
      maxCallSeconds: va.value.spec.calls.maxDurationSeconds,
    };
  }

  async #report(key: string, s: CampaignStatusReport): Promise<void> {
    const object = this.#o.campaigns.get(key);
    if (!object || object.metadata?.deletionTimestamp) return;
    const generation = object.metadata?.generation;
    const failed = s.phase === 'Failed';
    const reason = failed ? 'InvalidRecipients' : s.phase;
    await writeStatus(
      this.#o.rest,
      this.#o.events,
      object,
      {
        observedGeneration: generation,
        phase: s.phase,
        counts: s.counts,
        done: s.done,
        // merge patch: null removes an ETA that no longer applies
        ...(s.eta ? { eta: s.eta } : object.status?.eta ? { eta: null } : {}),
      },
      [
        condition('Ready', !failed && s.phase !== 'Pending', reason, s.message, generation),
        condition('Progressing', s.phase === 'Running', reason, s.message, generation),
        condition('Degraded', failed, reason, s.message, generation),
      ],
      this.#o.campaigns,
    );
  }
}
