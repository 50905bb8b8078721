/**
 * The rules a session cookie must pass, both where the server reads it (sessionFromCookie: the
 * WebSocket upgrade, HTTP tRPC) and where next-auth refreshes it (the jwt callback calls
 * usableSession; next-auth's entry point does not load outside Next, so the callback itself is
 * exercised by the resilience suite), with cookies encrypted as next-auth does and revocations in
 * a real Postgres.
 */
import { randomUUID } from "node:crypto";
import { installTestDatabase, type TestDatabase } from "@plauder/db/testing";
import { resetEnv } from "@plauder/runtime";
import type { JWT } from "next-auth/jwt";
import { encode } from "next-auth/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { revokeSession, sessionFromCookie, stopRevocations } from "../src/index";
import { usableSession } from "../src/session-lifetime";

const secret = "test-secret-that-is-long-enough-for-hs256-keys";
const slidingSeconds = 600;
const absoluteSeconds = 3_600;
const userId = randomUUID();
let database: TestDatabase | undefined;

beforeAll(async () => {
  process.env.AUTH_SECRET = secret;
  process.env.SESSION_MAX_AGE_SECONDS = String(slidingSeconds);
  process.env.SESSION_ABSOLUTE_MAX_AGE_SECONDS = String(absoluteSeconds);
  resetEnv();
  database = await installTestDatabase();
});

afterAll(async () => {
  await stopRevocations();
  await database?.close();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Claims as the jwt callback stamps them at sign-in, `ageSeconds` ago. */
function signedIn(ageSeconds = 0): JWT {
  return {
    sub: userId,
    email: "anna@example.com",
    name: "Anna",
    sid: randomUUID(),
    authTime: nowSeconds() - ageSeconds,
  };
}

/** A `Cookie` header carrying the claims, encrypted as next-auth does (its expiry: `maxAge` from now). */
async function cookieFor(token: JWT, maxAge = slidingSeconds): Promise<string> {
  const value = await encode({ token, secret, salt: "authjs.session-token", maxAge });
  return `authjs.session-token=${value}`;
}

/** What the jwt callback decides on a refresh: the token goes on, or null (the cookie is deleted). */
async function refreshed(token: JWT): Promise<JWT | null> {
  return (await usableSession(token)) ? token : null;
}

describe("session rules", () => {
  it("accept a fresh session, which expires at its cookie's end or its absolute end, whichever is first", async () => {
    const young = signedIn(60);
    const credential = await sessionFromCookie(await cookieFor(young));
    expect(credential?.user).toEqual({ id: userId, email: "anna@example.com", name: "Anna" });
    expect(credential?.sessionId).toBe(young.sid);
    const cookieEnd = (nowSeconds() + slidingSeconds) * 1000;
    expect(Math.abs((credential?.expiresAt ?? 0) - cookieEnd)).toBeLessThanOrEqual(1_000);
    expect(await refreshed(young)).toEqual(young);

    // Signed in 55 minutes ago: the absolute end (in 5 minutes) comes before the cookie's (in 10).
    const old = signedIn(absoluteSeconds - 300);
    const nearEnd = await sessionFromCookie(await cookieFor(old));
    expect(nearEnd?.expiresAt).toBe(((old.authTime as number) + absoluteSeconds) * 1000);
  });

  it("refuse a session past its absolute lifetime, however fresh its cookie", async () => {
    const tooOld = signedIn(absoluteSeconds + 1);
    expect(await sessionFromCookie(await cookieFor(tooOld))).toBeNull();
    expect(await refreshed(tooOld)).toBeNull();
  });

  it("refuse a cookie without a session id or sign-in time: sign in again", async () => {
    const { sid: _sid, ...withoutSid } = signedIn();
    const { authTime: _authTime, ...withoutAuthTime } = signedIn();
    for (const token of [withoutSid, withoutAuthTime]) {
      expect(await sessionFromCookie(await cookieFor(token))).toBeNull();
      expect(await refreshed(token)).toBeNull();
    }
  });

  it("refuse a revoked session, and keep the revocation past the presented cookie's expiry", async () => {
    const session = signedIn(60);
    const cookie = await cookieFor(session);
    const credential = await sessionFromCookie(cookie);
    if (!credential?.sessionId) throw new Error("the fresh session was refused");
    // A copy refreshed elsewhere may expire later than this one; the revocation must outlast it.
    expect(credential.revokeUntil).toBeGreaterThanOrEqual(Date.now() + slidingSeconds * 1000);
    await revokeSession({ sessionId: credential.sessionId, userId, expiresAt: credential.revokeUntil });
    expect(await sessionFromCookie(cookie)).toBeNull();
    expect(await refreshed(session)).toBeNull();
    // The person's other session is untouched.
    expect(await sessionFromCookie(await cookieFor(signedIn(60)))).not.toBeNull();
  });
});
