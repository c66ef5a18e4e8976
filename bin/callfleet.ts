#!/usr/bin/env node
// The `callfleet` CLI: one binary, one sub-command per role. Each sub-command module is loaded
// lazily so `callfleet gateway` never pays for the operator's Kubernetes client, and vice versa.
import { commands, usage } from './commands.ts';

const [name, ...args] = process.argv.slice(2);
const command = name ? commands[name] : undefined;

if (!command) {
  process.stderr.write(
    name && name !== '--help' && name !== '-h' ? `unknown command: ${name}\n\n${usage()}` : usage(),
  );
  process.exit(name === '--help' || name === '-h' ? 0 : 2);
}

const { run } = await command.load();
process.exit(await run(args));
