/**
 * Percentile and median of measured samples. This file imports nothing, so the browser's test
 * console, the CLI, the tests and the benchmark all load this one definition
 * (`@plauder/runtime/stats`).
 */

/** The samples in ascending order, as a new array. */
export function ascending(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/**
 * Nearest-rank percentile: the smallest sample with at least `p` % of the samples at or below it, so
 * always a value that was actually measured (p99 of 100 samples is the 99th, of 200 the 198th).
 * `NaN` when there are no samples.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = ascending(values);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/** The middle sample, or the mean of the two middle ones for an even count; `NaN` when there are none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = ascending(values);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] as number) + upper) / 2;
}
