import { getEnv } from "@plauder/runtime";
import { type TRPCRouterRecord, type TrackedEnvelope, tracked } from "@trpc/server";
import { z } from "zod";
import { BroadcastHandover, type DeliveryCounter } from "../broadcasts/direct-fanout";
import { Inbox } from "../broadcasts/inbox";
import { getBroadcastFeed, getBroadcastStore, getDirectFanout, publishBroadcast } from "../broadcasts/service";
import { type Broadcast, idNumber } from "../broadcasts/types";
import type { Context } from "../context";
import { metrics } from "../metrics";
import { getPresence, type PresenceEvent } from "../presence/index";
import { protectedProcedure } from "../trpc";
import { publicationText } from "./text";

const text = publicationText;
/** Broadcast ids: decimal strings that fit a safe integer. */
const broadcastId = z.string().regex(/^\d{1,15}$/, "lastEventId must be a broadcast id");

// Broadcasts waiting for one slow subscription before it is cut off; the socket's buffer limit
// usually trips first.
const inboxLimit = 1_000;
const replayPage = 500;

/** A subscription that sends one value and completes (ping, echo), counted like the others. */
async function* answerOnce<T>(procedure: string, value: T): AsyncGenerator<T> {
  const counter = count(procedure);
  try {
    counter.sent();
    yield value;
  } finally {
    counter.done();
  }
}

/** Counts one subscription while it lives, and the events it sends (an object, not closures: one per subscription). */
class SubscriptionCounter implements DeliveryCounter {
  constructor(private readonly procedure: string) {
    metrics().subscriptions.inc({ procedure });
  }

  sent(count = 1): void {
    metrics().messagesOut.inc({ procedure: this.procedure }, count);
  }

  done(): void {
    metrics().subscriptions.dec({ procedure: this.procedure });
  }
}

const count = (procedure: string) => new SubscriptionCounter(procedure);

const noop = () => {};

/** Whether this connection has more unsent data queued than allowed; if so it is closed. */
function overBufferLimit(ctx: Context): boolean {
  const connection = ctx.connection;
  if (!connection || connection.socket.bufferedAmount <= getEnv().WS_MAX_BUFFERED) return false;
  connection.closeAsSlowConsumer();
  return true;
}

export const realtimeRouter = {
  /** One round trip: answers with the server's time and instance, then completes. */
  ping: protectedProcedure
    .input(z.object({ clientTime: z.number().finite() }))
    .subscription(({ input, ctx }) =>
      answerOnce("ping", { clientTime: input.clientTime, serverTime: Date.now(), instanceId: ctx.instanceId }),
    ),

  /** Sends the text back through the subscription, then completes. */
  echo: protectedProcedure
    .input(z.object({ text }))
    .subscription(({ input, ctx }) =>
      answerOnce("echo", { text: input.text, serverTime: Date.now(), instanceId: ctx.instanceId }),
    ),

  /**
   * Every broadcast from every instance, in one global order, as `tracked(id, broadcast)`. With
   * `lastEventId` (sent by wsLink on resubscribe) it first replays what was missed from the store.
   * Live delivery starts listening before the replay reads, and ids already sent are skipped, so
   * there is neither a gap nor a duplicate.
   *
   * Over a WebSocket, once the replay is done, the subscription hands over to the direct fan-out
   * (see BroadcastHandover): one serialisation per broadcast for all subscribers, and no generator
   * kept alive per subscriber.
   */
  broadcast: protectedProcedure
    .input(z.object({ lastEventId: broadcastId.nullish() }).optional())
    .subscription(async function* ({ input, ctx, signal }) {
      const feed = getBroadcastFeed();
      await feed.start();
      const abort = signal ?? new AbortController().signal;
      const connection = ctx.connection;
      const inbox = new Inbox<Broadcast>(inboxLimit, connection ? () => connection.closeAsSlowConsumer() : noop);
      let stopListening = feed.subscribe((broadcast) => {
        if (!overBufferLimit(ctx)) inbox.push(broadcast);
      });
      let counter: SubscriptionCounter | null = count("broadcast");
      let lastSent = input?.lastEventId ? Number(input.lastEventId) : 0;
      try {
        if (input?.lastEventId) {
          for (;;) {
            const page = await getBroadcastStore().after(lastSent, replayPage);
            for (const stored of page) {
              const replayed: Broadcast = { ...stored, replayed: true };
              lastSent = idNumber(replayed);
              counter.sent();
              yield tracked(replayed.id, replayed);
            }
            if (page.length < replayPage || abort.aborted) break;
          }
        }
        if (connection && !abort.aborted) {
          // From here the handover owns the listener and the counter; this generator ends.
          const handover = new BroadcastHandover(
            connection,
            getDirectFanout(),
            inbox,
            stopListening,
            counter,
            lastSent,
          );
          stopListening = noop;
          counter = null;
          // The socket protocol recognises the handover; it is never sent, whatever its declared type.
          yield handover as unknown as TrackedEnvelope<Broadcast>;
          return;
        }
        // Without a socket to hand over to, events keep flowing through this generator.
        for await (const broadcast of inbox.drain(abort)) {
          if (idNumber(broadcast) <= lastSent) continue;
          lastSent = idNumber(broadcast);
          counter?.sent();
          yield tracked(broadcast.id, broadcast);
        }
      } finally {
        stopListening();
        counter?.done();
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
