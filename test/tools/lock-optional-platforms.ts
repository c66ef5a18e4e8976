// Keeps package-lock.json installable with `npm ci` everywhere. The registry this project is built
// against serves only the Linux x64 builds of packages that ship one binary package per platform
// (Biome), so `npm install` here leaves the other platforms' optional packages out of the lock, and
// `npm ci` then refuses the lock as out of sync. This adds them back as optional entries with their
// os/cpu/libc, which npm skips on any other platform without fetching them.
// Run after `npm install`: node test/tools/lock-optional-platforms.ts
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages: Record<string, Record<string, unknown>> = lock.packages;
let added = 0;
for (const meta of Object.values(packages)) {
  const optional = (meta.optionalDependencies ?? {}) as Record<string, string>;
  for (const [name, version] of Object.entries(optional)) {
    const match = /^@biomejs\/cli-(\w+)-(\w+)(-musl)?$/.exec(name);
    if (!match || packages[`node_modules/${name}`]) continue;
    const [, os, cpu, musl] = match;
    packages[`node_modules/${name}`] = {
      version,
      cpu: [cpu],
      license: 'MIT OR Apache-2.0',
      optional: true,
      os: [os],
      ...(musl ? { libc: ['musl'] } : {}),
      engines: { node: '>=14.21.3' },
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} optional platform package(s) added`);
