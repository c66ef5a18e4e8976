// The argument handling every `callfleet` sub-command shares: parse with node:util's parseArgs, a
// parse error exits 2 with the message (and the usage), --help prints the usage and exits 0.
import { type ParseArgsConfig, parseArgs } from 'node:util';

export type CommandLine<T extends Omit<ParseArgsConfig, 'args'>> = ReturnType<
  typeof parseArgs<T & { args: string[] }>
>;

export interface CommandText {
  usage: string;
  /** Before a parse error's message (e.g. `callfleet check: `). */
  prefix?: string;
  /** After a parse error's message (default: the usage). */
  onError?: string;
}

/** The parsed command line, or the exit code when there is nothing to run (a bad option, --help). */
export function parseCommandLine<const T extends Omit<ParseArgsConfig, 'args'>>(
  args: string[],
  config: T,
  text: CommandText,
): CommandLine<T> | number {
  let parsed: CommandLine<T>;
  try {
    parsed = parseArgs({ ...config, args }) as CommandLine<T>;
  } catch (error) {
    process.stderr.write(`${text.prefix ?? ''}${(error as Error).message}\n${text.onError ?? text.usage}`);
    return 2;
  }
  if ((parsed.values as { help?: unknown }).help) {
    process.stdout.write(text.usage);
    return 0;
  }
  return parsed;
}
