import type { AuthUser } from "@plauder/auth";
import { describeError, getEnv, getInstanceId, getLogger, getSharedRedis, processSingleton } from "@plauder/runtime";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { getBroadcastFeed, getBroadcastStore, publishBroadcast, publishLimiter } from "../broadcasts/service";
import { getBus } from "../bus/index";
import { parseBusMessage } from "../bus/messages";
import { tooManyRequests } from "../errors";
import { metrics } from "../metrics";
import { ChannelAccess } from "./access";
import { ChannelFeed } from "./channel-feed";
import { type CommittedRun, DurableLog } from "./durable-log";
import { ChannelDurableSource, type DurableSource, LobbyDurableSource, lobbyEpoch } from "./durable-source";
import { createMemoryEphemeralLog, createRedisEphemeralLog, type EphemeralLog } from "./ephemeral-log";
import { ChannelFanout } from "./fanout";
import { type ChannelName, namespaces, type PublicationKind } from "./names";
import { createMemoryPresenceStore, createRedisPresenceStore } from "./presence";
import { ChannelPresence } from "./presence-tracker";
import { expandRun, type PublishAck, publicationId } from "./types";

/** A channel's bus topic. The hash tag keeps it on the same Redis Cluster shard as the channel's keys. */
export function channelTopic(channel: string): string {
  return `${getEnv().REDIS_KEY_PREFIX}{ch:${channel}}`;
}

/** Where membership changes are announced, so every instance forgets what it cached and expels at once. */
function accessTopic(): string {
  return `${getEnv().REDIS_KEY_PREFIX}channel-access`;
}
const accessChangeSchema = z.object({ channel: z.string(), userId: z.string() });

export function getDurableLog(): DurableLog {
  return processSingleton("channels.durableLog", () => new DurableLog(undefined, { onCommit: announceRun }));
}

export function getEphemeralLog(): EphemeralLog {
  return processSingleton("channels.ephemeralLog", () => {
    const env = getEnv();
    const limits = { maxEntries: env.EPHEMERAL_HISTORY_SIZE, ttlSeconds: env.EPHEMERAL_HISTORY_SECONDS };
    const redis = getSharedRedis();
    if (!redis) return createMemoryEphemeralLog(getBus(), limits);
    // On a Redis Cluster bus the log stays on REDIS_URL and the bus carries the runs (see ephemeral-log.ts).
    const publishing = env.REDIS_CLUSTER_NODES ? { bus: getBus() } : ({ inScript: "PUBLISH" } as const);
    return createRedisEphemeralLog(redis, env.REDIS_KEY_PREFIX, limits, publishing);
  });
}

export function getChannelAccess(): ChannelAccess {
  return processSingleton("channels.access", () => {
    const access = new ChannelAccess();
    const log = getLogger().child({ component: "channel-access" });
    getBus().subscribe(accessTopic(), (payload) => {
      const change = parseBusMessage(accessChangeSchema, payload, log, "access change");
      if (!change) return;
      access.forget(change.channel, change.userId);
      getChannelRegistry().expel(change.channel, change.userId);
    });
    return access;
  });
}

export function getChannelPresence(): ChannelPresence {
  return processSingleton("channels.presence", () => {
    const env = getEnv();
    const ttlMs = env.PRESENCE_TTL_SECONDS * 1000;
    const redis = getSharedRedis();
    const store = redis
      ? createRedisPresenceStore(redis, env.REDIS_KEY_PREFIX, ttlMs * 4)
      : createMemoryPresenceStore();
    return new ChannelPresence(store, ttlMs, (channel, message) =>
      getBus().publish(channelTopic(channel), JSON.stringify(message)),
    );
  });
}

/** The channels this instance listens to: one feed and one fan-out each, while anyone here subscribes. */
export class ChannelRegistry {
  private readonly entries = new Map<string, { feed: ChannelFeed; fanout: ChannelFanout; refs: number }>();

  acquire(channel: ChannelName): { feed: ChannelFeed; fanout: ChannelFanout } {
    let entry = this.entries.get(channel.name);
    if (!entry) {
      const feed = new ChannelFeed(
        channel.name,
        channelTopic(channel.name),
        getBus(),
        durableSourceFor(channel),
        getEphemeralLog(),
      );
      const fanout = new ChannelFanout();
      feed.subscribe(fanout.deliver);
      entry = { feed, fanout, refs: 0 };
      this.entries.set(channel.name, entry);
      metrics().channelsActive.set(this.entries.size);
    }
    entry.refs++;
    return entry;
  }

  release(channel: string): void {
    const entry = this.entries.get(channel);
    if (!entry) return;
    entry.refs--;
    if (entry.refs > 0) return;
    this.entries.delete(channel);
    metrics().channelsActive.set(this.entries.size);
    void entry.feed.stop();
  }

  feed(channel: string): ChannelFeed | undefined {
    return this.entries.get(channel)?.feed;
  }

  size(): number {
    return this.entries.size;
  }

  expel(channel: string, userId: string): void {
    this.entries.get(channel)?.fanout.expel(userId, lostAccessFrame);
  }

  async stop(): Promise<void> {
    const feeds = [...this.entries.values()].map((entry) => entry.feed.stop());
    this.entries.clear();
    await Promise.allSettled(feeds);
  }
}

