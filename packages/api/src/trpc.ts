import { describeError, getEnv, getLogger } from "@plauder/runtime";
import { initTRPC, TRPCError } from "@trpc/server";
import { z } from "zod";
import type { Context } from "./context";
import { RetryAfter } from "./errors";

/**
 * The one place that defines the tRPC instance. No transformer: the wire contract promises plain
 * JSON, so clients in any language can read it.
 */
const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    const { stack: _stack, ...data } = shape.data;
    const internal = error.code === "INTERNAL_SERVER_ERROR";
    return {
      ...shape,
      // Internal failures keep their details in the server log; clients get a fixed sentence.
      message: internal ? "Internal server error" : shape.message,
      data: {
        ...data,
        retryAfter: error.cause instanceof RetryAfter ? error.cause.seconds : undefined,
        fieldErrors: error.cause instanceof z.ZodError ? z.flattenError(error.cause).fieldErrors : undefined,
      },
    };
  },
});

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Logs unexpected failures once, where they happen, with who and what; never inputs (they may hold passwords). */
export function logProcedureError({ error, path, ctx }: { error: TRPCError; path?: string; ctx?: Context }): void {
  if (error.code !== "INTERNAL_SERVER_ERROR") return;
  getLogger().error({ path, user: ctx?.user?.id, err: describeError(error.cause ?? error) }, "procedure failed");
}

/** For procedures anyone may call, signed in or not (health, registration). */
export const publicProcedure = t.procedure;

/** Live subscriptions per WebSocket; the socket's entry goes when the socket does. */
const liveSubscriptions = new WeakMap<object, number>();

/**
 * Takes one of the connection's WS_MAX_SUBSCRIPTIONS places, or refuses before the subscription
 * starts. Returns the function that gives the place back; it counts once however often it is called.
 */
function takeSubscriptionPlace(socket: object): () => void {
  const limit = getEnv().WS_MAX_SUBSCRIPTIONS;
  const held = liveSubscriptions.get(socket) ?? 0;
  if (held >= limit) {
    throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: `At most ${limit} subscriptions per connection` });
  }
  liveSubscriptions.set(socket, held + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    liveSubscriptions.set(socket, (liveSubscriptions.get(socket) ?? 1) - 1);
  };
}

/** A subscription's events, giving its place back when it ends however it ends. */
async function* releasingWhenDone<T>(source: AsyncIterable<T>, release: () => void): AsyncGenerator<T> {
  try {
    yield* source;
  } finally {
    release();
  }
}

/** For procedures that need a signed-in user; anonymous callers get `UNAUTHORIZED`. */
export const protectedProcedure = t.procedure.use(async ({ ctx, next, type, signal }) => {
  if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to use this" });
  const socket = ctx.connection?.socket;
  if (type !== "subscription" || !socket) return next({ ctx: { ...ctx, user: ctx.user } });
  // One connection must not hold unbounded generators, listeners and timers.
  const release = takeSubscriptionPlace(socket);
  // A subscription stopped before its events were first read never runs the finally below.
  signal?.addEventListener("abort", release, { once: true });
  const result = await next({ ctx: { ...ctx, user: ctx.user } });
  if (!result.ok) {
    release();
    return result;
  }
  return { ...result, data: releasingWhenDone(result.data as AsyncIterable<unknown>, release) };
});
