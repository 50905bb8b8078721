import type { AuthUser } from "@plauder/auth";
import {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  describeError,
  getEnv,
  getInstanceId,
  getLogger,
  getSharedRedis,
  processSingleton,
  type RateLimiter,
} from "@plauder/runtime";
import { TRPCError } from "@trpc/server";
import { getBus } from "../bus/index";
import { tooManyRequests } from "../errors";
import { metrics } from "../metrics";
import { DirectFanout } from "./direct-fanout";
import { BroadcastFeed } from "./feed";
import { BroadcastStore } from "./store";
import type { Broadcast } from "./types";

/** The bus channel broadcasts travel on. */
export function broadcastChannel(): string {
  return `${getEnv().REDIS_KEY_PREFIX}broadcasts`;
}

export function getBroadcastStore(): BroadcastStore {
  return processSingleton("broadcastStore", () => new BroadcastStore());
}

/** The process's feed; it starts with the first subscription or publish. */
export function getBroadcastFeed(): BroadcastFeed {
  return processSingleton("broadcastFeed", () => {
    const feed = new BroadcastFeed({
      bus: getBus(),
      store: getBroadcastStore(),
      channel: broadcastChannel(),
      onDeliver: (broadcast) => metrics().deliveryLatency.observe(Math.max(0, Date.now() - broadcast.sentAt) / 1000),
    });
    // The direct fan-out listens first, so it sees each broadcast before any inbox does.
    feed.subscribe(getDirectFanout().deliver);
    startRetention();
    return feed;
  });
}

/** The process's direct fan-out to broadcast subscriptions (see direct-fanout.ts). */
export function getDirectFanout(): DirectFanout {
  return processSingleton("directFanout", () => new DirectFanout());
}

function startRetention(): void {
  const env = getEnv();
  const prune = () =>
    getBroadcastStore()
      .prune(env.BROADCAST_RETENTION_COUNT, env.BROADCAST_RETENTION_DAYS * 86_400_000)
      .catch((error: Error) => getLogger().warn({ err: describeError(error) }, "broadcast retention failed"));
  setInterval(prune, 60_000).unref();
}

/**
 * Counts publishes per user, over the lobby and every channel together. When Redis is configured but unreachable, this instance counts alone
 * rather than refusing everyone: the limit is a flood guard, not a billing meter.
 */
export function publishLimiter(): RateLimiter {
  return processSingleton("publishLimiter", () => {
    const env = getEnv();
    const options = {
      name: "publish",
      limit: env.PUBLISH_RATE_LIMIT,
      windowMs: env.PUBLISH_RATE_WINDOW_SECONDS * 1000,
    };
    const local = createMemoryRateLimiter(options);
    const redis = getSharedRedis();
    if (!redis) return local;
    const shared = createRedisRateLimiter(redis, env.REDIS_KEY_PREFIX, options);
    return {
      hit: (key) => (redis.status === "ready" ? shared.hit(key).catch(() => local.hit(key)) : local.hit(key)),
      reset: (key) => shared.reset(key).catch(() => local.reset(key)),
      undo: (key) => shared.undo(key).catch(() => local.undo(key)),
      retryAfter: (key) =>
        redis.status === "ready" ? shared.retryAfter(key).catch(() => local.retryAfter(key)) : local.retryAfter(key),
    };
  });
}

/**
 * Publishes a broadcast: rate limit, store durably (which fixes its place in the global order),
 * then hand it to the bus. Resolves once stored; if the bus is down the broadcast still reaches this
 * instance's subscribers now and other instances' from the store.
 */
export async function publishBroadcast(user: AuthUser, text: string): Promise<{ id: string; sentAt: number }> {
  const decision = await publishLimiter().hit(user.id);
  if (!decision.allowed) throw tooManyRequests(decision.retryAfterSeconds, "Publishing too fast");

  const feed = getBroadcastFeed();
  await feed.start();
  const started = performance.now();
  let broadcast: Broadcast;
  try {
    broadcast = await getBroadcastStore().append({
      senderId: user.id,
      senderName: user.name,
      text,
      instanceId: getInstanceId(),
    });
  } catch (error) {
    getLogger().error({ user: user.id, err: describeError(error) }, "could not store a broadcast");
    throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "The broadcast could not be stored; try again" });
  }
  metrics().published.inc();
  try {
    await getBus().publish(broadcastChannel(), JSON.stringify(broadcast));
  } catch {
    // Stored but not fanned out: local subscribers get it now, other instances from the store.
    feed.ingest(broadcast);
  }
  metrics().publishDuration.observe((performance.now() - started) / 1000);
  return { id: broadcast.id, sentAt: broadcast.sentAt };
}
