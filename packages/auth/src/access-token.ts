import { hkdfSync, randomUUID } from "node:crypto";
import { getEnv } from "@plauder/runtime";
import { errors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { isSessionRevoked } from "./revocations";
import { getAuthSecret } from "./secret";
import type { AuthUser } from "./validators";

const issuer = "plauder";
const audience = "plauder-api";

// A key of its own, derived from the secret, so an access token can never pass as a session cookie.
function signingKey(): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", getAuthSecret(), "plauder", "plauder access token v1", 32));
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
  const token = await new SignJWT({ email: user.email, name: user.name })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(user.id)
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt(Math.floor(now / 1000))
    .setJti(randomUUID())
    .setExpirationTime(Math.floor(expiresAt / 1000))
    .sign(signingKey());
  return { token, expiresAt };
}

/** A verified credential: whose it is, and until when (epoch ms) it may be used. */
export type Credential = {
  user: AuthUser;
  expiresAt: number;
  /** Identifies the session (cookie) or token, so logout can end it and the sockets opened with it. */
  sessionId?: string;
};

/**
 * Verifies an access token and returns its user and expiry, or `null` when it is malformed, forged,
 * expired or signed with any algorithm but HS256 (so `alg: none` never passes).
 */
export async function readAccessToken(token: unknown): Promise<Credential | null> {
  if (typeof token !== "string" || token.length === 0 || token.length > 4096) return null;
  try {
    const { payload } = await jwtVerify(token, signingKey(), { algorithms: ["HS256"], issuer, audience });
    const claims = claimsSchema.parse(payload);
    if (await isSessionRevoked(claims.jti)) return null;
    return {
      user: { id: claims.sub, email: claims.email, name: claims.name },
      expiresAt: claims.exp * 1000,
      sessionId: claims.jti,
    };
  } catch (error) {
    if (error instanceof errors.JOSEError || error instanceof z.ZodError) return null;
    throw error;
  }
}

/** {@link readAccessToken}, for callers that only need the user. */
export async function verifyAccessToken(token: unknown): Promise<AuthUser | null> {
  return (await readAccessToken(token))?.user ?? null;
}
