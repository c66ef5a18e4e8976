import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { imageJs } from './image-js.ts';

describe('imageJs', () => {
  it('compiles the sources the image carries to JavaScript that runs without the type stripper', () => {
    const dir = imageJs();
    assert.equal(imageJs(), dir, 'compiled once');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
      (f) => !f.startsWith('node_modules'),
    );
    assert.ok(files.includes(join('operator', 'cli', 'operator.js')));
    assert.deepEqual(
      files.filter((f) => f.endsWith('.ts')),
      [],
    );
    // --no-experimental-strip-types: a `.ts` module left anywhere in what the CLI loads would fail here.
    for (const command of ['operator', 'render']) {
      const help = spawnSync(
        process.execPath,
        ['--no-experimental-strip-types', join(dir, 'bin/callfleet.js'), command, '--help'],
        { encoding: 'utf8', timeout: 30_000 },
      );
      assert.equal(help.status, 0, `${command}: ${help.stderr}`);
    }
  });
});
