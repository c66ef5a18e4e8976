// The product binary's command table against the image: every module a `callfleet` sub-command loads
// (followed through its imports) is a file the Dockerfile copies into the image, and every package it
// imports is a production dependency. A command that reached into test code the image lacks, or a
// dev-only package, would fail only in a cluster; here it fails at once (ADR 0025).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { commands } from '../../bin/commands.ts';

const root = resolve(new URL('../../', import.meta.url).pathname);
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/**
 * What the image's code is made of: the sources the `js` stage copies from the build context (files and
 * folders, minus .dockerignore's exclusions) and compiles into the runtime stage. tsc compiles what they
 * import too, but only what was copied is there to compile.
 */
function imageFiles(): (path: string) => boolean {
  const stages = read('Dockerfile').split(/^FROM /m);
  const js = stages.find((stage) => stage.includes(' AS js')) ?? '';
  const runtime = stages.find((stage) => stage.includes(' AS runtime')) ?? '';
  assert.match(runtime, /^COPY --from=js \S+ \.\/$/m, 'the runtime stage copies the compiled sources');
  const sources = [...js.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => (m[1] ?? '').split(/\s+/));
  assert.ok(sources.includes('bin'), `the js stage copies bin/ (found ${sources.join(', ')})`);
  const ignored = (path: string) => /\.test\.ts$|\.md$/.test(path);
  return (path) => !ignored(path) && sources.some((s) => path === s || path.startsWith(`${s}/`));
}

const productionDependencies = new Set(Object.keys(JSON.parse(read('package.json')).dependencies ?? {}));

/** Imports that exist at run time (type-only imports are erased). */
function runtimeImports(source: string): string[] {
  const specifiers: string[] = [];
  for (const m of source.matchAll(
    /(?:^|\n)\s*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?'([^']+)'/g,
  )) {
    if (!m[1]) specifiers.push(m[2] ?? '');
  }
  for (const m of source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) specifiers.push(m[1] ?? '');
  return specifiers;
}

/** Every file and package a module loads, transitively. */
function closure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const specifier of runtimeImports(read(file))) {
      if (specifier.startsWith('.')) visit(relative(root, resolve(root, dirname(file), specifier)));
      else if (!specifier.startsWith('node:') && !builtinModules.includes(specifier)) {
        const parts = specifier.split('/');
        packages.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? ''));
      }
    }
  };
  visit(entry);
  return { files, packages };
}

/** The module each command's `load` imports (read from its source: the table names it literally). */
function entries(): [string, string][] {
  return Object.entries(commands).map(([name, command]) => {
    const target = /import\('([^']+)'\)/.exec(command.load.toString())?.[1];
    assert.ok(target, `${name}: load() imports a module`);
    return [name, relative(root, resolve(root, 'bin', target))];
  });
}

describe('callfleet command table', () => {
  it('every module a command loads, and what it imports, ships in the image', () => {
    const inImage = imageFiles();
    for (const [name, entry] of [['(the binary)', 'bin/callfleet.ts'], ...entries()] as [string, string][]) {
      assert.ok(existsSync(join(root, entry)), `${name}: ${entry} exists`);
      const { files, packages } = closure(entry);
      for (const file of files)
        assert.ok(inImage(file), `callfleet ${name} loads ${file}, which the image lacks`);
      for (const pkg of packages) {
        assert.ok(
          productionDependencies.has(pkg),
          `callfleet ${name} imports ${pkg}, not a production dependency`,
        );
      }
    }
  });

  it('the checker sees test code the image does not copy', () => {
    const inImage = imageFiles();
    assert.ok(inImage('test/simulator/call.ts'), 'the simulator ships (callfleet call)');
    assert.ok(!inImage('test/support/cluster.ts'), 'the test harness does not');
    assert.ok(!inImage('voice-gateway/server.test.ts'), '.dockerignore drops tests');
  });

  it('usage lists every command; an unknown one exits 2, --help exits 0', () => {
    const cli = join(root, 'bin/callfleet.ts');
    const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(help.status, 0);
    for (const name of Object.keys(commands)) assert.match(help.stderr, new RegExp(`^  ${name} `, 'm'));
    const unknown = spawnSync(process.execPath, [cli, 'nope'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /^unknown command: nope/);
  });
});
