import { getEnv } from "@plauder/runtime";
import { type TRPCRouterRecord, type TrackedEnvelope, tracked } from "@trpc/server";
import { z } from "zod";
import { Inbox } from "../broadcasts/inbox";
import { getBroadcastStore } from "../broadcasts/service";
import { broadcastToPublication } from "../channels/durable-source";
import { ChannelHandover, LogCursor, type PositionedEvent } from "../channels/fanout";
import { type ChannelName, channelNameInput } from "../channels/names";
import type { PresentUser } from "../channels/presence";
import { getChannelAccess, getChannelPresence, getDurableLog, publishToChannel } from "../channels/service";
import { ChannelLease, replay } from "../channels/subscription";
import {
  type ChannelEvent,
  type ChannelPublication,
  type ChannelSync,
  formatPosition,
  parsePosition,
  positionInput,
} from "../channels/types";
import { protectedProcedure } from "../trpc";
import { publicationText } from "./text";

// Events waiting for one subscription while it replays; past this it is cut off as too slow.
const backlogLimit = 10_000;
const noop = () => {};

export type ChannelPresenceEvent =
  | { type: "snapshot"; channel: string; count: number; users: PresentUser[] | null }
  | { type: "join" | "leave"; channel: string; user: PresentUser }
  | { type: "count"; channel: string; count: number };

export const channelsRouter = {
  /**
   * A channel's publications as `tracked(position, event)`. First comes a `sync` event (after the
   * replay, when resuming with `lastEventId`) saying whether everything missed was replayed; then
   * every publication live, in order per log. Over a WebSocket the subscription then leaves its
   * generator for the channel's direct fan-out (see ChannelHandover).
   */
  subscribe: protectedProcedure
    .input(z.object({ channel: channelNameInput, lastEventId: positionInput.nullish() }))
    .subscription(async function* ({ input, ctx, signal }) {
      const lease = await ChannelLease.open(ctx, input.channel);
      const abort = signal ?? new AbortController().signal;
      const connection = ctx.connection;
      // Past its limit the subscription is too slow: its socket is closed and the backlog dropped.
      const backlog = new Inbox<PositionedEvent>(backlogLimit, () => connection?.closeAsSlowConsumer());
      let stopListening = lease.feed.subscribe((event, position) => backlog.push({ event, position }));
      let handedOver = false;
      try {
        const from = input.lastEventId ? parsePosition(input.lastEventId) : null;
        let cursor: LogCursor;
        if (from) {
          const { events, sync, position } = await replay(lease, from);
          for (const { event, position: at } of events) yield tracked(at, event as ChannelEvent);
          yield tracked(formatPosition(position), sync as ChannelEvent);
          cursor = new LogCursor(position.durable, position.ephemeralEpoch, position.ephemeral);
        } else {
          const position = lease.feed.position();
          const sync: ChannelSync = {
            type: "sync",
            channel: input.channel.name,
            resumed: false,
            recovered: false,
            lost: [],
          };
          yield tracked(formatPosition(position), sync as ChannelEvent);
          cursor = new LogCursor(position.durable, position.ephemeralEpoch, position.ephemeral);
        }
        if (connection && !abort.aborted) {
          const handover = new ChannelHandover(
            connection,
            ctx.user.id,
            lease.fanout,
            () => backlog.takeAll(),
            stopListening,
            lease.end,
            cursor,
          );
          stopListening = noop;
          handedOver = true;
          // The socket protocol recognises the handover; it is never sent, whatever its declared type.
          yield handover as unknown as TrackedEnvelope<ChannelEvent>;
          return;
        }
        // Without a socket to hand over to, events keep flowing through this generator.
        for await (const { event, position } of backlog.drain(abort)) {
          if (cursor.wants(event)) yield tracked(position, event);
        }
      } finally {
        stopListening();
        if (!handedOver) lease.end();
      }
    }),

  /** Stores (durable) or sends (ephemeral) a publication; answers once it has its place in the channel. */
  publish: protectedProcedure
    .input(z.object({ channel: channelNameInput, text: publicationText, ephemeral: z.boolean().optional() }))
    .mutation(({ input, ctx }) => publishToChannel(ctx.user, input.channel, input.text, input.ephemeral)),

  /**
   * A page of a channel's durable history, oldest first: the newest `limit` before offset `before`
   * (or the newest of all). What a client loads on opening a channel and after `recovered: false`.
   */
  history: protectedProcedure
    .input(
      z.object({
        channel: channelNameInput,
        before: z.number().int().positive().optional(),
        limit: z.number().int().min(1).max(200).default(50),
      }),
    )
    .query(async ({ input, ctx }) => {
      await getChannelAccess().check(ctx.user, input.channel, "read");
      const publications = await durableHistory(input.channel, input.limit + 1, input.before);
      const hasMore = publications.length > input.limit;
      const page = publications.slice(0, input.limit).reverse();
      return { channel: input.channel.name, publications: page, hasMore };
    }),

  /**
   * Who is in a channel (subscribed to it) on any instance: a snapshot, then `join` and `leave`.
   * Past PRESENCE_MAX_LISTED people, the snapshot carries only the count and changes come as `count`.
   */
  presence: protectedProcedure.input(z.object({ channel: channelNameInput })).subscription(async function* ({
    input,
    ctx,
    signal,
  }) {
    const lease = await ChannelLease.open(ctx, input.channel);
    const abort = signal ?? new AbortController().signal;
    const maxListed = getEnv().PRESENCE_MAX_LISTED;
    // Presence changes are few and small: the queue has no limit.
    const waiting = new Inbox<ChannelPresenceEvent>(Number.POSITIVE_INFINITY, noop);
    const channel = input.channel.name;
    let count = 0;
    let large = false;
    const stop = lease.feed.onPresence(({ event, user }) => {
      count += event === "join" ? 1 : -1;
      waiting.push(large ? { type: "count", channel, count } : { type: event, channel, user });
    });
    try {
      const snapshot = await getChannelPresence().snapshot(channel, maxListed);
      count = snapshot.count;
      large = snapshot.users === null;
      yield { type: "snapshot", channel, count: snapshot.count, users: snapshot.users } as ChannelPresenceEvent;
      yield* waiting.drain(abort);
    } finally {
      stop();
      lease.end();
    }
  }),
} satisfies TRPCRouterRecord;

async function durableHistory(channel: ChannelName, limit: number, before?: number): Promise<ChannelPublication[]> {
  if (channel.namespace === "lobby") {
    return (await getBroadcastStore().before(limit, before)).map(broadcastToPublication);
  }
  const head = await getDurableLog().head(channel.name);
  if (!head) return [];
  return getDurableLog().history(channel.name, head.epoch, limit, before);
}
