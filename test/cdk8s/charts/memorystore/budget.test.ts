// The connection budget as a pure function: the formula, the cap, the floor, external stores.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectionBudget } from '../../../../cdk8s/charts/memorystore/budget.ts';

describe('connectionBudget', () => {
  test('Σ (maxReplicas + 1) × pool + reserved, max_connections rounded up to 25', () => {
    const b = connectionBudget('postgres', undefined, [
      { name: 'a', maxReplicas: 10 },
      { name: 'b', maxReplicas: 3 },
    ]);
    assert.deepEqual(
      {
        gateways: b.gatewaysAtPeak,
        pool: b.poolPerGateway,
        needed: b.needed,
        max: b.maxConnections,
        fits: b.fits,
      },
      { gateways: 15, pool: 10, needed: 160, max: 175, fits: true },
    );
  });

  test('no VoiceAgent: only the reserved connections', () => {
    const b = connectionBudget('postgres', undefined, []);
    assert.equal(b.needed, 10);
    assert.equal(b.maxConnections, 25);
    assert.equal(b.poolPerGateway, 10);
  });

  test('over the cap: every pool lowered to fit, never above the cap', () => {
    const b = connectionBudget('cloudnative-pg', { maxConnections: 100, reserved: 10 }, [
      { name: 'a', maxReplicas: 15 },
    ]);
    assert.equal(b.poolPerGateway, 5); // ⌊90 / 16⌋
    assert.equal(b.needed, 90);
    assert.equal(b.maxConnections, 100);
    assert.ok(b.fits);
  });

  test('below a pool of 2 the budget does not fit, and says what to change', () => {
    const b = connectionBudget('postgres', { maxConnections: 50, reserved: 10 }, [
      { name: 'a', maxReplicas: 30 },
    ]);
    assert.equal(b.fits, false);
    assert.equal(b.poolPerGateway, 2);
    assert.equal(b.maxConnections, 50);
    assert.match(b.message, /raise spec\.connections\.maxConnections or lower maxReplicas/);
  });

  test('external: max_connections is what the server allows, only the pools are sized', () => {
    const b = connectionBudget('external', { maxConnections: 80 }, [{ name: 'a', maxReplicas: 9 }]);
    assert.equal(b.maxConnections, 80);
    assert.equal(b.poolPerGateway, 7); // ⌊70 / 10⌋
  });

  test('maxPoolPerGateway caps the pool even with room to spare', () => {
    const b = connectionBudget('postgres', { maxPoolPerGateway: 4 }, [{ name: 'a', maxReplicas: 4 }]);
    assert.equal(b.poolPerGateway, 4);
    assert.equal(b.needed, 30);
  });
});
