import { describe, expect, it } from "vitest";
import { createCachedProbe } from "../src/cached-probe";

/** A probe whose runs the test settles by hand, on a clock the test moves. */
function harness(maxAgeMs = 1_000) {
  let clock = 0;
  const runs: Array<{ resolve(value: string): void; reject(error: Error): void }> = [];
  const probe = createCachedProbe(
    () =>
      new Promise<string>((resolve, reject) => {
        runs.push({ resolve, reject });
      }),
    { maxAgeMs, now: () => clock },
  );
  return {
    probe,
    runs,
    advance(ms: number) {
      clock += ms;
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("createCachedProbe", () => {
  it("lets concurrent callers share one run", async () => {
    const { probe, runs } = harness();
    const answers = Array.from({ length: 200 }, () => probe.get());
    expect(runs).toHaveLength(1);
    runs[0]?.resolve("up");
    expect(await Promise.all(answers)).toEqual(Array(200).fill("up"));
  });

  it("reuses a settled answer until it is maxAgeMs old, then runs again", async () => {
    const { probe, runs, advance } = harness(1_000);
    const first = probe.get();
    runs[0]?.resolve("up");
    await first;
    advance(999);
    expect(await probe.get()).toBe("up");
    expect(runs).toHaveLength(1);
    advance(1);
    const second = probe.get();
    expect(runs).toHaveLength(2);
    runs[1]?.resolve("down");
    expect(await second).toBe("down");
  });

  it("ages an answer from when it arrived, not from when the run began", async () => {
    const { probe, runs, advance } = harness(1_000);
    const first = probe.get();
    advance(1_500);
    runs[0]?.resolve("up");
    await first;
    advance(500);
    expect(await probe.get()).toBe("up");
    expect(runs).toHaveLength(1);
  });

  it("does not cache a run that throws", async () => {
    const { probe, runs } = harness();
    const failing = probe.get();
    runs[0]?.reject(new Error("boom"));
    await expect(failing).rejects.toThrow("boom");
    await settle();
    const next = probe.get();
    expect(runs).toHaveLength(2);
    runs[1]?.resolve("up");
    expect(await next).toBe("up");
  });
});
