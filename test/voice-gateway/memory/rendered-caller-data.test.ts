// Caller data end to end, from the API to PostgreSQL: the examples/ VoiceAgent and MemoryStore are
// rendered exactly as the operator renders them, real gateway processes start from the rendered
// ConfigMap, and a real PostgreSQL shows what they keep. The MemoryStore's retention is swept by a
// gateway using the store (older rows deleted, younger kept); spec.memory.recordTranscripts and
// extractMemories decide whether a real call leaves transcript turns and memories behind.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import type pg from 'pg';
import { renderDocuments } from '../../../operator/cli/render.ts';
import { parseKeyring } from '../../../voice-gateway/memory/store/crypto.ts';
import { migrate } from '../../../voice-gateway/memory/store/migrate.ts';
import { createPool } from '../../../voice-gateway/memory/store/pool.ts';
import { PostgresCallerMemory } from '../../../voice-gateway/memory/store/postgres-store.ts';
import { fixedCtx, readDocs } from '../../cdk8s/charts/fixtures.ts';
import { speechPattern, startCall } from '../../simulator/call.ts';
import { startPostgres, type TestPostgres } from '../../support/postgres.ts';
import { type Managed, startProcess, waitFor } from '../../support/processes.ts';
import { AUTH_TOKEN, STREAM_KEY } from '../helpers.ts';
import { KEY_SPEC } from './harness.ts';

const root = new URL('../../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'callfleet-caller-data-'));
const DAY = 86_400_000;

type Raw = Record<string, unknown> & { spec: Record<string, unknown> };

/** The gateway config the operator renders for the echo example using the postgres example store. */
function renderedConfig(memory: Record<string, unknown>, retention?: Record<string, number>) {
  const [ms] = readDocs(join(root, 'examples/memorystore-postgres.yaml')) as Raw[];
  const [va] = readDocs(join(root, 'examples/voiceagent-echo.yaml')) as Raw[];
  if (!ms || !va) throw new Error('examples missing');
  if (retention) ms.spec.retention = retention;
  va.spec.memory = { storeRef: { name: 'callers' }, ...memory };
  const result = renderDocuments([ms, va], fixedCtx);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.failures));
  const cm = result.objects.find(
    (o: KubernetesObject) => o.kind === 'ConfigMap' && o.metadata?.name === 'echo-gateway-config',
  ) as { data: Record<string, string> };
  return JSON.parse(cm.data['gateway.json'] as string) as {
    publicBaseUrl: string;
    memory: Record<string, unknown> & { retention: Record<string, number> };
  };
}

interface Gateway {
  url: string;
  publicBaseUrl: string;
  proc: Managed;
}

const gateways: Gateway[] = [];

async function startGateway(name: string, config: object, databaseUrl: string): Promise<Gateway> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const logFile = join(dir, `${name}.log`);
  const proc = startProcess(name, process.execPath, [join(root, 'bin/callfleet.ts'), 'gateway'], logFile, {
    env: {
      CALLFLEET_GATEWAY_CONFIG: file,
      PORT: '0',
      CALLFLEET_INTERNAL_PORT: '0',
      CALLFLEET_STREAM_KEY: STREAM_KEY,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      CALLFLEET_MEMORY_URL: databaseUrl,
      CALLFLEET_ENCRYPTION_KEY: KEY_SPEC,
    },
  });
  let port = 0;
  await waitFor(
    `gateway ${name} to listen`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(readFileSync(logFile, 'utf8'));
      const m = /"port":(\d+)/.exec(readFileSync(logFile, 'utf8'));
      if (m) port = Number(m[1]);
      return port > 0;
    },
    20_000,
    50,
  );
  const gateway = {
    url: `http://127.0.0.1:${port}`,
    publicBaseUrl: (config as { publicBaseUrl: string }).publicBaseUrl,
    proc,
  };
  gateways.push(gateway);
  return gateway;
}

let db: TestPostgres;
const pools: pg.Pool[] = [];

/** A fresh database on the shared server (each test sees only its own gateways' sweeps). */
async function database(name: string): Promise<{ url: string; pool: pg.Pool }> {
  const admin = createPool(db.url, { max: 1 });
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = db.url.replace(/\/postgres$/, `/${name}`);
  const pool = createPool(url, { max: 2 });
  pools.push(pool);
  return { url, pool };
}

before(async () => {
  db = await startPostgres();
});

after(async () => {
  await Promise.all(gateways.map((g) => g.proc.stop('SIGTERM', 5000)));
  for (const p of pools) await p.end().catch(() => {});
  await db?.destroy();
});

