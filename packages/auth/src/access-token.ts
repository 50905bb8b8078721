import { hkdfSync, randomUUID } from "node:crypto";
import { getEnv } from "@plauder/runtime";
import { createSigner, createVerifier, TokenError } from "fast-jwt";
import { z } from "zod";
import { isSessionRevoked } from "./revocations";
import { getAuthSecret } from "./secret";
import type { AuthUser } from "./validators";

const issuer = "plauder";
const audience = "plauder-api";

/**
 * Signs and verifies access tokens: HS256 only, with a key of its own derived from the secret, so an
 * access token can never pass as a session cookie. Made once per process (the secret is fixed for
 * the process's life).
 *
 * fast-jwt rather than jose: every WebSocket connection of a typed client verifies a token, and
 * fast-jwt computes the HMAC with node:crypto directly instead of jose's asynchronous WebCrypto path
 * (connect figures before and after in docs/benchmarks-history.md).
 */
let tokenKeys: { sign: (payload: Record<string, unknown>) => string; verify: (token: string) => unknown } | null = null;
function keys(): NonNullable<typeof tokenKeys> {
  if (!tokenKeys) {
    const key = Buffer.from(hkdfSync("sha256", getAuthSecret(), "plauder", "plauder access token v1", 32));
    tokenKeys = {
      sign: createSigner({ key, algorithm: "HS256" }),
      verify: createVerifier({
        key,
        algorithms: ["HS256"],
        allowedIss: issuer,
        allowedAud: audience,
        requiredClaims: ["sub", "exp", "jti"],
      }),
    };
  }
  return tokenKeys;
}

const claimsSchema = z.object({
  sub: z.string().min(1),
  email: z.string(),
  name: z.string(),
  exp: z.number(),
  /** The token's own id, by which logout revokes it. */
  jti: z.string().min(1),
});

/** Issues a short-lived signed token (HS256) that typed clients send as `connectionParams.token`. */
export async function issueAccessToken(
  user: AuthUser,
  now = Date.now(),
): Promise<{ token: string; expiresAt: number }> {
  const expiresAt = now + getEnv().ACCESS_TOKEN_TTL_SECONDS * 1000;
  const token = keys().sign({
    sub: user.id,
    email: user.email,
    name: user.name,
    iss: issuer,
    aud: audience,
    iat: Math.floor(now / 1000),
    jti: randomUUID(),
    exp: Math.floor(expiresAt / 1000),
  });
  return { token, expiresAt };
}

/** A verified credential: whose it is, and until when (epoch ms) it may be used. */
export type Credential = {
  user: AuthUser;
  expiresAt: number;
  /** Identifies the session (cookie) or token, so logout can end it and the sockets opened with it. */
  sessionId?: string;
  /**
   * Until when a logout of it must be kept (epoch ms): no copy of it is accepted after that anyway.
   * A token's own expiry; for a cookie, later than the presented copy's (see session-lifetime.ts).
   */
  revokeUntil: number;
};

/**
 * Verifies an access token and returns its user and expiry, or `null` when it is malformed, forged,
 * expired or signed with any algorithm but HS256 (so `alg: none` never passes).
 */
export async function readAccessToken(token: unknown): Promise<Credential | null> {
  if (typeof token !== "string" || token.length === 0 || token.length > 4096) return null;
  try {
    const claims = claimsSchema.parse(keys().verify(token));
    if (await isSessionRevoked(claims.jti)) return null;
    return {
      user: { id: claims.sub, email: claims.email, name: claims.name },
      expiresAt: claims.exp * 1000,
      sessionId: claims.jti,
      revokeUntil: claims.exp * 1000,
    };
  } catch (error) {
    if (error instanceof TokenError || error instanceof z.ZodError) return null;
    throw error;
  }
}

/** {@link readAccessToken}, for callers that only need the user. */
export async function verifyAccessToken(token: unknown): Promise<AuthUser | null> {
  return (await readAccessToken(token))?.user ?? null;
}
