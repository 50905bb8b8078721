import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type AuthUser, userFromSessionCookie, verifyAccessToken } from "@plauder/auth";
import { clientAddressOf, getInstanceId, getLogger } from "@plauder/runtime";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import { WebSocketServer } from "ws";
import type { Context } from "../context";
import { appRouter } from "../root";
import { logProcedureError } from "../trpc";
import { trackConnection } from "./connections";
import { isOriginAllowed } from "./origin";

export type RealtimeServerOptions = {
  /** Origins whose pages may open a socket (`ALLOWED_ORIGINS`). */
  allowedOrigins: readonly string[];
  /** Largest inbound frame in bytes; larger ones close the connection with 1009. */
  maxPayload: number;
  /** Open connections this instance accepts; the next upgrade gets HTTP 503. */
  maxConnections: number;
  heartbeatMs: number;
  pongWaitMs: number;
};

export type RealtimeServer = {
  /** Handles an HTTP `upgrade` for the WebSocket path; answers refusals with a plain HTTP status. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
  /** Stops accepting, asks clients to reconnect elsewhere, and closes what is left after `graceMs`. */
  close(graceMs?: number): Promise<void>;
};

function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
  );
}

/**
 * The tRPC WebSocket endpoint, mounted by the app's HTTP server on one path. It owns the upgrade:
 * origin check, authentication from the session cookie, and limits happen before a socket exists.
 */
export function createRealtimeServer(options: RealtimeServerOptions): RealtimeServer {
  const log = getLogger().child({ component: "realtime" });
  // Deflate stays off: it costs ~256 KB per connection and most of the throughput.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: options.maxPayload });
  const cookieUsers = new WeakMap<IncomingMessage, AuthUser | null>();
  let accepting = true;

  const handler = applyWSSHandler({
    wss,
    router: appRouter,
    keepAlive: { enabled: true, pingMs: options.heartbeatMs, pongWaitMs: options.pongWaitMs },
    onError: logProcedureError,
    async createContext({ req, info }): Promise<Context> {
      // A token in connectionParams (typed clients) wins over the cookie (browsers).
      const token = info.connectionParams?.token;
      const user = token !== undefined ? await verifyAccessToken(token) : (cookieUsers.get(req) ?? null);
      return { user, instanceId: getInstanceId(), clientAddress: clientAddressOf(req), transport: "ws" };
    },
  });

  wss.on("connection", (socket, req) => {
    const untrack = trackConnection();
    const user = cookieUsers.get(req);
    log.debug({ user: user?.id, address: clientAddressOf(req) }, "connection opened");
    socket.on("close", (code) => {
      untrack();
      log.debug({ user: user?.id, code }, "connection closed");
    });
  });

  return {
    async handleUpgrade(req, socket, head) {
      socket.on("error", () => socket.destroy());
      if (!accepting) return refuse(socket, 503, "Server is shutting down");
      if (!isOriginAllowed(req.headers.origin, options.allowedOrigins)) {
        log.info({ origin: req.headers.origin }, "refused upgrade from a foreign origin");
        return refuse(socket, 403, "Origin not allowed");
      }
      if (wss.clients.size >= options.maxConnections) return refuse(socket, 503, "Too many connections");
      const user = await userFromSessionCookie(req.headers.cookie);
      wss.handleUpgrade(req, socket, head, (ws) => {
        cookieUsers.set(req, user);
        wss.emit("connection", ws, req);
      });
    },
    async close(graceMs = 5_000) {
      accepting = false;
      handler.broadcastReconnectNotification();
      const deadline = Date.now() + graceMs;
      while (wss.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
