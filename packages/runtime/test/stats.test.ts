import { describe, expect, it } from "vitest";
import { median, percentile } from "../src/stats";

describe("percentile (nearest rank)", () => {
  it("picks the 99th of 100 and the 198th of 200, whatever the order", () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 99)).toBe(99);
    const twoHundred = Array.from({ length: 200 }, (_, i) => 200 - i);
    expect(percentile(twoHundred, 99)).toBe(198);
  });

  it("answers a measured value at the edges, NaN for no samples", () => {
    expect(percentile([3, 1, 2], 0)).toBe(1);
    expect(percentile([3, 1, 2], 50)).toBe(2);
    expect(percentile([3, 1, 2], 100)).toBe(3);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe("median", () => {
  it("takes the middle value, or the mean of the two middle ones", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([5, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
