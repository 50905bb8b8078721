/** What `ping` reports after its last pong, like ping(8): the spread of the round trips it measured. */
export type RttSummary = { count: number; min: number; median: number; p99: number; max: number };

/** Nearest-rank percentile of ascending `sorted` (non-empty): a value that was actually measured. */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

function median(sorted: readonly number[]): number {
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  if (sorted.length % 2 === 1) return upper;
  return ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
}

/** min/median/p99/max of round-trip times; `null` when there are none. */
export function summarize(samples: readonly number[]): RttSummary | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    median: median(sorted),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}
