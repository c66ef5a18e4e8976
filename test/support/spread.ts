// Figures of repeated benchmark runs: the median (the headline) with the spread around it.
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

/** Median, min, max and every run of `xs`, rounded to `digits`. */
export function spread(xs: number[], digits = 3): Spread {
  const round = (x: number) => Number(x.toFixed(digits));
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return {
    median: round(median),
    min: round(sorted[0] ?? Number.NaN),
    max: round(sorted.at(-1) ?? Number.NaN),
    runs: xs.map(round),
  };
}
