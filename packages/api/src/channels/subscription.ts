import type { AuthUser } from "@plauder/auth";
import { getEnv } from "@plauder/runtime";
import { TRPCError } from "@trpc/server";
import type { Connection, Context } from "../context";
import { metrics } from "../metrics";
import type { ChannelFeed } from "./channel-feed";
import type { ChannelFanout, PositionedEvent } from "./fanout";
import type { ChannelName } from "./names";
import { getChannelAccess, getChannelPresence, getChannelRegistry } from "./service";
import { type ChannelPublication, type ChannelSync, formatPosition, type Position } from "./types";

/** Channel subscriptions per connection, so the cap holds whichever path a subscription is on. */
const channelCounts = new WeakMap<Connection, number>();

/**
 * Everything one channel subscription holds while it lives, released exactly once: its slot in
 * the connection's cap, its presence, and its share of the channel's feed.
 */
export class ChannelLease {
  private ended = false;
  readonly feed: ChannelFeed;
  readonly fanout: ChannelFanout;

  private constructor(
    readonly channel: ChannelName,
    private readonly user: AuthUser,
    private readonly connection: Connection | null,
    private readonly clientId: string,
  ) {
    const { feed, fanout } = getChannelRegistry().acquire(channel);
    this.feed = feed;
    this.fanout = fanout;
    metrics().subscriptions.inc({ procedure: "channel" });
  }

  /** Checks access and the cap, then takes a share of the channel. Throws FORBIDDEN or TOO_MANY_REQUESTS. */
  static async open(ctx: Context & { user: AuthUser }, channel: ChannelName): Promise<ChannelLease> {
    await getChannelAccess().check(ctx.user, channel, "read");
    const connection = ctx.connection;
    if (connection) {
      const held = channelCounts.get(connection) ?? 0;
      const max = getEnv().WS_MAX_CHANNELS;
      if (held >= max) {
        throw new TRPCError({
          code: "TOO_MANY_REQUESTS",
          message: `At most ${max} channel subscriptions per connection`,
        });
      }
      channelCounts.set(connection, held + 1);
    }
    const lease = new ChannelLease(channel, ctx.user, connection, connection?.id ?? `call-${crypto.randomUUID()}`);
    try {
      await lease.feed.start();
      await getChannelPresence().join(channel.name, { id: ctx.user.id, name: ctx.user.name }, lease.clientId);
    } catch (error) {
      lease.end();
      throw new TRPCError({
        code: "SERVICE_UNAVAILABLE",
        message: "The channel could not be opened; try again",
        cause: error,
      });
    }
    return lease;
  }

  end = (): void => {
    if (this.ended) return;
    this.ended = true;
    if (this.connection) channelCounts.set(this.connection, (channelCounts.get(this.connection) ?? 1) - 1);
    metrics().subscriptions.dec({ procedure: "channel" });
    void getChannelPresence()
      .leave(this.channel.name, this.clientId)
      .finally(() => getChannelRegistry().release(this.channel.name));
  };

  get userId(): string {
    return this.user.id;
  }
}

/** Where each log's epoch and offset sit in a {@link Position}. */
const positionOf = {
  durable: { epoch: "durableEpoch", offset: "durable" },
  ephemeral: { epoch: "ephemeralEpoch", offset: "ephemeral" },
} as const;

/**
 * What a resume replays: the publications after `from` in both logs, and which logs could not be
 * replayed in full. Durable ones come first: they are the conversation; ephemeral ones are its
 * asides (typing, token deltas of an answer that has a durable end).
 */
export async function replay(
  lease: ChannelLease,
  from: Position,
): Promise<{ events: PositionedEvent[]; sync: ChannelSync; position: Position }> {
  const limit = getEnv().CHANNEL_REPLAY_LIMIT;
  const lost: ChannelSync["lost"] = [];
  const position: Position = { ...from };
  const events: PositionedEvent[] = [];
  // Each log's replay is taken in as soon as it is read (a lost one's position is read then), each
  // into its own part of the position (the resume token).
  const takeIn = (log: ChannelSync["lost"][number], replayed: ChannelPublication[] | "lost"): void => {
    const { epoch, offset } = positionOf[log];
    if (replayed === "lost") {
      // The log no longer reaches back that far: the resume goes on from where it is now.
      lost.push(log);
      const current = lease.feed.position();
      position[epoch] = current[epoch];
      position[offset] = current[offset];
      return;
    }
    for (const publication of replayed) {
      position[epoch] = publication.epoch;
      position[offset] = publication.offset;
      events.push({ event: { ...publication, replayed: true }, position: formatPosition(position) });
    }
  };
  takeIn("durable", await lease.feed.durableSource().replay(from.durableEpoch, from.durable, limit));
  takeIn("ephemeral", await lease.feed.ephemeralReplay(from.ephemeralEpoch, from.ephemeral, limit));
  const sync: ChannelSync = {
    type: "sync",
    channel: lease.channel.name,
    resumed: true,
    recovered: lost.length === 0,
    lost,
  };
  return { events, sync, position };
}
