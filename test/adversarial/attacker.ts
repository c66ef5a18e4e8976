// The attacker as its own process (so its work does not slow the test's legitimate callers):
// `node attacker.ts '<AttackTarget JSON>' [attack names...]` runs the attacks until SIGTERM, then
// prints one JSON line: the report of each attack.
import { ATTACKS, type AttackReport, type AttackTarget } from './attacks.ts';

const [targetJson, ...names] = process.argv.slice(2);
const target = JSON.parse(targetJson ?? '{}') as AttackTarget;
const chosen = names.length ? ATTACKS.filter((a) => names.includes(a.name)) : ATTACKS;
const abort = new AbortController();
process.once('SIGTERM', () => abort.abort());
const reports: Record<string, AttackReport | string> = {};
process.stdout.write('ATTACKING\n');
await Promise.all(
  chosen.map(async (a) => {
    try {
      reports[a.name] = await a.run(target, abort.signal);
    } catch (err) {
      reports[a.name] = `failed: ${(err as Error).message}`;
    }
  }),
);
process.stdout.write(`${JSON.stringify(reports)}\n`);
process.exit(0);
