// Caller memory inside a running gateway: opens the pool, migrates (in the background, under the
// advisory lock, retried until the database answers), probes the database for callfleet_memory_up,
// runs the retention sweeper and exposes the store, the elevenlabs-native webhooks and the
// data-rights API in the shapes the HTTP server takes. A database that is down never stops the
// gateway: lookups miss (counted), writes wait in the retry queue, readiness stays up unless memory
// is configured as required.
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../config/schema.ts';
import { jsonError } from '../http/response.ts';
import type { Handler } from '../http/types.ts';
import { within } from '../lib/deadline.ts';
import type { Logger } from '../log.ts';
import { RecordingIndex } from '../recording/index-store.ts';
import type { Recordings } from '../recording/recorder.ts';
import { sweepRecordings } from '../recording/retention.ts';
import type { Bucket } from '../storage/bucket.ts';
import { createDataRightsApi, dataRightsHandler } from './http/data-rights-api.ts';
import {
  createElevenLabsWebhooks,
  type ElevenLabsWebhookHandlers,
  elevenLabsHandlers,
} from './http/elevenlabs-webhooks.ts';
import { MemoryMetrics } from './metrics.ts';
import type { Keyring } from './store/crypto.ts';
import { migrate } from './store/migrate.ts';
import { createPool } from './store/pool.ts';
import { PostgresCallerMemory } from './store/postgres-store.ts';
import { startRetentionSweeper } from './store/retention.ts';

type MemoryConfig = GatewayConfig['memory'];

export interface MemoryRuntimeOptions {
  url: string;
  /** PEM CA of the database server (CALLFLEET_MEMORY_CA_FILE): TLS with verify-full. */
  ca?: string | undefined;
  keyring: Keyring;
  /** The parsed memory block: every value is explicit (schema defaults, or what the operator rendered). */
  config: MemoryConfig;
  telephony: GatewayConfig['telephony'];
  log: Logger;
  /** HMAC secret of the post-call webhook (ELEVENLABS_WEBHOOK_SECRET); unset: post-call answers 401. */
  webhookSecret?: string | undefined;
  /** Bearer token required on conversation-init and the tool webhook (ELEVENLABS_REQUEST_TOKEN); unset: both refuse everything. */
  requestToken?: string | undefined;
  /** Bearer token of the data-rights API (CALLFLEET_DATA_RIGHTS_TOKEN); unset: /memory/* answers 404. */
  dataRightsToken?: string | undefined;
  /** The gateway's metrics registry (GatewayMetrics.registry): memory and recording metrics go there. */
  registry?: Registry | undefined;
  /** Write-queue retry backoff (ms). */
  retry?: { baseDelayMs?: number; maxDelayMs?: number };
}

export class MemoryRuntime {
  readonly pool: pg.Pool;
  readonly store: PostgresCallerMemory;
  /** Only in elevenlabs-native mode: in twilio-stream mode nobody should be able to ask about a number. */
  readonly webhooks: ElevenLabsWebhookHandlers | undefined;
  readonly memoryApi: Handler;
  readonly settings: MemoryConfig;
  readonly metrics: MemoryMetrics;
  readonly #registry: Registry | undefined;
  readonly #log: Logger;
  #migrated = false;
  #up = false;
  #stopped = false;
  #probeTimer: NodeJS.Timeout | undefined;
  #migrateTimer: NodeJS.Timeout | undefined;
  #sweeper: { stop(): void } | undefined;
  /** The team's bucket and the pod's recorders, when call recording is on. */
  bucket: Bucket | undefined;
  recordings: Recordings | undefined;
  readonly #keyring: Keyring;
  #recordingSweep: NodeJS.Timeout | undefined;

