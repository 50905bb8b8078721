import { type DatabaseHandle, openDatabase, setDatabase } from "@plauder/db";
import { migrateDatabase } from "@plauder/db/migrate";
import { createTestPostgres } from "@plauder/db/testing";
import { SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueAccessToken, readAccessToken, revokeSession, stopRevocations, verifyAccessToken } from "../src/index";

const user = { id: "4b0d7c36-6a7e-4d3f-9f57-3c1e0f3a9a11", email: "anna@example.com", name: "Anna" };
let handle: DatabaseHandle;
let drop: () => Promise<void>;

// Verifying a token consults the revocations, whose record is the database.
beforeAll(async () => {
  process.env.AUTH_SECRET = "test-secret-that-is-long-enough-for-hs256-keys";
  const database = await createTestPostgres();
  drop = database.drop;
  handle = openDatabase({ kind: "postgres", url: database.url });
  await migrateDatabase(handle);
  setDatabase(handle);
});

afterAll(async () => {
  await stopRevocations();
  await handle?.close();
  await drop?.();
});

describe("access tokens", () => {
  it("round-trips a user and expires at the configured time", async () => {
    const now = Date.now();
    const { token, expiresAt } = await issueAccessToken(user, now);
    expect(expiresAt).toBe(now + 900_000);
    expect(await verifyAccessToken(token)).toEqual(user);
  });

  it("refuses a revoked token, and only that one", async () => {
    const { token } = await issueAccessToken(user);
    const other = await issueAccessToken(user);
    const credential = await readAccessToken(token);
    expect(credential?.sessionId).toBeDefined();
    await revokeSession({
      sessionId: credential?.sessionId as string,
      userId: user.id,
      expiresAt: credential?.revokeUntil as number,
    });
    expect(await verifyAccessToken(token)).toBeNull();
    expect(await verifyAccessToken(other.token)).toEqual(user);
  });

  it("refuses an expired token", async () => {
    const { token } = await issueAccessToken(user, Date.now() - 3_600_000);
    expect(await verifyAccessToken(token)).toBeNull();
  });

  it("refuses a token signed with another secret", async () => {
    const forged = await new SignJWT({ email: user.email, name: user.name })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(user.id)
      .setIssuer("plauder")
      .setAudience("plauder-api")
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode("some-other-secret-some-other-secret"));
    expect(await verifyAccessToken(forged)).toBeNull();
  });

  it("refuses an unsigned (alg: none) token", async () => {
    const unsigned = new UnsecuredJWT({ email: user.email, name: user.name })
      .setSubject(user.id)
      .setIssuer("plauder")
      .setAudience("plauder-api")
      .setExpirationTime("10m")
      .encode();
    expect(await verifyAccessToken(unsigned)).toBeNull();
  });

  it("refuses a token whose payload was edited", async () => {
    const { token } = await issueAccessToken(user);
    const [header, , signature] = token.split(".");
    const payload = Buffer.from(JSON.stringify({ sub: "someone-else", email: "x@y.z", name: "X" })).toString(
      "base64url",
    );
    expect(await verifyAccessToken(`${header}.${payload}.${signature}`)).toBeNull();
  });

  it("refuses garbage and non-strings", async () => {
    for (const value of [undefined, null, 42, "", "a.b.c", "x".repeat(5000), { token: "x" }]) {
      expect(await verifyAccessToken(value)).toBeNull();
    }
  });
});
