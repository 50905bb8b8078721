import type { Redis } from "ioredis";
import { getEnv } from "./env";
import { getSharedRedis } from "./redis";

/** The outcome of counting one attempt against a limit. */
export type RateLimitResult = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

/**
 * A fixed-window counter: at most `limit` hits per key in each `windowMs`. Fixed windows are cheap
 * (one round trip) and good enough for brute-force and flood protection, where a burst of twice the
 * limit at a window edge is harmless.
 */
export interface RateLimiter {
  hit(key: string): Promise<RateLimitResult>;
  /**
   * Whole seconds until `hit(key)` would be allowed again (at least 1 while the key is refused), or 0
   * when the next hit would be allowed now. Counts nothing: reading it never uses up the budget.
   */
  retryAfter(key: string): Promise<number>;
  reset(key: string): Promise<void>;
  /**
   * Takes back one hit of the current window (a sign-in that turned out to be right need not count
   * against a failure budget). Does nothing when the window has ended: it never opens a new one.
   */
  undo(key: string): Promise<void>;
}

export type RateLimitOptions = { name: string; limit: number; windowMs: number };

const secondsOf = (ttlMs: number) => Math.max(1, Math.ceil(ttlMs / 1000));

function decide(count: number, ttlMs: number, limit: number): RateLimitResult {
  if (count <= limit) return { allowed: true, remaining: limit - count };
  return { allowed: false, retryAfterSeconds: secondsOf(ttlMs) };
}

/** What {@link RateLimiter.retryAfter} answers for a window holding `count` hits and `ttlMs` to run. */
function waitFor(count: number, ttlMs: number, limit: number): number {
  // The next hit is refused once the window already holds `limit` hits.
  return count >= limit && ttlMs > 0 ? secondsOf(ttlMs) : 0;
}

/** Counts in Redis, so every instance shares one budget per key. */
export function createRedisRateLimiter(redis: Redis, prefix: string, options: RateLimitOptions): RateLimiter {
  const keyOf = (key: string) => `${prefix}ratelimit:${options.name}:${key}`;
  return {
    async hit(key) {
      const redisKey = keyOf(key);
      const replies = await redis
        .multi()
        .incr(redisKey)
        .pexpire(redisKey, options.windowMs, "NX")
        .pttl(redisKey)
        .exec();
      if (!replies) throw new Error("rate limit transaction was discarded");
      for (const [error] of replies) if (error) throw error;
      const count = Number(replies[0]?.[1]);
      const ttl = Number(replies[2]?.[1]);
      return decide(count, ttl > 0 ? ttl : options.windowMs, options.limit);
    },
    async retryAfter(key) {
      const redisKey = keyOf(key);
      // One transaction, so the count and its expiry describe the same window.
      const replies = await redis.multi().get(redisKey).pttl(redisKey).exec();
      if (!replies) throw new Error("rate limit transaction was discarded");
      for (const [error] of replies) if (error) throw error;
      const count = Number(replies[0]?.[1] ?? 0);
      const ttl = Number(replies[1]?.[1]);
      // -2: no such key (nothing counted); -1: no expiry, which hit() never leaves, so assume a full window.
      if (ttl === -2) return 0;
      return waitFor(count, ttl > 0 ? ttl : options.windowMs, options.limit);
    },
    async reset(key) {
      await redis.del(keyOf(key));
    },
    async undo(key) {
      // One script, so the window cannot expire between the check and the decrement (a DECR on a
      // missing key would leave a count of -1 with no expiry).
      await redis.eval(undoScript, 1, keyOf(key));
    },
  };
}

const undoScript =
  "if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 then return redis.call('DECR', KEYS[1]) end return 0";

/** Counts in this process only: the embedded default, correct for a single instance. */
export function createMemoryRateLimiter(options: RateLimitOptions, now: () => number = Date.now): RateLimiter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  const prune = (at: number) => {
    for (const [key, window] of windows) if (window.resetAt <= at) windows.delete(key);
  };
  return {
    async hit(key) {
      const at = now();
      // Expired windows are swept only when the map grows, so a flood of distinct keys stays bounded.
      if (windows.size > 10_000) prune(at);
      let window = windows.get(key);
      if (!window || window.resetAt <= at) {
        window = { count: 0, resetAt: at + options.windowMs };
        windows.set(key, window);
      }
      window.count += 1;
      return decide(window.count, window.resetAt - at, options.limit);
    },
    async retryAfter(key) {
      const window = windows.get(key);
      if (!window) return 0;
      return waitFor(window.count, window.resetAt - now(), options.limit);
    },
    async reset(key) {
      windows.delete(key);
    },
    async undo(key) {
      const window = windows.get(key);
      if (window && window.resetAt > now() && window.count > 0) window.count -= 1;
    },
  };
}

/** A limiter in Redis when one is configured (shared by every instance), in this process otherwise. */
export function createSharedRateLimiter(options: RateLimitOptions): RateLimiter {
  const redis = getSharedRedis();
  return redis ? createRedisRateLimiter(redis, getEnv().REDIS_KEY_PREFIX, options) : createMemoryRateLimiter(options);
}