  constructor(o: MemoryRuntimeOptions) {
    this.settings = o.config;
    this.#log = o.log.child({ component: 'caller-memory' });
    this.#registry = o.registry;
    this.metrics = MemoryMetrics.on(o.registry);
    this.pool = createPool(o.url, {
      max: this.settings.poolSize,
      applicationName: 'callfleet-gateway',
      ...(o.ca ? { ca: o.ca } : {}),
    });
    this.store = new PostgresCallerMemory({
      pool: this.pool,
      keyring: o.keyring,
      recordTranscripts: this.settings.recordTranscripts,
      extractMemories: this.settings.extractMemories,
      logger: this.#log,
      metrics: this.metrics,
      queue: { baseDelayMs: o.retry?.baseDelayMs ?? 200, maxDelayMs: o.retry?.maxDelayMs ?? 5_000 },
    });
    this.#keyring = o.keyring;
    // Forget deletes the caller's recordings in the bucket; without recording on there is no bucket,
    // and a caller with recordings cannot be forgotten here (the delete fails, the forget rolls back).
    const objects = {
      delete: async (keys: string[]) => {
        if (!this.bucket) throw new Error('the caller has call recordings but this gateway has no bucket');
        await this.bucket.delete(keys);
      },
    };
    this.memoryApi = dataRightsHandler(
      createDataRightsApi({
        pool: this.pool,
        keyring: o.keyring,
        token: o.dataRightsToken || undefined,
        bucket: objects,
      }),
    );
    if (o.telephony === 'elevenlabs-native') {
      const h = createElevenLabsWebhooks(this.store, o.webhookSecret ?? '', {
        lookupBudgetMs: this.settings.lookupBudgetMs,
        ...(o.requestToken ? { requestToken: o.requestToken } : {}),
      });
      if (!o.webhookSecret) {
        this.#log.warn('ELEVENLABS_WEBHOOK_SECRET is not set: every post-call webhook will be refused');
      }
      if (!o.requestToken) {
        this.#log.error(
          'elevenlabs-native mode without ELEVENLABS_REQUEST_TOKEN: conversation-init and search-memory refuse every request (503)',
        );
      }
      this.webhooks = elevenLabsHandlers({
        ...h,
        postCall: o.webhookSecret
          ? h.postCall
          : async () => jsonError(401, 'post-call webhook secret not configured'),
      });
    }
    this.metrics.memoryUp.set(0);
  }

  /**
   * Turns call recording on (voice-gateway/recording/). The S3 client is loaded here, only when
   * recording is on: importing it costs about a second of start-up a gateway without it should not pay.
   */
  async enableRecording(rec: NonNullable<GatewayConfig['recording']>): Promise<void> {
    if (!rec.enabled || !rec.bucket) return;
    const [{ Bucket }, { Recordings }, { exposeRecordingMetrics }] = await Promise.all([
      import('../storage/bucket.ts'),
      import('../recording/recorder.ts'),
      import('../recording/metrics.ts'),
    ]);
    this.bucket = new Bucket(rec.bucket);
    this.recordings = new Recordings({
      bucket: this.bucket,
      index: new RecordingIndex(this.pool, this.#keyring),
      keyring: this.#keyring,
      retentionDays: rec.retentionDays,
      agentQueueBytes: Math.round(rec.agentQueueSeconds * 8000),
      maxBufferBytes: rec.maxBufferBytes,
      onError: (what, error) => this.#log.warn({ what, err: error.message }, 'call recording failed'),
    });
    this.store.recordings = this.recordings;
    exposeRecordingMetrics(this.#registry, this.recordings);
  }

  /** True while the database answers and the schema is migrated. */
  get up(): boolean {
    return this.#up;
  }

  /** What readiness needs from memory: always true unless memory is required. */
  ready(): boolean {
    return !this.settings.required || this.#up;
  }

  start(): void {
    void this.#migrate(0);
    this.#probeTimer = setInterval(() => void this.#probe(), this.settings.healthCheckSeconds * 1000);
    this.#probeTimer.unref();
  }

  async #migrate(attempt: number): Promise<void> {
    if (this.#stopped) return;
    try {
      const result = await migrate(this.pool);
      this.#migrated = true;
      this.#setUp(true);
      this.#log.info({ applied: result.applied, schema: result.current }, 'caller memory ready');
      this.#startSweeper();
    } catch (error) {
      const delay = Math.min(10_000, 500 * 2 ** attempt);
      if (attempt === 0 || delay === 10_000) {
        this.#log.warn(
          { err: (error as Error).message, retryInMs: delay },
          'caller-memory database not available: calls proceed without memory',
        );
      }
      if (this.#stopped) return;
      this.#migrateTimer = setTimeout(() => void this.#migrate(attempt + 1), delay);
      this.#migrateTimer.unref();
    }
  }

  async #probe(): Promise<void> {
    if (!this.#migrated || this.#stopped) return;
    try {
      await this.pool.query('SELECT 1');
      this.#setUp(true);
    } catch (error) {
      this.#setUp(false, (error as Error).message);
    }
  }

  #setUp(up: boolean, err?: string): void {
    if (up !== this.#up) {
      if (up) this.#log.info('caller-memory database reachable');
      else this.#log.warn({ err }, 'caller-memory database unreachable: lookups miss, writes are queued');
    }
    this.#up = up;
    this.metrics.memoryUp.set(up ? 1 : 0);
  }

  #startSweeper(): void {
    const bucket = this.bucket;
    if (bucket && !this.#recordingSweep) {
      const sweep = () =>
        void sweepRecordings(this.pool, bucket).then(
          (n) =>
            n > 0 && this.#log.info({ recordings: n }, 'retention sweep deleted expired call recordings'),
          (error: Error) => this.#log.warn({ err: error.message }, 'recording retention sweep failed'),
        );
      sweep();
      this.#recordingSweep = setInterval(sweep, this.settings.retention.sweepIntervalSeconds * 1000);
      this.#recordingSweep.unref();
    }
    const r = this.settings.retention;
    if (this.#sweeper || (r.transcriptsDays <= 0 && r.memoriesDays <= 0)) return;
    this.#sweeper = startRetentionSweeper(
      this.pool,
      { transcriptsDays: r.transcriptsDays, memoriesDays: r.memoriesDays, metrics: this.metrics },
      r.sweepIntervalSeconds * 1000,
      (error) => this.#log.warn({ err: (error as Error).message }, 'retention sweep failed'),
      (result) => {
        if (result.transcriptTurns || result.memories)
          this.#log.info(
            { transcriptTurns: result.transcriptTurns, memories: result.memories },
            'retention sweep deleted expired caller data',
          );
      },
    );
  }

  /** Writes what is queued (until the deadline), then closes the pool. */
  async shutdown(deadlineMs: number): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#probeTimer);
    clearTimeout(this.#migrateTimer);
    this.#sweeper?.stop();
    clearInterval(this.#recordingSweep);
    // Recordings of the calls that just ended are completed (uploaded, indexed) before the pool closes.
    await this.recordings?.flush(Date.now() + deadlineMs);
    const pending = this.store.pendingWrites;
    await this.store.flush(deadlineMs);
    if (this.store.pendingWrites > 0) {
      this.#log.error(
        { pending: this.store.pendingWrites },
        'caller-memory writes still pending at the deadline: dropped',
      );
    } else if (pending > 0) {
      this.#log.info({ written: pending }, 'caller-memory writes flushed');
    }
    await this.store.close();
    await within(
      this.pool.end().catch(() => {}),
      1000,
      () => undefined,
    );
    this.bucket?.destroy();
  }
}
