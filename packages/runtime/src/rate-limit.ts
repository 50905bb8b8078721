import type { Redis } from "ioredis";

/** The outcome of counting one attempt against a limit. */
export type RateLimitResult = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

/**
 * A fixed-window counter: at most `limit` hits per key in each `windowMs`. Fixed windows are cheap
 * (one round trip) and good enough for brute-force and flood protection, where a burst of twice the
 * limit at a window edge is harmless.
 */
export interface RateLimiter {
  hit(key: string): Promise<RateLimitResult>;
  reset(key: string): Promise<void>;
}

export type RateLimitOptions = { name: string; limit: number; windowMs: number };

function decide(count: number, ttlMs: number, limit: number): RateLimitResult {
  if (count <= limit) return { allowed: true, remaining: limit - count };
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) };
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
    async reset(key) {
      await redis.del(keyOf(key));
    },
  };
}

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
    async reset(key) {
      windows.delete(key);
    },
  };
}
