// docs/api.md's field reference is generated; it must match the schemas.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { withReference } from '../../../cdk8s/api/docs.ts';
import { repoPath } from './examples.ts';

test('docs/api.md reference is up to date (node bin/callfleet.ts crds --docs docs/api.md)', () => {
  const text = readFileSync(repoPath('docs', 'api.md'), 'utf8');
  assert.equal(withReference(text), text);
});
