import {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  getEnv,
  getSharedRedis,
  processSingleton,
  type RateLimiter,
} from "@plauder/runtime";

/**
 * Counts sign-in attempts per client address and email: in Redis when configured, so every instance
 * shares the budget; in memory otherwise. A success clears the count.
 */
export function getLoginLimiter(): RateLimiter {
  return processSingleton("loginLimiter", () => {
    const env = getEnv();
    const options = { name: "login", limit: env.LOGIN_MAX_ATTEMPTS, windowMs: env.LOGIN_WINDOW_SECONDS * 1000 };
    const redis = getSharedRedis();
    return redis ? createRedisRateLimiter(redis, env.REDIS_KEY_PREFIX, options) : createMemoryRateLimiter(options);
  });
}
