export { clientAddressHeader, clientAddressOf, forwardedAddress } from "./client-address";
export { describeError } from "./describe-error";
export { type Env, envSchema, getEnv, parseEnv, resetEnv } from "./env";
export { getInstanceId } from "./instance";
export { getLogger, type Logger } from "./logger";
export {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  createSharedRateLimiter,
  type RateLimiter,
  type RateLimitOptions,
  type RateLimitResult,
} from "./rate-limit";
export { closeSharedRedis, createRedis, getSharedRedis } from "./redis";
export { clearProcessSingleton, closeProcessSingleton, processSingleton } from "./singleton";
export { withTimeout } from "./timeout";
