import { ascending, median, percentile } from "@plauder/runtime/stats";

/** What `ping` reports after its last pong, like ping(8): the spread of the round trips it measured. */
export type RttSummary = { count: number; min: number; median: number; p99: number; max: number };

/** min/median/p99/max (nearest rank) of round-trip times; `null` when there are none. */
export function summarize(samples: readonly number[]): RttSummary | null {
  if (samples.length === 0) return null;
  const sorted = ascending(samples);
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    median: median(sorted),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}
