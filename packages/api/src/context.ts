import { type AuthUser, userFromSessionCookie, verifyAccessToken } from "@plauder/auth";
import { getInstanceId } from "@plauder/runtime";

/** What every procedure knows about its caller. Created once per HTTP request or per WebSocket connection. */
export type Context = {
  user: AuthUser | null;
  instanceId: string;
  clientAddress: string;
  transport: "http" | "ws";
};

/**
 * Context for an HTTP call: a typed client's `Authorization: Bearer <access token>`, else the
 * browser's session cookie. Tokens never travel in URLs.
 */
export async function createHttpContext(headers: Headers, clientAddress: string): Promise<Context> {
  const authorization = headers.get("authorization");
  const bearer = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length).trim() : undefined;
  const user = bearer
    ? await verifyAccessToken(bearer)
    : await userFromSessionCookie(headers.get("cookie") ?? undefined);
  return { user, instanceId: getInstanceId(), clientAddress, transport: "http" };
}
