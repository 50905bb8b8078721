import { getToken } from "next-auth/jwt";
import { getAuthSecret } from "./secret";
import type { AuthUser } from "./validators";

const plainCookie = "authjs.session-token";
const secureCookie = `__Secure-${plainCookie}`;

/**
 * Reads the next-auth session cookie from a raw `Cookie` header (a WebSocket upgrade has no Next
 * request object) and returns its user, or `null` when there is no valid, unexpired session.
 */
export async function userFromSessionCookie(cookieHeader: string | undefined): Promise<AuthUser | null> {
  if (!cookieHeader) return null;
  // Behind TLS the cookie carries the __Secure- prefix; the prefix is also the decryption salt.
  const secure = cookieHeader.includes(`${secureCookie}=`);
  const token = await getToken({
    req: { headers: { cookie: cookieHeader } },
    secret: getAuthSecret(),
    secureCookie: secure,
  });
  if (!token || typeof token.sub !== "string") return null;
  return { id: token.sub, email: String(token.email ?? ""), name: String(token.name ?? "") };
}
