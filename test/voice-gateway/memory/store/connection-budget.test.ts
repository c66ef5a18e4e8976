// Acceptance: a fleet at its maxReplicas under load never exhausts the database's connections. The
// budget is computed by the function the operator renders with (max_connections for the server, pool
// size for every gateway); a real PostgreSQL runs with that max_connections; one gateway pool per pod
// the fleet can have at its peak (maxReplicas + the rollout's surge pod, for every VoiceAgent) is driven
// past its size while the reserved connections are in use; pg_stat_activity is sampled throughout. The
// same fleet with the old fixed pool of 10 exhausts the same server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { connectionBudget, type FleetMember } from '../../../../cdk8s/charts/memorystore/budget.ts';
import { createPool } from '../../../../voice-gateway/memory/store/pool.ts';
import { startPostgres, type TestPostgres } from '../../../support/postgres.ts';

// Two VoiceAgents on one store, under the cap PostgreSQL ships with (max_connections 100).
const FLEET: FleetMember[] = [
  { name: 'support', maxReplicas: 6 },
  { name: 'sales', maxReplicas: 4 },
];
const CONNECTIONS = { maxConnections: 100, reserved: 10, maxPoolPerGateway: 10 };
const LOAD_MS = 3000;

interface Observed {
  peak: number;
  errors: string[];
  queries: number;
}

/** Saturates every pool (3× its size in flight) and the reserved connections, sampling connections. */
async function drive(
  server: TestPostgres,
  pools: pg.Pool[],
  poolSize: number,
  reserved: number,
): Promise<Observed> {
  const sampler = createPool(server.url, { max: 1, applicationName: 'sampler' });
  let peak = 0;
  let sampling = true;
  const sample = (async () => {
    while (sampling) {
      const r = await sampler.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'",
      );
      peak = Math.max(peak, r.rows[0]?.n ?? 0);
      await new Promise((res) => setTimeout(res, 10));
    }
  })();
  const errors: string[] = [];
  let queries = 0;
  const until = Date.now() + LOAD_MS;
  const worker = async (pool: pg.Pool) => {
    while (Date.now() < until) {
      try {
        await pool.query('SELECT pg_sleep(0.02)');
        queries++;
      } catch (error) {
        errors.push((error as Error).message);
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  };
  // The reserved share: the operator's probe, `callfleet memory`, a backup, migrations (superuser).
  const admin = createPool(server.url, { max: reserved - 4, applicationName: 'admin' });
  const work = [
    ...pools.flatMap((p) => Array.from({ length: 3 * poolSize }, () => worker(p))),
    ...Array.from({ length: reserved - 4 }, () => worker(admin)),
  ];
  await Promise.all(work);
  sampling = false;
  await sample;
  await sampler.end();
  await admin.end();
  return { peak, errors, queries };
}

describe('connection budget: a fleet at maxReplicas under load', () => {
  const budget = connectionBudget('postgres', CONNECTIONS, FLEET);
  let server: TestPostgres;
  let gatewayUrl: string;

  before(async () => {
    server = await startPostgres({ settings: { max_connections: budget.maxConnections } });
    // Gateways log in as an ordinary role: superuser_reserved_connections are not theirs.
    const admin = createPool(server.url, { max: 1 });
    await admin.query("CREATE ROLE gateway LOGIN PASSWORD 'gateway'");
    await admin.end();
    gatewayUrl = server.url.replace('postgres@', 'gateway:gateway@');
  });
  after(async () => {
    await server?.destroy();
  });

  test('the computed budget fits the cap by lowering every gateway’s pool', () => {
    assert.equal(budget.gatewaysAtPeak, 6 + 1 + 4 + 1);
    assert.ok(budget.fits, budget.message);
    assert.ok(budget.poolPerGateway < CONNECTIONS.maxPoolPerGateway, 'the pool was lowered to fit');
    assert.ok(budget.needed <= budget.maxConnections);
  });

  test('observed peak connections stay within the budget and no connection is refused', async (t) => {
    const pools = Array.from({ length: budget.gatewaysAtPeak }, (_, i) =>
      createPool(gatewayUrl, {
        max: budget.poolPerGateway,
        applicationName: `gateway-${i}`,
        connectTimeoutMs: 5000,
      }),
    );
    const observed = await drive(server, pools, budget.poolPerGateway, CONNECTIONS.reserved);
    await Promise.all(pools.map((p) => p.end()));
    const report = {
      fleet: FLEET,
      gatewaysAtPeak: budget.gatewaysAtPeak,
      poolPerGateway: budget.poolPerGateway,
      reserved: CONNECTIONS.reserved,
      budget: budget.needed,
      maxConnections: budget.maxConnections,
      observedPeak: observed.peak,
      queries: observed.queries,
      errors: observed.errors.length,
    };
    console.log(`connection budget: ${JSON.stringify(report)}`);
    t.diagnostic(budget.message);
    assert.deepEqual(observed.errors.slice(0, 3), [], 'no query failed');
    // The sampler's own connection is the one beyond the budget's gateways + reserved.
    assert.ok(observed.peak <= budget.needed + 1, `peak ${observed.peak} > budget ${budget.needed}`);
    assert.ok(observed.peak <= budget.maxConnections);
    // The load really filled the pools: every gateway connection was open at once.
    assert.ok(observed.peak >= budget.gatewaysAtPeak * budget.poolPerGateway, `peak ${observed.peak} only`);
  });

  test('the same fleet with the old fixed pool of 10 runs the server out of connections', async () => {
    const pools = Array.from({ length: budget.gatewaysAtPeak }, () =>
      createPool(gatewayUrl, { max: 10, connectTimeoutMs: 5000 }),
    );
    const observed = await drive(server, pools, 10, CONNECTIONS.reserved);
    await Promise.all(pools.map((p) => p.end()));
    console.log(
      `without the budget: ${JSON.stringify({ pool: 10, wanted: budget.gatewaysAtPeak * 10, observedPeak: observed.peak, errors: observed.errors.length })}`,
    );
    assert.ok(
      observed.errors.some((e) => /too many clients|remaining connection slots/.test(e)),
      `expected "too many clients", got ${observed.errors.slice(0, 2).join(' | ') || 'no error'}`,
    );
  });
});
