import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { describeError, type Env, getInstanceId, getLogger } from "@plauder/runtime";
import { type AnyRouter, TRPCError } from "@trpc/server";
import { type WebSocket, WebSocketServer } from "ws";
import { getBroadcastFeed } from "../broadcasts/service";
import { getChannelPresence, getChannelRegistry } from "../channels/service";
import type { Connection, Context } from "../context";
import { metrics } from "../metrics";
import { getPresence } from "../presence/index";
import { logProcedureError } from "../trpc";
import { Admission, type Admitted } from "./admission";
import { closeCodes } from "./close-codes";
import { connectionClosed, connectionOpened } from "./connections";
import { CredentialWatch } from "./credential-watch";
import { parseOrigins } from "./origin";
import { SocketProtocol } from "./socket-protocol";

/** The realtime server's limits and timings: what the settings (environment) decide. */
export type RealtimeSettings = {
  /** Origins whose pages may open a socket (`ALLOWED_ORIGINS`). */
  allowedOrigins: readonly string[];
  /** Largest inbound frame in bytes; larger ones close the connection with 1009. */
  maxPayload: number;
  /** Open connections this instance accepts; the next upgrade gets HTTP 503. */
  maxConnections: number;
  /** Open connections one user may hold on this instance. */
  maxConnectionsPerUser: number;
  /** Open connections one client address may hold on this instance; the next upgrade gets HTTP 429. */
  maxConnectionsPerAddress: number;
  /** Connections from one address that have not authenticated yet; the next upgrade gets HTTP 429. */
  maxUnauthenticatedPerAddress: number;
  /** Unsent bytes one connection may queue before it is closed as a slow consumer (1013). */
  maxBuffered: number;
  /** Live subscriptions one connection may hold. */
  maxSubscriptions: number;
  heartbeatMs: number;
  pongWaitMs: number;
  /** A connection without a valid session or token is closed this long after opening (4401). */
  authTimeoutMs: number;
};

export type RealtimeServerOptions = RealtimeSettings & {
  /**
   * The procedures its sockets may call (the app's `appRouter`). Its context is the {@link Context}
   * this server makes; the broadcast feed, presence and channels it starts and stops are the app's.
   */
  router: AnyRouter;
};

/** The realtime server's settings as the environment gives them; the router is the caller's. */
export function realtimeOptionsFrom(env: Env): RealtimeSettings {
  return {
    allowedOrigins: parseOrigins(env.ALLOWED_ORIGINS ?? env.APP_URL),
    maxPayload: env.WS_MAX_PAYLOAD,
    maxConnections: env.MAX_CONNECTIONS,
    maxConnectionsPerUser: env.MAX_CONNECTIONS_PER_USER,
    maxConnectionsPerAddress: env.MAX_CONNECTIONS_PER_ADDRESS,
    maxUnauthenticatedPerAddress: env.MAX_UNAUTHENTICATED_PER_ADDRESS,
    maxBuffered: env.WS_MAX_BUFFERED,
    maxSubscriptions: env.WS_MAX_SUBSCRIPTIONS,
    heartbeatMs: env.WS_HEARTBEAT_MS,
    pongWaitMs: env.WS_PONG_WAIT_MS,
    authTimeoutMs: env.WS_AUTH_TIMEOUT_MS,
  };
}

export type RealtimeServer = {
  /** Handles an HTTP `upgrade` for the WebSocket path; answers refusals with a plain HTTP status. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
  /** Stops accepting, asks clients to reconnect (elsewhere), and closes what is left after `graceMs`. */
  close(graceMs?: number): Promise<void>;
};

/**
 * What this server keeps per socket, in one record, admission's fields included. Timers call shared
 * functions with the socket as an argument and one shared listener cleans up on close, so a
 * connection adds no closures of its own here (a server holds tens of thousands of connections, and
 * every closure is a heap object of its own).
 */
type SocketState = Admitted & {
  connectedAt: number;
  /** The user this socket counts as in presence, once authenticated. */
  presentAs: string | null;
  /** It asked for its own logout and closes once the answer is out, not when the bus says so. */
  closingAfterAnswer: boolean;
  /** The session or token it was opened with, so logout can find it. */
  sessionId: string | null;
  authDeadline: NodeJS.Timeout | null;
  /** When the session or token it was opened with expires (epoch ms; 0: not yet authenticated). */
  expiresAt: number;
};

function newSocketState(connectionId: string, clientAddress: string): SocketState {
  return {
    connectionId,
    cookie: null,
    connectedAt: Date.now(),
    clientAddress,
    presentAs: null,
    authenticated: false,
    closingAfterAnswer: false,
    sessionId: null,
    authDeadline: null,
    expiresAt: 0,
  };
}

