import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decrypt,
  encrypt,
  generateKeySpec,
  maskPhone,
  parseKeyring,
  phoneHashes,
  searchTerms,
  tombstoneHashes,
} from '../../../../voice-gateway/memory/store/crypto.ts';

describe('crypto', () => {
  const ring = parseKeyring(generateKeySpec('k1'));
  test('AES-256-GCM round trip, bound to its AAD and key', () => {
    const blob = encrypt(ring.active, 'hello Ada', 'memory:1');
    assert.equal(decrypt(ring, 'k1', blob, 'memory:1'), 'hello Ada');
    assert.throws(() => decrypt(ring, 'k1', blob, 'memory:2'));
    const tampered = Buffer.from(blob);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    assert.throws(() => decrypt(ring, 'k1', tampered, 'memory:1'));
    assert.throws(() => decrypt(ring, 'k9', blob, 'memory:1'), /no encryption key with id "k9"/);
  });
  test('keyed hashes: stable, normalised, distinct per purpose and key', () => {
    const [a] = phoneHashes(ring, '+1 (415) 555-0100');
    const [b] = phoneHashes(ring, '+14155550100');
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, tombstoneHashes(ring, '+14155550100')[0]);
    const other = parseKeyring(generateKeySpec('k2'));
    assert.notDeepEqual(a, phoneHashes(other, '+14155550100')[0]);
  });
  test('rotation: new key first, old keys still decrypt and hash', () => {
    const oldSpec = generateKeySpec('old');
    const rotated = parseKeyring(`${generateKeySpec('new')},${oldSpec}`);
    assert.equal(rotated.active.id, 'new');
    const before = parseKeyring(oldSpec);
    const blob = encrypt(before.active, 'x', 'a');
    assert.equal(decrypt(rotated, 'old', blob, 'a'), 'x');
    assert.equal(phoneHashes(rotated, '+14155550100').length, 2);
    assert.deepEqual(phoneHashes(rotated, '+14155550100')[1], phoneHashes(before, '+14155550100')[0]);
  });
  test('bad keys and numbers are named', () => {
    assert.throws(() => parseKeyring('k1:dG9vc2hvcnQ='), /32 bytes/);
    assert.throws(() => parseKeyring(''), /empty/);
    assert.throws(() => phoneHashes(ring, 'abc'), /E\.164/);
  });
  test('masking and search terms', () => {
    assert.equal(maskPhone('+14155554567'), '+1******4567');
    assert.deepEqual(searchTerms('The Pizzas, and café!'), ['pizza', 'cafe']);
  });
});
