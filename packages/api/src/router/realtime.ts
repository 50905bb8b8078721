import { getEnv } from "@plauder/runtime";
import { type TRPCRouterRecord, tracked } from "@trpc/server";
import { z } from "zod";
import { type DirectSubscriber, framePrefix, frameTail, sendFrame } from "../broadcasts/direct-fanout";
import { HandoffBroadcast, type IdSlot } from "../broadcasts/handoff";
import { Inbox } from "../broadcasts/inbox";
import { getBroadcastFeed, getBroadcastStore, getDirectFanout, publishBroadcast } from "../broadcasts/service";
import { type Broadcast, idNumber } from "../broadcasts/types";
import type { Context } from "../context";
import { metrics } from "../metrics";
import { getPresence, type PresenceEvent } from "../presence/index";
import { protectedProcedure } from "../trpc";

const text = z
  .string()
  .min(1, "Text must not be empty")
  .max(4096, "Text must be at most 4096 characters")
  // Postgres text cannot hold NUL; refusing it here makes it a clear BAD_REQUEST, not a failed insert.
  .refine((value) => !value.includes("\u0000"), "Text must not contain NUL characters");
/** Broadcast ids: decimal strings that fit a safe integer. */
const broadcastId = z.string().regex(/^\d{1,15}$/, "lastEventId must be a broadcast id");

// Broadcasts waiting for one slow subscription before it is cut off; the socket's buffer limit
// usually trips first.
const inboxLimit = 1_000;
const replayPage = 500;

/** Resolves when the signal aborts (the client unsubscribed or the connection closed). */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

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
class SubscriptionCounter {
  constructor(private readonly procedure: string) {
    metrics().subscriptions.inc({ procedure });
  }

  sent(): void {
    metrics().messagesOut.inc({ procedure: this.procedure });
  }

  done(): void {
    metrics().subscriptions.dec({ procedure: this.procedure });
  }
}

const count = (procedure: string) => new SubscriptionCounter(procedure);

/** The direct path for a subscription once the encoder has filled its slot with the tRPC id. */
function directSubscriber(slot: IdSlot, ctx: Context, lastSentId: number): DirectSubscriber | null {
  return slot.id !== undefined && ctx.connection
    ? { connection: ctx.connection, framePrefix: framePrefix(slot.id, slot.jsonrpc), lastSentId }
    : null;
}

function sendDirect(subscriber: DirectSubscriber, broadcast: Broadcast, counter: SubscriptionCounter): void {
  const frame = subscriber.framePrefix + frameTail(broadcast);
  if (sendFrame(subscriber, idNumber(broadcast), frame, getEnv().WS_MAX_BUFFERED)) counter.sent();
}

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
   * The first event travels through tRPC's generator path, which tells the subscription its tRPC id
   * (see HandoffBroadcast); everything after goes out through the direct fan-out, one serialisation
   * per broadcast for all subscribers instead of one per subscriber.
   */
  broadcast: protectedProcedure
    .input(z.object({ lastEventId: broadcastId.nullish() }).optional())
    .subscription(async function* ({ input, ctx, signal }) {
      const feed = getBroadcastFeed();
      await feed.start();
      const abort = signal ?? new AbortController().signal;
      // The connection's own method, not a closure per subscription.
      const inbox = new Inbox<Broadcast>(inboxLimit, ctx.connection?.closeAsSlowConsumer ?? noop);
      let stopListening = feed.subscribe((broadcast) => {
        if (!overBufferLimit(ctx)) inbox.push(broadcast);
      });
      let leaveFanout = noop;
      const slot: IdSlot = {};
      const counter = count("broadcast");
      let lastSent = input?.lastEventId ? Number(input.lastEventId) : 0;
      let direct: DirectSubscriber | null = null;
      try {
        if (input?.lastEventId) {
          for (;;) {
            const page = await getBroadcastStore().after(lastSent, replayPage);
            for (const stored of page) {
              const broadcast: Broadcast = { ...stored, replayed: true };
              if (direct) sendDirect(direct, broadcast, counter);
              else {
                lastSent = idNumber(broadcast);
                counter.sent();
                yield tracked(broadcast.id, new HandoffBroadcast(broadcast, slot) as unknown as Broadcast);
                direct = directSubscriber(slot, ctx, lastSent);
              }
            }
            if (direct) lastSent = direct.lastSentId;
            if (page.length < replayPage || abort.aborted) break;
          }
        }
        if (!direct) {
          for await (const broadcast of inbox.drain(abort)) {
            if (idNumber(broadcast) <= lastSent) continue;
            lastSent = idNumber(broadcast);
            counter.sent();
            yield tracked(broadcast.id, new HandoffBroadcast(broadcast, slot) as unknown as Broadcast);
            direct = directSubscriber(slot, ctx, lastSent);
            if (direct) break;
          }
        }
        if (direct && !abort.aborted) {
          // Synchronously: send what waited here, stop listening, join the fan-out. No broadcast can
          // arrive in between, so none is lost or sent twice.
          for (const broadcast of inbox.takeAll()) sendDirect(direct, broadcast, counter);
          stopListening();
          stopListening = noop;
          leaveFanout = getDirectFanout().add(direct);
          await aborted(abort);
        }
      } finally {
        stopListening();
        leaveFanout();
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
