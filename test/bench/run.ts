// `npm run bench`: runs every benchmark in test/bench/ (helpers named *-load.ts / *-raw-echo.ts or _*.ts are skipped).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('.', import.meta.url).pathname;
const files = readdirSync(dir)
  .filter(
    (f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_') && !/-(load|raw-echo)\.ts$/.test(f),
  )
  .sort();
let failed = 0;
for (const f of files) {
  process.stderr.write(`bench: ${f}\n`);
  const r = spawnSync(process.execPath, [join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
