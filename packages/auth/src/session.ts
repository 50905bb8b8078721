import { getToken } from "next-auth/jwt";
import type { Credential } from "./access-token";
import { isSessionRevoked } from "./revocations";
import { getAuthSecret } from "./secret";
import type { AuthUser } from "./validators";

const plainCookie = "authjs.session-token";
const secureCookie = `__Secure-${plainCookie}`;

/**
 * Reads the next-auth session cookie from a raw `Cookie` header (a WebSocket upgrade has no Next
 * request object) and returns its user, or `null` when there is no valid, unexpired session.
 */
export async function userFromSessionCookie(cookieHeader: string | undefined): Promise<AuthUser | null> {
  return (await sessionFromCookie(cookieHeader))?.user ?? null;
}

/** {@link userFromSessionCookie} with the session's expiry (epoch ms), for connections that outlive requests. */
export async function sessionFromCookie(cookieHeader: string | undefined): Promise<Credential | null> {
  if (!cookieHeader) return null;
  // Behind TLS the cookie carries the __Secure- prefix; the prefix is also the decryption salt.
  const secure = cookieHeader.includes(`${secureCookie}=`);
  const token = await getToken({
    req: { headers: { cookie: cookieHeader } },
    secret: getAuthSecret(),
    secureCookie: secure,
  });
  if (!token || typeof token.sub !== "string") return null;
  const sessionId = typeof token.sid === "string" ? token.sid : undefined;
  // Signed out: the browser dropped the cookie, and a copy of it is worth nothing either.
  if (sessionId && (await isSessionRevoked(sessionId))) return null;
  const user = { id: token.sub, email: String(token.email ?? ""), name: String(token.name ?? "") };
  // next-auth always sets exp; without one, fall back to its default session length.
  const expiresAt = typeof token.exp === "number" ? token.exp * 1000 : Date.now() + 30 * 86_400_000;
  return { user, expiresAt, sessionId };
}