/** Error listener of upgrade sockets (`this`): a network error ends the socket. Shared, not a closure per socket. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

function terminate(socket: WebSocket): void {
  socket.terminate();
}

/** Each upgrade's connection record, made once admission has the client's address. */
function newUpgradeState(clientAddress: string): SocketState {
  return newSocketState(randomBytes(4).toString("hex"), clientAddress);
}

/**
 * The tRPC WebSocket endpoint, mounted by the app's HTTP server on one path. It owns the upgrade:
 * admission (admission.ts) settles origin, the session cookie and connection limits before a socket
 * exists, and token users (connectionParams) when their first message arrives.
 */
export function createRealtimeServer(options: RealtimeServerOptions): RealtimeServer {
  const log = getLogger().child({ component: "realtime" });
  // Deflate stays off: a zlib context per connection costs far more memory and CPU than it saves
  // on small JSON messages (the benchmark asserts no system negotiates it).
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: options.maxPayload });
  const states = new WeakMap<WebSocket, SocketState>();
  const admission = new Admission({
    allowedOrigins: options.allowedOrigins,
    maxConnections: options.maxConnections,
    maxConnectionsPerUser: options.maxConnectionsPerUser,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress,
    maxUnauthenticatedPerAddress: options.maxUnauthenticatedPerAddress,
    openConnections: () => wss.clients.size,
    log,
  });

  // Listening starts now, so the first subscriber does not wait for the feed and health is accurate.
  getBroadcastFeed()
    .start()
    .catch((error: Error) => log.error({ err: describeError(error) }, "broadcast feed failed to start"));
  const presence = getPresence();
  presence.start().catch((error: Error) => log.error({ err: describeError(error) }, "presence failed to start"));
  // Logout and expiry close the sockets of their credential (credential-watch.ts).
  const credentials = new CredentialWatch({
    sockets: () => wss.clients,
    expiresAt: (socket) => states.get(socket)?.expiresAt ?? 0,
    // The connection that asked for its own logout closes itself after its answer (holdForOwnSignOut).
    closesItself: (socket) => states.get(socket)?.closingAfterAnswer ?? false,
    revocationSweepMs: options.heartbeatMs,
    log,
    describe: (socket) => states.get(socket)?.connectionId,
  });
  function closeSignedOut(socket: WebSocket): void {
    if (socket.readyState === socket.OPEN) socket.close(closeCodes.signedOut.code, closeCodes.signedOut.reason);
  }

  /** Anonymous sockets may ask for health, but must not hold one of MAX_CONNECTIONS places for long. */
  function closeUnauthenticated(socket: WebSocket): void {
    const state = states.get(socket);
    if (state?.presentAs || socket.readyState !== socket.OPEN) return;
    log.info({ conn: state?.connectionId }, "closing a connection that never authenticated");
    socket.close(closeCodes.notAuthenticated.code, closeCodes.notAuthenticated.reason);
  }

  /** The one close listener of every socket (`this`); it undoes what the connection set up. */
  function onSocketClose(this: WebSocket, code: number): void {
    connectionClosed();
    const state = states.get(this);
    if (!state) return;
    if (state.authDeadline) clearTimeout(state.authDeadline);
    if (state.presentAs) presence.disconnect(state.presentAs);
    if (state.sessionId) credentials.untrack(this, state.sessionId);
    admission.release(state);
    log.info({ conn: state.connectionId, code }, "connection closed");
  }

  /**
   * The context could not be made: the error has been answered; the close code says why (too many
   * connections for this user, malformed connectionParams, or credentials that could not be read).
   */
  function closeFailedSetup(socket: WebSocket, error: TRPCError): void {
    if (socket.readyState !== socket.OPEN) return;
    const { code, reason } =
      error.code === "TOO_MANY_REQUESTS"
        ? closeCodes.tooManyForUser
        : error.code === "PARSE_ERROR" || error.code === "BAD_REQUEST"
          ? closeCodes.badConnectionParams
          : closeCodes.setupFailed;
    socket.close(code, reason);
  }

  /** What procedures see of their socket; its method sits on the prototype, not in a closure per socket. */
  class SocketConnection implements Connection {
    constructor(
      readonly id: string,
      readonly socket: WebSocket,
      readonly connectedAt: number,
    ) {}

    closeAsSlowConsumer(): void {
      closeSlowConsumer(this.socket);
    }

    holdForOwnSignOut(): () => void {
      const state = states.get(this.socket);
      if (state) state.closingAfterAnswer = true;
      // The answer is written when the procedure's promise settles (microtasks); a timer set in the
      // procedure's last step runs after that.
      return () => setTimeout(closeSignedOut, 0, this.socket);
    }
  }

  /** Closes a connection that does not read what it is sent fast enough (1013). */
  function closeSlowConsumer(socket: WebSocket): void {
    if (socket.readyState !== socket.OPEN) return;
    metrics().slowConsumers.inc();
    log.warn({ conn: states.get(socket)?.connectionId, buffered: socket.bufferedAmount }, "closing a slow consumer");
    socket.close(closeCodes.slowConsumer.code, closeCodes.slowConsumer.reason);
    // The close frame waits behind the unsent data the client is not reading; do not wait for it.
    setTimeout(terminate, 1_000, socket).unref();
  }

  const protocol = new SocketProtocol({
    router: options.router,
    maxSubscriptions: options.maxSubscriptions,
    maxBuffered: options.maxBuffered,
    onSlowConsumer: closeSlowConsumer,
    onSetupFailed: closeFailedSetup,
    onError(failure) {
      // Without a path the error is about the connection itself (bad frame, failed setup): the
      // client's doing, worth a line but not an alarm.
      if (failure.path === undefined) {
        log.info({ conn: failure.ctx?.connection?.id, err: failure.error.message }, "connection error");
        return;
      }
      logProcedureError(failure);
    },
    async createContext(socket, connectionParams): Promise<Context> {
      const state = states.get(socket) ?? newSocketState("unknown", "unknown");
      const token = connectionParams?.token;
      const authentication = await admission.authenticate(state, socket, token);
      if (!authentication.admitted) {
        // Answered first, then closed with 4029 (closeFailedSetup).
        throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: closeCodes.tooManyForUser.reason });
      }
      const { credential } = authentication;
      const user = credential?.user ?? null;
      const open = socket.readyState === socket.OPEN;
      log.info(
        { conn: state.connectionId, user: user?.id ?? null, via: token !== undefined ? "token" : "cookie" },
        "connection authenticated",
      );
      // The context is made once per connection; after a close nothing would undo what follows.
      if (open) {
        if (user && !state.presentAs) {
          state.presentAs = user.id;
          presence.connect({ id: user.id, name: user.name });
          if (state.authDeadline) clearTimeout(state.authDeadline);
          state.authDeadline = null;
        }
        if (credential && state.expiresAt === 0) state.expiresAt = credential.expiresAt;
        if (credential?.sessionId && !state.sessionId) {
          credentials.track(socket, credential.sessionId);
          state.sessionId = credential.sessionId;
        }
      }
      return {
        user,
        credential,
        instanceId: getInstanceId(),
        clientAddress: state.clientAddress,
        transport: "ws",
        connection: new SocketConnection(state.connectionId, socket, state.connectedAt),
      };
    },
  });
  protocol.startHeartbeat(options.heartbeatMs, options.pongWaitMs);

  /** A socket completed its handshake: it counts, is watched, and speaks tRPC from now on. */
  function opened(socket: WebSocket, state: SocketState, expectConnectionParams: boolean): void {
    connectionOpened();
    states.set(socket, state);
    log.info({ conn: state.connectionId, user: state.cookie?.user.id ?? null }, "connection opened");
    socket.on("close", onSocketClose);
    protocol.accept(socket, expectConnectionParams);
    // Whoever has not authenticated by now (cookie or connectionParams) is let go; cleared on sign-in.
    if (!state.presentAs) {
      state.authDeadline = setTimeout(closeUnauthenticated, options.authTimeoutMs, socket).unref();
    }
  }

  return {
    async handleUpgrade(req, socket, head) {
      socket.on("error", destroyOnError);
      await admission.admitUpgrade(req, socket, newUpgradeState, (state) => {
        // wsLink adds ?connectionParams=1 when its first message will carry them (typed clients' tokens).
        const expectConnectionParams =
          new URL(req.url ?? "/", "http://upgrade").searchParams.get("connectionParams") === "1";
        let wasOpened = false;
        // ws completes the handshake synchronously here (no verifyClient): a client that hung up
        // while its cookie was being read is dropped without a socket.
        wss.handleUpgrade(req, socket, head, (ws) => {
          wasOpened = true;
          state.connectedAt = Date.now();
          opened(ws, state, expectConnectionParams);
        });
        return wasOpened;
      });
    },
    async close(graceMs = 5_000) {
      admission.stop();
      credentials.stop();
      // wsLink reconnects on this notification; clients add jitter so they do not all return at once.
      protocol.broadcastReconnectNotification();
      protocol.stopHeartbeat();
      const deadline = Date.now() + graceMs;
      while (wss.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      for (const client of wss.clients) client.close(closeCodes.goingAway.code, closeCodes.goingAway.reason);
      await new Promise((r) => setTimeout(r, 200));
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await Promise.allSettled([getBroadcastFeed().stop(), presence.stop(), getChannelRegistry().stop()]);
      getChannelPresence().stop();
    },
  };
}
