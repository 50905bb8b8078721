import { getEnv } from "@plauder/runtime";
import { type TRPCRouterRecord, tracked } from "@trpc/server";
import { z } from "zod";
import { Inbox } from "../broadcasts/inbox";
import { getBroadcastFeed, getBroadcastStore, publishBroadcast } from "../broadcasts/service";
import { type Broadcast, idNumber } from "../broadcasts/types";
import type { Context } from "../context";
import { metrics } from "../metrics";
import { getPresence, type PresenceEvent } from "../presence/index";
import { protectedProcedure } from "../trpc";

const text = z.string().min(1, "Text must not be empty").max(4096, "Text must be at most 4096 characters");
/** Broadcast ids: decimal strings that fit a safe integer. */
const broadcastId = z.string().regex(/^\d{1,15}$/, "lastEventId must be a broadcast id");

// Broadcasts waiting for one slow subscription before it is cut off; the socket's buffer limit
// usually trips first.
const inboxLimit = 1_000;
const replayPage = 500;

function count(procedure: string) {
  const { subscriptions, messagesOut } = metrics();
  subscriptions.inc({ procedure });
  return {
    sent: () => messagesOut.inc({ procedure }),
    done: () => subscriptions.dec({ procedure }),
  };
}

/** Whether this connection has more unsent data queued than allowed; if so it is closed. */
function overBufferLimit(ctx: Context): boolean {
  const connection = ctx.connection;
  if (!connection || connection.socket.bufferedAmount <= getEnv().WS_MAX_BUFFERED) return false;
  connection.closeAsSlowConsumer();
  return true;
}

export const realtimeRouter = {
  /** One round trip: answers with the server's time and instance, then completes. */
  ping: protectedProcedure.input(z.object({ clientTime: z.number().finite() })).subscription(async function* ({
    input,
    ctx,
  }) {
    const counter = count("ping");
    try {
      counter.sent();
      yield { clientTime: input.clientTime, serverTime: Date.now(), instanceId: ctx.instanceId };
    } finally {
      counter.done();
    }
  }),

  /** Sends the text back through the subscription, then completes. */
  echo: protectedProcedure.input(z.object({ text })).subscription(async function* ({ input, ctx }) {
    const counter = count("echo");
    try {
      counter.sent();
      yield { text: input.text, serverTime: Date.now(), instanceId: ctx.instanceId };
    } finally {
      counter.done();
    }
  }),

  /**
   * Every broadcast from every instance, in one global order, as `tracked(id, broadcast)`. With
   * `lastEventId` (sent by wsLink on resubscribe) it first replays what was missed from the store.
   * Live delivery starts listening before the replay reads, and ids already sent are skipped, so
   * there is neither a gap nor a duplicate.
   */
  broadcast: protectedProcedure
    .input(z.object({ lastEventId: broadcastId.nullish() }).optional())
    .subscription(async function* ({ input, ctx, signal }) {
      const feed = getBroadcastFeed();
      await feed.start();
      const abort = signal ?? new AbortController().signal;
      const inbox = new Inbox<Broadcast>(inboxLimit, () => ctx.connection?.closeAsSlowConsumer());
      const unsubscribe = feed.subscribe((broadcast) => {
        if (!overBufferLimit(ctx)) inbox.push(broadcast);
      });
      const counter = count("broadcast");
      try {
        let lastSent = input?.lastEventId ? Number(input.lastEventId) : null;
        if (lastSent !== null) {
          for (;;) {
            const page = await getBroadcastStore().after(lastSent, replayPage);
            for (const broadcast of page) {
              lastSent = idNumber(broadcast);
              counter.sent();
              yield tracked(broadcast.id, { ...broadcast, replayed: true as const });
            }
            if (page.length < replayPage || abort.aborted) break;
          }
        }
        for await (const broadcast of inbox.drain(abort)) {
          const id = idNumber(broadcast);
          if (lastSent !== null && id <= lastSent) continue;
          lastSent = id;
          counter.sent();
          yield tracked(broadcast.id, broadcast);
        }
      } finally {
        unsubscribe();
        counter.done();
      }
    }),

  /**
   * Who is online on any instance: a snapshot first, then `join` and `leave` events. A person with
   * several tabs or devices is one entry.
   */
  presence: protectedProcedure.subscription(async function* ({ signal }) {
    const presence = getPresence();
    const abort = signal ?? new AbortController().signal;
    const inbox = new Inbox<PresenceEvent>(inboxLimit, () => {});
    // Listen before taking the snapshot: an event in between repeats what the snapshot says, which
    // clients apply idempotently, instead of being lost.
    const stop = presence.onChange((event) => inbox.push(event));
    const counter = count("presence");
    try {
      const snapshot: PresenceEvent = { type: "snapshot", users: presence.users() };
      counter.sent();
      yield snapshot;
      for await (const event of inbox.drain(abort)) {
        counter.sent();
        yield event;
      }
    } finally {
      stop();
      counter.done();
    }
  }),

  /** This connection as the server sees it (the console's info panel). */
  session: protectedProcedure.query(({ ctx }) => ({
    connectionId: ctx.connection?.id ?? null,
    connectedAt: ctx.connection?.connectedAt ?? null,
    instanceId: ctx.instanceId,
    user: ctx.user,
  })),

  /** Stores a broadcast and fans it out; resolves with its id once it is durable. */
  publish: protectedProcedure
    .input(z.object({ text }))
    .mutation(({ input, ctx }) => publishBroadcast(ctx.user, input.text)),
} satisfies TRPCRouterRecord;
