import { Redis, type RedisOptions } from "ioredis";
import { getEnv } from "./env";
import { getLogger } from "./logger";
import { closeProcessSingleton, processSingleton } from "./singleton";

/** Opens a Redis connection that reconnects by itself and logs state changes without the URL (it may hold a password). */
export function createRedis(url: string, role: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    // Commands wait for a reconnect instead of piling up forever: fail fast, let callers degrade.
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    connectionName: `plauder-${role}`,
    ...options,
  });
  const log = getLogger().child({ redis: role });
  let wasReady = false;
  redis.on("ready", () => {
    wasReady = true;
    log.info("redis ready");
  });
  redis.on("end", () => log.info("redis connection closed"));
  redis.on("error", (error: Error) => {
    if (wasReady) log.warn({ err: error.message }, "redis error");
  });
  return redis;
}

/** The process's shared command connection, or `null` on the embedded defaults (no `REDIS_URL`). */
export function getSharedRedis(): Redis | null {
  return processSingleton("redis.commands", () => {
    const url = getEnv().REDIS_URL;
    // Commands issued in one tick leave in one write: many answers' pieces, presence refreshes and
    // publishes share a syscall instead of paying one each (the tutor's benchmark counts them).
    return url ? createRedis(url, "commands", { enableAutoPipelining: true }) : null;
  });
}

/** Closes the shared command connection, if one was opened. */
export async function closeSharedRedis(): Promise<void> {
  await closeProcessSingleton<Redis | null>("redis.commands", (redis) => redis?.quit().catch(() => redis.disconnect()));
}
