import { describe, expect, it } from "vitest";
import { jitteredBackoff } from "../src/backoff";

describe("reconnect backoff", () => {
  it("grows exponentially within [half, all] of the ceiling, capped at the maximum", () => {
    for (const [attempt, ceiling] of [
      [0, 500],
      [1, 1_000],
      [3, 4_000],
      [10, 15_000],
    ] as const) {
      for (let i = 0; i < 200; i++) {
        const delay = jitteredBackoff(attempt);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it("spreads clients told to reconnect at the same moment instead of sending them back together", () => {
    const first = Array.from({ length: 1_000 }, () => jitteredBackoff(0));
    const distinct = new Set(first).size;
    // 1 000 clients over a 250 ms window: without jitter they would all share one value.
    expect(distinct).toBeGreaterThan(200);
    const buckets = new Array(5).fill(0);
    for (const delay of first) buckets[Math.min(4, Math.floor((delay - 250) / 50))]++;
    for (const count of buckets) expect(count).toBeGreaterThan(100);
  });
});
