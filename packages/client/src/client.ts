import type { AppRouter } from "@plauder/api";
import { credentialsEndedCodes } from "@plauder/api/close-codes";
import { jitteredBackoff } from "@plauder/runtime/backoff";
import {
  createTRPCClient,
  createWSClient,
  type TRPCClient,
  TRPCClientError,
  type TRPCLink,
  wsLink,
} from "@trpc/client";
import { observable } from "@trpc/server/observable";
import WebSocket from "ws";

export { jitteredBackoff };

import { CredentialsEndedError } from "./errors";
import { type LoginResponse, login, websocketUrl } from "./login";

export type PlauderClientOptions = (
  | { url: string; email: string; password: string }
  | { url: string; token: string }
) & {
  /** Delay before reconnect attempt `n` (0-based). Default: exponential from 500 ms to 15 s, with jitter. */
  retryDelayMs?: (attempt: number) => number;
  /** Called when the socket opens or closes (connection status in CLIs and tests). */
  onOpen?: () => void;
  onClose?: (cause?: { code?: number }) => void;
  /**
   * Called when the server closes the socket because the fixed `token` it was opened with has
   * ended (expired or logged out, close 4001) or was never accepted (4401). No reconnect could
   * succeed with it, so the client stops: open subscriptions complete, further calls fail.
   * Clients with email and password sign in again instead and do not call this.
   */
  onCredentialsEnded?: (ended: CredentialsEnded) => void;
};

/** Why a fixed-token client stopped: the server's close code and reason (docs/realtime.md). */
export type CredentialsEnded = { code: number; reason: string };

export type PlauderClient = {
  /**
   * The typed tRPC client: `realtime` (`ping`, `echo`, `broadcast`, `publish`), `channels`
   * (`subscribe`, `publish`, `history`, `presence`; see subscribeChannel), `rooms`,
   * `conversations`, `health`, `auth.me`.
   */
  api: TRPCClient<AppRouter>;
  /** Closes the socket and stops reconnecting. */
  close(): Promise<void>;
};

// Renew a little before expiry, so a reconnect never presents a token that expires in flight.
const renewMarginMs = 30_000;

/**
 * A typed client over one WebSocket. With email and password it signs in first and signs in again
 * whenever it reconnects with an expiring token; with a token it uses that one. The token travels in
 * the connection's first message (`connectionParams`), never in the URL.
 */
export async function createPlauderClient(options: PlauderClientOptions): Promise<PlauderClient> {
  let session: LoginResponse | null = null;
  if ("email" in options) session = await login(options.url, options.email, options.password);
  const fixedToken = "token" in options ? options.token : null;

  const currentToken = async (): Promise<string> => {
    if (fixedToken !== null) return fixedToken;
    if ("email" in options && (!session || session.expiresAt - Date.now() < renewMarginMs)) {
      session = await login(options.url, options.email, options.password);
    }
    return (session as LoginResponse).token;
  };

  // Set once the server has ended a fixed token; from then on calls fail here, without a socket.
  let ended: CredentialsEnded | null = null;

  const wsClient = createWSClient({
    url: websocketUrl(options.url),
    // Node 20 has no global WebSocket; ws implements the same interface.
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: async () => ({ token: await currentToken() }),
    retryDelayMs: options.retryDelayMs ?? jitteredBackoff,
    onOpen: options.onOpen,
    onClose: (cause) => {
      options.onClose?.(cause);
      if (cause?.code === undefined || !credentialsEndedCodes.has(cause.code)) return;
      if (fixedToken === null) {
        // A password client's session was logged out or expired early: the reconnect signs in anew.
        session = null;
        return;
      }
      ended = { code: cause.code, reason: closeReason(cause) };
      // Told first, so the reason is known before open subscriptions complete.
      options.onCredentialsEnded?.(ended);
      // Closing here, before wsLink schedules its reconnect, is what stops that reconnect.
      void wsClient.close();
    },
  });
  const api = createTRPCClient<AppRouter>({
    links: [refuseOnceEnded(() => ended), wsLink({ client: wsClient })],
  });
  return {
    api,
    async close() {
      await wsClient.close();
    },
  };
}

/** The close frame's reason: tRPC passes the socket's CloseEvent, though its type only names the code. */
function closeReason(cause: { code?: number }): string {
  const reason = (cause as { reason?: unknown }).reason;
  return typeof reason === "string" ? reason : "";
}

/**
 * Fails every call once the server has ended the client's fixed token. Without it a call would
 * open a new socket with that token, be answered UNAUTHORIZED, and leave the socket to the
 * server's authentication deadline.
 */
function refuseOnceEnded(ended: () => CredentialsEnded | null): TRPCLink<AppRouter> {
  return () =>
    ({ next, op }) =>
      observable((observer) => {
        const why = ended();
        if (why === null) return next(op).subscribe(observer);
        observer.error(TRPCClientError.from(new CredentialsEndedError(why)));
        return undefined;
      });
}
