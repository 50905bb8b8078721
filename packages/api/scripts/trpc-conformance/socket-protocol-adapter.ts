/**
 * `applyWSSHandler` as tRPC's own tests call it, served by our SocketProtocol instead of tRPC's
 * adapter. Used only by trpc-conformance.sh, which points tRPC's test server at this module; it maps
 * the stock adapter's options onto SocketProtocol's and adds nothing of its own.
 *
 * Options with no SocketProtocol counterpart (`experimental_encoder`, `dangerouslyDisablePong`) are
 * ignored on purpose: the tests that use them count as differences (see docs/architecture.md).
 */
import type { IncomingMessage } from "node:http";
import type { AnyRouter } from "@trpc/server";
import type { WSSHandlerOptions } from "@trpc/server/adapters/ws";
import type { WebSocket } from "ws";
import type { Context } from "../../src/context";
import { SocketProtocol } from "../../src/server/socket-protocol";

export function applyWSSHandler<TRouter extends AnyRouter>(opts: WSSHandlerOptions<TRouter>) {
  const requests = new WeakMap<WebSocket, IncomingMessage>();
  const protocol = new SocketProtocol({
    router: opts.router,
    // No subscription or buffer limit: the stock adapter has none. Our call limits (call-limits.ts)
    // stay, as they are no option; the tests' contexts have no user, so the smaller ones apply.
    maxSubscriptions: Number.POSITIVE_INFINITY,
    maxBuffered: Number.POSITIVE_INFINITY,
    onSlowConsumer: () => {},
    async createContext(socket, connectionParams) {
      const ctx = await opts.createContext?.({
        req: requests.get(socket) as IncomingMessage,
        res: socket,
        info: {
          connectionParams,
          calls: [],
          isBatchCall: false,
          accept: null,
          type: "unknown",
          signal: new AbortController().signal,
          url: null,
        },
      });
      return ctx as Context;
    },
    // As the stock adapter does: the error has been answered; close (without a code) in the next tick.
    onSetupFailed(socket) {
      setImmediate(() => socket.close());
    },
    onError({ error, path, ctx }) {
      opts.onError?.({
        error,
        path,
        type: "unknown",
        ctx: ctx as never,
        req: undefined as unknown as IncomingMessage,
        input: undefined,
      });
    },
  });
  if (opts.keepAlive?.enabled) {
    protocol.startHeartbeat(opts.keepAlive.pingMs ?? 30_000, opts.keepAlive.pongWaitMs ?? 5_000);
    opts.wss.once("close", () => protocol.stopHeartbeat());
  }
  opts.wss.on("connection", (socket: WebSocket, req: IncomingMessage) => {
    if (opts.prefix && !req.url?.startsWith(opts.prefix)) return;
    requests.set(socket, req);
    const expectConnectionParams =
      new URL(req.url ?? "/", "http://localhost").searchParams.get("connectionParams") === "1";
    protocol.accept(socket, expectConnectionParams);
  });
  return {
    broadcastReconnectNotification: () => protocol.broadcastReconnectNotification(),
  };
}
