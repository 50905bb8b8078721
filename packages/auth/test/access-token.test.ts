import { createHmac } from "node:crypto";
import { installTestDatabase, type TestDatabase } from "@plauder/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueAccessToken, readAccessToken, revokeSession, stopRevocations, verifyAccessToken } from "../src/index";

const user = { id: "4b0d7c36-6a7e-4d3f-9f57-3c1e0f3a9a11", email: "anna@example.com", name: "Anna" };
let database: TestDatabase | undefined;

/** A JWT segment's JSON. */
const decode = (segment: string | undefined): Record<string, unknown> =>
  JSON.parse(Buffer.from(segment ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
const base64url = (value: Record<string, unknown>) => Buffer.from(JSON.stringify(value)).toString("base64url");
const hs256 = (signingInput: string, key: string) => createHmac("sha256", key).update(signingInput).digest("base64url");

// Verifying a token consults the revocations, whose record is the database.
beforeAll(async () => {
  process.env.AUTH_SECRET = "test-secret-that-is-long-enough-for-hs256-keys";
  database = await installTestDatabase();
});

afterAll(async () => {
  await stopRevocations();
  await database?.close();
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
    const { token } = await issueAccessToken(user);
    const [header, payload] = token.split(".");
    // The issued header and claims exactly, signed with a key that is not the server's.
    const forged = `${header}.${payload}.${hs256(`${header}.${payload}`, "some-other-secret-some-other-secret")}`;
    expect(forged).not.toBe(token);
    expect(await verifyAccessToken(token)).toEqual(user);
    expect(await verifyAccessToken(forged)).toBeNull();
  });

  it("refuses an unsigned (alg: none) token", async () => {
    const { token } = await issueAccessToken(user);
    const [header, payload] = token.split(".");
    const unsignedHeader = base64url({ ...decode(header), alg: "none" });
    expect(await verifyAccessToken(token)).toEqual(user);
    // The issued claims, complete and unexpired, under `alg: none` with no signature.
    expect(await verifyAccessToken(`${unsignedHeader}.${payload}.`)).toBeNull();
  });

  it("refuses a token whose payload was edited", async () => {
    const { token } = await issueAccessToken(user);
    const [header, payload, signature] = token.split(".");
    const claims = decode(payload);
    // Every claim kept (jti, exp, iss, aud, iat); only whose token it is changes.
    const edited = base64url({ ...claims, sub: "5c1e8d47-7b8f-4e4a-8a68-4d2f1a4b0b22", email: "x@y.z", name: "X" });
    expect(Object.keys(decode(edited)).sort()).toEqual(Object.keys(claims).sort());
    expect(await verifyAccessToken(token)).toEqual(user);
    expect(await verifyAccessToken(`${header}.${edited}.${signature}`)).toBeNull();
  });

  it("refuses garbage and non-strings", async () => {
    for (const value of [undefined, null, 42, "", "a.b.c", "x".repeat(5000), { token: "x" }]) {
      expect(await verifyAccessToken(value)).toBeNull();
    }
  });
});
