// The mark ring grows while marks are pending and keeps what the caller heard exact.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MarkTracker } from '../../../voice-gateway/call/marks.ts';

describe('mark tracker', () => {
  it('starts small, grows while more marks are pending than it holds, and stays exact', () => {
    const t = new MarkTracker();
    assert.equal(t.capacity, 16);
    const names: string[] = [];
    for (let i = 0; i < 300; i++) names.push(t.sent('item', 20));
    assert.ok(t.capacity >= 300, `capacity ${t.capacity}`);
    assert.ok(t.pending);
    for (const [i, name] of names.entries()) {
      assert.ok(t.echoed(name));
      assert.equal(t.playedMs('item'), (i + 1) * 20, `after mark ${name}`);
    }
    assert.equal(t.heardTotalMs, 300 * 20);
    assert.equal(t.pending, false);
  });

  it('a call whose marks come back keeps the small ring', () => {
    const t = new MarkTracker();
    for (let i = 0; i < 1000; i++) t.echoed(t.sent('item', 200));
    assert.equal(t.capacity, 16);
    assert.equal(t.heardTotalMs, 1000 * 200);
  });

  it('stops growing at 1024 pending marks (bounded), older ones are forgotten', () => {
    const t = new MarkTracker();
    const names: string[] = [];
    for (let i = 0; i < 3000; i++) names.push(t.sent('item', 20));
    assert.equal(t.capacity, 1024);
    assert.ok(t.echoed(names[0] as string), 'an overwritten mark is still one we sent');
    assert.equal(t.playedMs('item'), 0, 'but its position is forgotten');
    assert.ok(t.echoed(names[2999] as string));
    assert.equal(t.playedMs('item'), 3000 * 20);
  });
});
