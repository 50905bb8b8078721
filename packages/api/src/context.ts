import { type AuthUser, type Credential, readAccessToken, sessionFromCookie } from "@plauder/auth";
import { getInstanceId } from "@plauder/runtime";
import type { WebSocket } from "ws";

/** The WebSocket a call arrived on, so subscriptions can watch its send buffer. */
export type Connection = {
  id: string;
  socket: WebSocket;
  /** When the socket opened (epoch ms). */
  connectedAt: number;
  /** Closes the connection because it does not read fast enough (1013). */
  closeAsSlowConsumer(): void;
  /**
   * For a call that ends this connection's own session: from now on the session's closing passes
   * this connection by, and the returned function, called as the procedure's last step, closes it
   * as signed out (4001) once the answer has gone out. The caller hears the answer before the close.
   */
  holdForOwnSignOut(): () => void;
};

/** What every procedure knows about its caller. Created once per HTTP request or per WebSocket connection. */
export type Context = {
  user: AuthUser | null;
  /** The session cookie or token the caller presented, when it has one (logout ends it). */
  credential: Credential | null;
  instanceId: string;
  clientAddress: string;
  transport: "http" | "ws";
  connection: Connection | null;
};

/**
 * Context for an HTTP call: a typed client's `Authorization: Bearer <access token>`, else the
 * browser's session cookie. Tokens never travel in URLs.
 */
export async function createHttpContext(headers: Headers, clientAddress: string): Promise<Context> {
  const authorization = headers.get("authorization");
  const bearer = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length).trim() : undefined;
  const credential = bearer
    ? await readAccessToken(bearer)
    : await sessionFromCookie(headers.get("cookie") ?? undefined);
  return {
    user: credential?.user ?? null,
    credential,
    instanceId: getInstanceId(),
    clientAddress,
    transport: "http",
    connection: null,
  };
}
