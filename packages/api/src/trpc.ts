import { describeError, getLogger } from "@plauder/runtime";
import { type AnyProcedure, type AnyRouter, initTRPC, TRPCError } from "@trpc/server";
import { z } from "zod";
import type { Context } from "./context";
import { RetryAfter } from "./errors";

/**
 * The one place that defines the tRPC instance. No transformer: the wire contract promises plain
 * JSON, so clients in any language can read it.
 */
const t = initTRPC.context<Context>().create({
  // Subscriptions are the WebSocket's alone (see webSocketSubscriptionsOnly below).
  sse: { enabled: false },
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

/** Logs unexpected failures once, where they happen, with who and what; never inputs (they may hold passwords). */
export function logProcedureError({ error, path, ctx }: { error: TRPCError; path?: string; ctx?: Context }): void {
  if (error.code !== "INTERNAL_SERVER_ERROR") return;
  getLogger().error({ path, user: ctx?.user?.id, err: describeError(error.cause ?? error) }, "procedure failed");
}

/**
 * Subscriptions live on the WebSocket only. tRPC's HTTP handler would otherwise serve them as
 * server-sent events, outside every rule the WebSocket server enforces (connection limits, the
 * subscription cap, logout closing sockets, the expiry sweep, the slow-consumer guard).
 */
const webSocketSubscriptionsOnly = t.middleware(({ ctx, type, next }) => {
  if (type === "subscription" && ctx.transport !== "ws") {
    throw new TRPCError({
      code: "METHOD_NOT_SUPPORTED",
      message: subscriptionsOverHttpRefusal,
    });
  }
  return next();
});

/** The answer to a subscription asked for over HTTP, wherever it is refused. */
export const subscriptionsOverHttpRefusal = "Subscriptions are served over the WebSocket at /api/trpc-ws only";

/** The subscription procedures among `paths` (as an HTTP call names them), so they can be refused up front. */
export function subscriptionPaths(router: AnyRouter, paths: readonly string[]): string[] {
  const procedures = router._def.procedures as Record<string, AnyProcedure | undefined>;
  return paths.filter((path) => procedures[path]?._def.type === "subscription");
}

/** For procedures anyone may call, signed in or not (health, registration). */
export const publicProcedure = t.procedure.use(webSocketSubscriptionsOnly);

/** For procedures that need a signed-in user; anonymous callers get `UNAUTHORIZED`. */
export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to use this" });
  return next({ ctx: { ...ctx, user: ctx.user } });
});
