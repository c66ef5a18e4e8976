// The layers of docs/architecture.md run one way: the desired state (cdk8s/) never reaches into the
// controller (operator/), the gateway pod (voice-gateway/) never into the operator or the API, and nothing that ships
// imports test code (the image has no test/). Every import of every TypeScript file, static and dynamic.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, test } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;
const SKIP = new Set(['node_modules', '.git', 'crds', 'docs', 'examples']);

/** Forbidden directions: a file under `from` must not import a module under `to`. */
const RULES: { from: (file: string) => boolean; to: string; why: string }[] = [
  { from: (f) => f.startsWith('cdk8s/'), to: 'operator/', why: 'desired state does not know the controller' },
  {
    // The admin commands beside `callfleet gateway` (memory, backups) may read a MemoryStore through the
    // operator's Kubernetes client: they run on an operator's laptop or in a Job, never in the pod.
    from: (f) =>
      f.startsWith('voice-gateway/') &&
      (!f.startsWith('voice-gateway/cli/') || f === 'voice-gateway/cli/gateway.ts'),
    to: 'operator/',
    why: 'the gateway pod runs without the operator',
  },
  {
    from: (f) => f.startsWith('voice-gateway/'),
    to: 'cdk8s/',
    why: 'the gateway reads its config, not the API',
  },
  { from: (f) => !f.startsWith('test/'), to: 'test/', why: 'the image contains no test/' },
];

/** Deliberate exceptions, each with its reason. */
const KNOWN: Record<string, string> = {
  // `callfleet call` is the Twilio call simulator; the image copies test/simulator/ for it (ADR 0025),
  // and test/bin/commands.test.ts checks that everything it loads ships.
  'bin/commands.ts -> test/simulator/cli.ts': 'ADR 0025',
};

const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The module specifiers a source text imports (static, re-export, side-effect and dynamic). */
export function specifiers(source: string): string[] {
  return [...source.matchAll(SPECIFIER)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

function sources(dir = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...sources(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** `file -> target` for every relative import, both as repository paths. */
function edges(): string[] {
  const out: string[] = [];
  for (const file of sources()) {
    for (const spec of specifiers(readFileSync(join(ROOT, file), 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      out.push(`${file} -> ${relative(ROOT, normalize(join(ROOT, dirname(file), spec)))}`);
    }
  }
  return out;
}

describe('layers', () => {
  test('the scanner reads static, re-exported, side-effect and dynamic imports', () => {
    const text = [
      "import { a } from './a.ts';",
      "import type { B } from '../b.ts';",
      "export { c } from './c.ts';",
      "import './d.ts';",
      "const e = () => import('../../e.ts');",
      '// import nothing from here',
    ].join('\n');
    assert.deepEqual(specifiers(text), ['./a.ts', '../b.ts', './c.ts', './d.ts', '../../e.ts']);
  });

  const all = edges();
  test('the scan covers the tree', () => {
    assert.ok(all.length > 500, `only ${all.length} imports found`);
  });

  for (const rule of RULES) {
    test(`no import of ${rule.to} where ${rule.why}`, () => {
      const broken = all.filter((edge) => {
        const [from = '', to = ''] = edge.split(' -> ');
        return rule.from(from) && to.startsWith(rule.to) && !(edge in KNOWN);
      });
      assert.deepEqual(broken, [], `${rule.why}: ${broken.join(', ')}`);
    });
  }
});
