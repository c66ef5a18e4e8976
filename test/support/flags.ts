// Command-line values of the benchmarks, checked where they are read.

/** The value of `--<flag>` as a whole number of at least 1, or an error naming the flag. */
export function countFlag(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isInteger(n) || n < 1)
    throw new Error(`--${flag} ${value ?? ''}: expected a whole number of at least 1`);
  return n;
}
