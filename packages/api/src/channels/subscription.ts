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
  const marked = (publication: ChannelPublication): ChannelPublication => ({ ...publication, replayed: true });

  const durable = await lease.feed.durableSource().replay(from.durableEpoch, from.durable, limit);
  if (durable === "lost") {
    lost.push("durable");
    const current = lease.feed.position();
    position.durableEpoch = current.durableEpoch;
    position.durable = current.durable;
  } else {
    for (const publication of durable) {
      position.durableEpoch = publication.epoch;
      position.durable = publication.offset;
      events.push({ event: marked(publication), position: formatPosition(position) });
    }
  }

  const ephemeral = await lease.feed.ephemeralReplay(from.ephemeralEpoch, from.ephemeral, limit);
  if (ephemeral === "lost") {
    lost.push("ephemeral");
    const current = lease.feed.position();
    position.ephemeralEpoch = current.ephemeralEpoch;
    position.ephemeral = current.ephemeral;
  } else {
    for (const publication of ephemeral) {
      position.ephemeralEpoch = publication.epoch;
      position.ephemeral = publication.offset;
      events.push({ event: marked(publication), position: formatPosition(position) });
    }
  }
  const sync: ChannelSync = {
    type: "sync",
    channel: lease.channel.name,
    resumed: true,
    recovered: lost.length === 0,
    lost,
  };
  return { events, sync, position };
}
