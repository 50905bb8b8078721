import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { createMemoryRateLimiter, createRedisRateLimiter, type RateLimiter } from "../src/rate-limit";

const redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379", { lazyConnect: true });
afterAll(() => redis.quit());

let clock = 0;
const limiters: Array<[string, () => RateLimiter, (ms: number) => Promise<void>]> = [
  [
    "memory",
    () => createMemoryRateLimiter({ name: "t", limit: 3, windowMs: 1_000 }, () => clock),
    async (ms) => {
      clock += ms;
    },
  ],
  [
    "redis",
    () => createRedisRateLimiter(redis, `plauder-test-${randomUUID()}:`, { name: "t", limit: 3, windowMs: 300 }),
    (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 350))),
  ],
];

describe.each(limiters)("%s rate limiter", (_name, create, advance) => {
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
    const limiter = create();
    for (let i = 0; i < 4; i++) await limiter.hit("r");
    await limiter.reset("r");
    expect((await limiter.hit("r")).allowed).toBe(true);
  });
});
