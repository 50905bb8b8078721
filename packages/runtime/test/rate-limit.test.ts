import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { createMemoryRateLimiter, createRedisRateLimiter, type RateLimiter } from "../src/rate-limit";

const redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379", { lazyConnect: true });
afterAll(() => redis.quit());

let clock = 0;
/** Name, factory, "let the window pass", and the window in whole seconds. */
const limiters: Array<[string, () => RateLimiter, (ms: number) => Promise<void>, number]> = [
  [
    "memory",
    () => createMemoryRateLimiter({ name: "t", limit: 3, windowMs: 1_000 }, () => clock),
    async (ms) => {
      clock += ms;
    },
    1,
  ],
  [
    "redis",
    // Real time: a window long enough that a busy machine's pauses between hits stay inside it.
    () => createRedisRateLimiter(redis, `plauder-test-${randomUUID()}:`, { name: "t", limit: 3, windowMs: 2_000 }),
    () => new Promise((resolve) => setTimeout(resolve, 2_050)),
    2,
  ],
];

describe.each(limiters)("%s rate limiter", (_name, create, advance, windowSeconds) => {
  /** A new limiter that has already counted `times` hits of `key`. */
  const afterHits = async (key: string, times: number) => {
    const limiter = create();
    for (let i = 0; i < times; i++) await limiter.hit(key);
    return limiter;
  };

  it("allows the limit, refuses the next hit with a retry time, and opens again after the window", async () => {
    const limiter = create();
    for (let i = 0; i < 3; i++) expect((await limiter.hit("k")).allowed).toBe(true);
    const refused = await limiter.hit("k");
    expect(refused.allowed).toBe(false);
    if (!refused.allowed) expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect((await limiter.hit("other")).allowed).toBe(true);
    await advance(1_000);
    expect((await limiter.hit("k")).allowed).toBe(true);
  });

  it("forgets a key on reset", async () => {
    const limiter = await afterHits("r", 4);
    await limiter.reset("r");
    expect((await limiter.hit("r")).allowed).toBe(true);
  });

  it("reads the time until the next allowed hit without counting one", async () => {
    const limiter = create();
    expect(await limiter.retryAfter("p")).toBe(0);
    await limiter.hit("p");
    await limiter.hit("p");
    // Reading it many times costs nothing: the budget still has its third hit.
    for (let i = 0; i < 5; i++) expect(await limiter.retryAfter("p")).toBe(0);
    expect((await limiter.hit("p")).allowed).toBe(true);
    // The window is full: the next hit would be refused, for the rest of the window.
    expect(await limiter.retryAfter("p")).toBe(windowSeconds);
    const refused = await limiter.hit("p");
    expect(refused.allowed).toBe(false);
    if (!refused.allowed) expect(await limiter.retryAfter("p")).toBe(refused.retryAfterSeconds);
    expect(await limiter.retryAfter("other")).toBe(0);
    await advance(1_000);
    expect(await limiter.retryAfter("p")).toBe(0);
    expect((await limiter.hit("p")).allowed).toBe(true);
  });

  it("takes back one hit of the current window on undo, and never opens a window by it", async () => {
    const limiter = await afterHits("u", 3);
    await limiter.undo("u");
    // The hit taken back is free again, and only that one.
    expect((await limiter.hit("u")).allowed).toBe(true);
    expect((await limiter.hit("u")).allowed).toBe(false);
    // Undo on a key with no window leaves nothing behind: the full budget remains.
    await limiter.undo("fresh");
    for (let i = 0; i < 3; i++) expect((await limiter.hit("fresh")).allowed).toBe(true);
    expect((await limiter.hit("fresh")).allowed).toBe(false);
  });

  it("reads 0 after a reset", async () => {
    const limiter = await afterHits("q", 4);
    expect(await limiter.retryAfter("q")).toBeGreaterThanOrEqual(1);
    await limiter.reset("q");
    expect(await limiter.retryAfter("q")).toBe(0);
  });
});

describe("retryAfter over a long window", () => {
  const windowMs = 600_000;

  it("memory: counts down the rest of the window, as hit() reports it", async () => {
    let at = 0;
    const limiter = createMemoryRateLimiter({ name: "long", limit: 2, windowMs }, () => at);
    await limiter.hit("k");
    at = 1_000;
    await limiter.hit("k");
    expect(await limiter.retryAfter("k")).toBe(599);
    at = 100_500;
    const refused = await limiter.hit("k");
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 500 });
    expect(await limiter.retryAfter("k")).toBe(500);
    at = 599_999;
    expect(await limiter.retryAfter("k")).toBe(1);
    at = 600_000;
    expect(await limiter.retryAfter("k")).toBe(0);
  });

  it("redis: reports the key's remaining time, as hit() reports it", async () => {
    const prefix = `plauder-test-${randomUUID()}:`;
    const limiter = createRedisRateLimiter(redis, prefix, { name: "long", limit: 2, windowMs });
    try {
      await limiter.hit("k");
      await limiter.hit("k");
      const waiting = await limiter.retryAfter("k");
      expect(waiting).toBeGreaterThanOrEqual(599);
      expect(waiting).toBeLessThanOrEqual(600);
      const refused = await limiter.hit("k");
      expect(refused.allowed).toBe(false);
      if (!refused.allowed)
        expect(Math.abs((await limiter.retryAfter("k")) - refused.retryAfterSeconds)).toBeLessThanOrEqual(1);
      // Shortening the key's expiry (as time passing would) shows up in the answer.
      await redis.pexpire(`${prefix}ratelimit:long:k`, 42_300);
      expect(await limiter.retryAfter("k")).toBe(43);
    } finally {
      await limiter.reset("k");
    }
  });
});
