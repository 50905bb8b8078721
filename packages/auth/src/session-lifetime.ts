import { getEnv } from "@plauder/runtime";
import { z } from "zod";
import { isSessionRevoked } from "./revocations";

/**
 * The claims a session cookie must carry; the jwt callback stamps `sid` and `authTime` at sign-in.
 * A cookie without them was issued before they existed: it is refused, and its holder signs in again.
 */
const sessionClaims = z.object({
  sub: z.string().min(1),
  /** One id per sign-in, by which logout revokes exactly this session. */
  sid: z.string().min(1).max(200),
  /** When the person signed in (epoch seconds); refreshes keep it. */
  authTime: z.number().int().nonnegative(),
  /** Set by next-auth on every refresh (epoch seconds). */
  exp: z.number().optional(),
  email: z.unknown().optional(),
  name: z.unknown().optional(),
});

export type SessionClaims = z.infer<typeof sessionClaims>;

/** When a session signed in at `authTime` (epoch seconds) ends however often it is refreshed (epoch ms). */
export function absoluteEnd(authTime: number): number {
  return (authTime + getEnv().SESSION_ABSOLUTE_MAX_AGE_SECONDS) * 1000;
}

/**
 * How long a logout of this session must be kept (epoch ms): until no copy of the cookie can be
 * accepted. Not the presented cookie's `exp`: a copy refreshed earlier (another tab, a stolen copy)
 * may expire later. No copy outlives the absolute end, and none was issued later than now with
 * more than the sliding lifetime; the later of the two holds even if either setting changes.
 */
export function revocationEnd(claims: Pick<SessionClaims, "authTime">, now = Date.now()): number {
  return Math.max(absoluteEnd(claims.authTime), now + getEnv().SESSION_MAX_AGE_SECONDS * 1000);
}

/**
 * The session's claims if it may still be used: it has a session id and a sign-in time, has not
 * expired, is not past its absolute lifetime, and was not revoked. Otherwise null.
 */
export async function usableSession(token: unknown, now = Date.now()): Promise<SessionClaims | null> {
  const parsed = sessionClaims.safeParse(token);
  if (!parsed.success) return null;
  const claims = parsed.data;
  if (claims.exp !== undefined && claims.exp * 1000 <= now) return null;
  if (absoluteEnd(claims.authTime) <= now) return null;
  if (await isSessionRevoked(claims.sid)) return null;
  return claims;
}