const countFor = async (pool: pg.Pool, table: 'transcript_turns' | 'memories', callSid: string) =>
  Number(
    (
      await pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${table} t JOIN calls c ON c.id = t.call_id WHERE c.call_sid = $1`,
        [callSid],
      )
    ).rows[0]?.n,
  );

describe('caller data from a rendered config on real PostgreSQL', () => {
  test('MemoryStore retention: a gateway using the store deletes what is older and keeps what is younger', async () => {
    const config = renderedConfig({}, { transcriptsDays: 7, memoriesDays: 30 });
    assert.deepEqual(
      {
        transcriptsDays: config.memory.retention.transcriptsDays,
        memoriesDays: config.memory.retention.memoriesDays,
      },
      { transcriptsDays: 7, memoriesDays: 30 },
      'the MemoryStore retention reaches the gateway config, spelled as in the API',
    );
    const { url, pool } = await database('retention');
    await migrate(pool);
    const store = new PostgresCallerMemory({ pool, keyring: parseKeyring(KEY_SPEC) });
    const now = Date.now();
    const seed = async (callSid: string, from: string, daysAgo: number) => {
      const startedAt = new Date(now - daysAgo * DAY);
      await store.writeCall({
        callSid,
        from,
        to: '+15550100000',
        startedAt: startedAt.toISOString(),
        endedAt: new Date(startedAt.getTime() + 60_000).toISOString(),
        outcome: 'completed',
        transcript: [
          { role: 'caller', text: `I called ${daysAgo} days ago`, atMs: 1000 },
          { role: 'agent', text: 'Noted.', atMs: 2000 },
        ],
      });
    };
    await seed('CAold40', '+14155550140', 40); // transcripts and memories past retention
    await seed('CAold10', '+14155550110', 10); // transcripts past retention, memories not
    await seed('CAyoung', '+14155550101', 1); // all kept
    for (const sid of ['CAold40', 'CAold10', 'CAyoung']) {
      assert.equal(await countFor(pool, 'transcript_turns', sid), 2);
      assert.equal(await countFor(pool, 'memories', sid), 1);
    }

    await startGateway('retention', config, url);
    await waitFor(
      'the sweep',
      async () =>
        (await countFor(pool, 'transcript_turns', 'CAold10')) === 0 &&
        (await countFor(pool, 'memories', 'CAold40')) === 0,
      30_000,
      200,
    );
    assert.equal(await countFor(pool, 'transcript_turns', 'CAold40'), 0, '40-day transcript deleted');
    assert.equal(await countFor(pool, 'memories', 'CAold10'), 1, '10-day memory kept (memoriesDays 30)');
    assert.equal(await countFor(pool, 'transcript_turns', 'CAyoung'), 2, '1-day transcript kept');
    assert.equal(await countFor(pool, 'memories', 'CAyoung'), 1, '1-day memory kept');
    await store.close();
  });

  test('recordTranscripts and extractMemories: a real call leaves transcript and memories only when they are on', async () => {
    const { url, pool } = await database('recording');
    const on = renderedConfig({});
    const noTranscripts = renderedConfig({ recordTranscripts: false });
    const noMemories = renderedConfig({ extractMemories: false });
    assert.equal(noTranscripts.memory.recordTranscripts, false, 'the switch reaches the gateway config');
    assert.equal(noMemories.memory.extractMemories, false, 'the switch reaches the gateway config');
    const [gwOn, gwNoTranscripts, gwNoMemories] = await Promise.all([
      startGateway('record-on', on, url),
      startGateway('no-transcripts', noTranscripts, url),
      startGateway('no-memories', noMemories, url),
    ]);
    await waitFor(
      'the gateways to migrate',
      async () => (await pool.query("SELECT to_regclass('public.calls') AS t")).rows[0]?.t !== null,
      20_000,
      100,
    );
    const call = async (gw: Gateway, from: string) => {
      const c = await startCall({
        gatewayUrl: gw.url,
        publicBaseUrl: gw.publicBaseUrl,
        authToken: AUTH_TOKEN,
        from,
        audio: speechPattern(2500),
        hangupAfterMs: 4500,
      });
      await c.done;
      await waitFor(
        `the call ${c.callSid} written`,
        async () => (await pool.query('SELECT 1 FROM calls WHERE call_sid = $1', [c.callSid])).rowCount === 1,
        15_000,
        100,
      );
      return c.callSid;
    };
    const [sidOn, sidNoTranscripts, sidNoMemories] = await Promise.all([
      call(gwOn, '+14155550201'),
      call(gwNoTranscripts, '+14155550202'),
      call(gwNoMemories, '+14155550203'),
    ]);
    assert.ok((await countFor(pool, 'transcript_turns', sidOn)) > 0, 'defaults: turns stored');
    assert.ok((await countFor(pool, 'memories', sidOn)) > 0, 'defaults: a memory (the summary) stored');
    assert.equal(
      await countFor(pool, 'transcript_turns', sidNoTranscripts),
      0,
      'recordTranscripts false: no turn',
    );
    assert.ok(
      (await countFor(pool, 'transcript_turns', sidNoMemories)) > 0,
      'extractMemories false: turns kept',
    );
    assert.equal(await countFor(pool, 'memories', sidNoMemories), 0, 'extractMemories false: no memory');
  });
});
