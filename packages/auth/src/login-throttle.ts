import {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  getEnv,
  getSharedRedis,
  processSingleton,
  type RateLimiter,
} from "@plauder/runtime";
import { emailSchema } from "./validators";

/** The login limiter, which also knows the key sign-ins are counted under. */
export interface LoginLimiter extends RateLimiter {
  /**
   * Seconds until `clientAddress` may try to sign in as `email` again (at least 1 while throttled), or
   * 0 when it may now. The email is normalised as sign-in normalises it. Counts no attempt.
   */
  retryAfterSecondsFor(clientAddress: string, email: string): Promise<number>;
}

/** The key attempts are counted under: one budget per client address and (normalised) email. */
export function loginThrottleKey(clientAddress: string, email: string): string {
  return `${clientAddress}|${email}`;
}

/**
 * Counts sign-in attempts per client address and email: in Redis when configured, so every instance
 * shares the budget; in memory otherwise. A success clears the count.
 */
export function getLoginLimiter(): LoginLimiter {
  return processSingleton("loginLimiter", () => {
    const env = getEnv();
    const options = { name: "login", limit: env.LOGIN_MAX_ATTEMPTS, windowMs: env.LOGIN_WINDOW_SECONDS * 1000 };
    const redis = getSharedRedis();
    const limiter = redis
      ? createRedisRateLimiter(redis, env.REDIS_KEY_PREFIX, options)
      : createMemoryRateLimiter(options);
    return {
      hit: (key) => limiter.hit(key),
      retryAfter: (key) => limiter.retryAfter(key),
      reset: (key) => limiter.reset(key),
      async retryAfterSecondsFor(clientAddress, email) {
        const parsed = emailSchema.safeParse(email);
        // Sign-in refuses such an email before counting anything, so nothing is throttled under it.
        if (!parsed.success) return 0;
        return limiter.retryAfter(loginThrottleKey(clientAddress, parsed.data));
      },
    } satisfies LoginLimiter;
  });
}
