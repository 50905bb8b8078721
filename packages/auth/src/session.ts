import { getToken } from "next-auth/jwt";
import type { Credential } from "./access-token";
import { getAuthSecret } from "./secret";
import { absoluteEnd, revocationEnd, usableSession } from "./session-lifetime";

const plainCookie = "authjs.session-token";
const secureCookie = `__Secure-${plainCookie}`;

/**
 * Reads the next-auth session cookie from a raw `Cookie` header (a WebSocket upgrade has no Next
 * request object) and returns its user and the session's expiry (epoch ms), for connections that
 * outlive requests; `null` when there is no valid, unexpired session. The same rules as next-auth's
 * own refresh (see next-auth-config.ts): a cookie without a session id or sign-in time, past its
 * absolute lifetime, or signed out is worth nothing.
 */
export async function sessionFromCookie(cookieHeader: string | undefined): Promise<Credential | null> {
  if (!cookieHeader) return null;
  // Behind TLS the cookie carries the __Secure- prefix; the prefix is also the decryption salt.
  const secure = cookieHeader.includes(`${secureCookie}=`);
  const token = await getToken({
    req: { headers: { cookie: cookieHeader } },
    secret: getAuthSecret(),
    secureCookie: secure,
  });
  const claims = await usableSession(token);
  if (!claims) return null;
  const user = { id: claims.sub, email: String(claims.email ?? ""), name: String(claims.name ?? "") };
  // A socket opened with it closes at whichever end comes first: the cookie's or the session's.
  const sessionEnd = absoluteEnd(claims.authTime);
  const expiresAt = claims.exp !== undefined ? Math.min(claims.exp * 1000, sessionEnd) : sessionEnd;
  return { user, expiresAt, sessionId: claims.sid, revokeUntil: revocationEnd(claims) };
}
