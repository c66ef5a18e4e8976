// `callfleet crds [--out DIR] [--check DIR]`: write the CRDs generated from the zod schemas, or
// check that DIR is up to date (exit 1 listing the stale files). Without options: YAML to stdout.
// `--docs FILE` rewrites the generated field reference inside FILE (docs/api.md).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrds } from '../../cdk8s/api/crd.ts';
import { withReference } from '../../cdk8s/api/docs.ts';
import { parseCommandLine } from './args.ts';

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(
    args,
    {
      options: {
        out: { type: 'string' },
        check: { type: 'string' },
        docs: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    {
      usage: 'usage: callfleet crds [--out DIR] [--check DIR] [--docs FILE]\n',
      prefix: 'callfleet crds: ',
      onError: '',
    },
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  if (values.docs) {
    writeFileSync(values.docs, withReference(readFileSync(values.docs, 'utf8')));
    if (!values.out && !values.check) return 0;
  }
  const files = renderCrds();
  if (values.check) {
    const stale: string[] = [];
    for (const [name, text] of files) {
      const path = join(values.check, name);
      if (!existsSync(path) || readFileSync(path, 'utf8') !== text) stale.push(path);
    }
    if (stale.length) {
      process.stderr.write(
        `callfleet crds: out of date with the zod schemas (run \`make manifests\`):\n${stale.map((s) => `  ${s}\n`).join('')}`,
      );
      return 1;
    }
    return 0;
  }
  if (values.out) {
    mkdirSync(values.out, { recursive: true });
    for (const [name, text] of files) writeFileSync(join(values.out, name), text);
    return 0;
  }
  process.stdout.write([...files.values()].join('---\n'));
  return 0;
}
