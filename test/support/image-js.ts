// The sources compiled as the image compiles them (Dockerfile stage `js`, tsconfig.image.json; ADR 0030), for
// benchmarks that measure a process's memory as it runs in a cluster: without Node's type stripper. Compiled
// once per test process into a temporary folder (removed when the process exits) in which the repository's
// node_modules and package.json are linked, so the compiled code resolves its packages and `package.json`
// import as in the image.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
let compiled: string | undefined;

/** The folder holding the compiled `bin/callfleet.js` (compiled on first use). */
export function imageJs(): string {
  if (compiled) return compiled;
  const out = mkdtempSync(join(tmpdir(), 'callfleet-image-js-'));
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.image.json'), '--outDir', out],
    { stdio: ['ignore', 'inherit', 'inherit'], timeout: 120_000 },
  );
  // tsc emits the imported package.json too; the image has the repository's own.
  rmSync(join(out, 'package.json'), { force: true });
  for (const name of ['node_modules', 'package.json']) symlinkSync(join(root, name), join(out, name));
  compiled = out;
  return out;
}