/** The error a subscription gets when its person loses access (removed from the room): tRPC's error shape. */
const lostAccessFrame = `"error":${JSON.stringify({
  message: "You are no longer a member of this room",
  code: -32003,
  data: { code: "FORBIDDEN", httpStatus: 403 },
})}`;

export function getChannelRegistry(): ChannelRegistry {
  return processSingleton("channels.registry", () => new ChannelRegistry());
}

function durableSourceFor(channel: ChannelName): DurableSource {
  if (channel.namespace === "lobby") return new LobbyDurableSource(getBroadcastFeed(), getBroadcastStore());
  return new ChannelDurableSource(channel.name, getBus(), getDurableLog(), {
    // A channel's feed reads its log on a timer only as a safety net; gaps are filled when seen.
    safetyPollMs: 30_000,
    degradedPollMs: 1_000,
  });
}

/** After a durable run commits: to every instance listening, or straight to this one's feed if the bus is down. */
function announceRun(run: CommittedRun): void {
  const message = JSON.stringify({ kind: "durable", epoch: run.epoch, first: run.first, bodies: run.bodies });
  getBus()
    .publish(channelTopic(run.channel), message)
    .catch(() => {
      // Stored but not fanned out: this instance's subscribers get it now, other instances from the log.
      getChannelRegistry()
        .feed(run.channel)
        ?.ingestDurable(run.epoch, expandRun(run.channel, "durable", run.epoch, run.first, run.bodies));
    });
}

let retentionStarted = false;
function startRetention(): void {
  if (retentionStarted) return;
  retentionStarted = true;
  const prune = () =>
    getDurableLog()
      .prune(getEnv().CHANNEL_RETENTION_DAYS * 86_400_000)
      .catch((error: Error) => getLogger().warn({ err: describeError(error) }, "channel retention failed"));
  setInterval(prune, 60 * 60_000).unref();
}

/** Publishes as a person: their rate limit, the channel's rules, then the log of the kind asked for. */
export async function publishToChannel(
  user: AuthUser,
  channel: ChannelName,
  text: string,
  ephemeral: boolean | undefined,
): Promise<PublishAck> {
  const kind: PublicationKind =
    ephemeral === undefined ? namespaces[channel.namespace].kind : ephemeral ? "ephemeral" : "durable";
  if (channel.namespace === "lobby" && kind === "durable") {
    // The lobby's durable log is the v1 broadcast log, limits and all.
    const broadcast = await publishBroadcast(user, text);
    const offset = Number(broadcast.id);
    return { id: publicationId("durable", lobbyEpoch, offset), offset, epoch: lobbyEpoch, sentAt: broadcast.sentAt };
  }
  // Both checks at once: two round trips in a row (Redis, then maybe Postgres) would add up on every
  // publish. A refused publish still counts against the budget, which a flood guard may well do.
  const [, decision] = await Promise.all([
    getChannelAccess().check(user, channel, "publish"),
    publishLimiter().hit(user.id),
  ]);
  if (!decision.allowed) throw tooManyRequests(decision.retryAfterSeconds, "Publishing too fast");
  return publishAs({ id: user.id, name: user.name }, channel, text, kind);
}

/**
 * Publishes on the server's behalf (notices, the tutor's answers): no rate limit and no rules,
 * so callers decide who may cause it.
 */
export async function publishAs(
  sender: { id: string; name: string },
  channel: ChannelName,
  text: string,
  kind: PublicationKind,
): Promise<PublishAck> {
  startRetention();
  const sentAt = Date.now();
  if (kind === "ephemeral") {
    try {
      const { epoch, offset } = await getEphemeralLog().append(channel.name, channelTopic(channel.name), {
        text,
        sender,
        sentAt,
      });
      metrics().channelPublished.inc({ kind });
      return { id: publicationId(kind, epoch, offset), offset, epoch, sentAt };
    } catch (error) {
      getLogger().warn({ channel: channel.name, err: describeError(error) }, "could not publish an ephemeral message");
      throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "The message could not be sent; try again" });
    }
  }
  try {
    const publication = await getDurableLog().append({
      channel: channel.name,
      senderId: sender.id,
      senderName: sender.name,
      text,
      instanceId: getInstanceId(),
    });
    metrics().channelPublished.inc({ kind });
    return { id: publication.id, offset: publication.offset, epoch: publication.epoch, sentAt: publication.sentAt };
  } catch (error) {
    getLogger().error({ channel: channel.name, err: describeError(error) }, "could not store a channel publication");
    throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "The message could not be stored; try again" });
  }
}

/** Tells every instance that a person's access to a channel changed (forget the cache, end their subscriptions). */
export async function announceAccessChange(channel: string, userId: string): Promise<void> {
  getChannelAccess().forget(channel, userId);
  getChannelRegistry().expel(channel, userId);
  await getBus()
    .publish(accessTopic(), JSON.stringify({ channel, userId }))
    .catch(() => {
      // Other instances forget within the cache's lifetime (seconds); their live subscriptions stay
      // until the person resubscribes. Logged so an operator can see it happened.
      getLogger().warn({ channel }, "could not announce an access change; other instances catch up within seconds");
    });
}
