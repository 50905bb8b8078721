import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installTestDatabase, type TestDatabase } from "@plauder/db/testing";
import { clearProcessSingleton, closeSharedRedis, resetEnv } from "@plauder/runtime";
import { median } from "@plauder/runtime/stats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attemptLogin, registerAccount } from "../src/index";

const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

describe.each([
  { name: "memory throttle", redis: false },
  { name: "Redis throttle", redis: true },
])("accounts on Postgres with $name", ({ redis }) => {
  let database: TestDatabase;

  beforeAll(async () => {
    resetEnv();
    clearProcessSingleton("loginThrottle");
    clearProcessSingleton("registrationLimiter");
    process.env.DATA_DIR = mkdtempSync(join(tmpdir(), "plauder-auth-"));
    process.env.LOGIN_MAX_ATTEMPTS = "3";
    process.env.LOGIN_MAX_FAILURES_PER_ACCOUNT = "12";
    process.env.LOGIN_MAX_FAILURES_PER_ADDRESS = "6";
    process.env.REGISTER_RATE_LIMIT = "4";
    process.env.REDIS_KEY_PREFIX = `plauder-test-${randomUUID()}:`;
    if (redis) process.env.REDIS_URL = redisUrl;
    else delete process.env.REDIS_URL;
    database = await installTestDatabase();
  });

  afterAll(async () => {
    await closeSharedRedis();
    await database.close();
  });

  it("registers a user, and answers a taken email the same way without touching its account", async () => {
    const first = await registerAccount({ email: "anna@example.com", password: "correct horse", name: "Anna" }, "r1");
    const again = await registerAccount(
      { email: "anna@example.com", password: "another one!", name: "Imposter" },
      "r1",
    );
    expect(first).toEqual({ ok: true, email: "anna@example.com" });
    expect(again).toEqual(first);
    // The account is still Anna's: her password signs in, the second registration's does not.
    expect(await attemptLogin({ email: "anna@example.com", password: "another one!" }, "r0")).toMatchObject({
      ok: false,
    });
    const signedIn = await attemptLogin({ email: "anna@example.com", password: "correct horse" }, "r0");
    expect(signedIn).toMatchObject({ ok: true, user: { name: "Anna" } });
  });

  it("registers at most REGISTER_RATE_LIMIT accounts per address and window, before hashing", async () => {
    for (let i = 0; i < 4; i++) {
      const result = await registerAccount({ email: `r${i}@example.com`, password: "correct horse", name: "R" }, "r2");
      expect(result.ok).toBe(true);
    }
    const started = performance.now();
    const refused = await registerAccount({ email: "r9@example.com", password: "correct horse", name: "R" }, "r2");
    expect(refused).toMatchObject({ ok: false });
    if (refused.ok) throw new Error("expected a refusal");
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
    // Refused before the argon2id hash (about 50 ms or more here), not after.
    expect(performance.now() - started).toBeLessThan(25);
    expect(await attemptLogin({ email: "r9@example.com", password: "correct horse" }, "r0")).toMatchObject({
      ok: false,
      reason: "invalid",
    });
    // Another address registers as before.
    expect((await registerAccount({ email: "r10@example.com", password: "correct horse", name: "R" }, "r3")).ok).toBe(
      true,
    );
  });

  it("signs in with the right password only, and says nothing about which part was wrong", async () => {
    const ok = await attemptLogin({ email: "anna@example.com", password: "correct horse" }, "10.0.0.1");
    expect(ok).toMatchObject({ ok: true, user: { email: "anna@example.com", name: "Anna" } });
    expect(await attemptLogin({ email: "anna@example.com", password: "wrong" }, "10.0.0.1")).toEqual({
      ok: false,
      reason: "invalid",
    });
    expect(await attemptLogin({ email: "nobody@example.com", password: "wrong" }, "10.0.0.1")).toEqual({
      ok: false,
      reason: "invalid",
    });
  });

  it("spends about as long on an unknown email as on a wrong password", async () => {
    const medianLoginTime = async (email: string) => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        await attemptLogin({ email, password: "wrong password" }, `timing-${email}-${i}`);
        times.push(performance.now() - started);
      }
      return median(times);
    };
    const known = await medianLoginTime("anna@example.com");
    const unknown = await medianLoginTime("ghost@example.com");
    // Without the dummy verification the unknown path skips argon2 and is ~100x faster.
    expect(unknown / known).toBeGreaterThan(0.3);
  });

  it("throttles repeated attempts and tells when to retry", async () => {
    const address = "10.0.0.2";
    for (let i = 0; i < 3; i++) {
      expect((await attemptLogin({ email: "anna@example.com", password: "bad" }, address)).ok).toBe(false);
    }
    const blocked = await attemptLogin({ email: "anna@example.com", password: "correct horse" }, address);
    expect(blocked).toMatchObject({ ok: false, reason: "throttled" });
    if (blocked.ok || blocked.reason !== "throttled") throw new Error("expected a throttled result");
    expect(blocked.retryAfterSeconds).toBeGreaterThan(0);
    // Another address is not affected by this one's failures.
    expect((await attemptLogin({ email: "anna@example.com", password: "correct horse" }, "10.0.0.3")).ok).toBe(true);
  });

  it("limits failures for one account across addresses (credential stuffing)", async () => {
    await registerAccount({ email: "stuffed@example.com", password: "correct horse", name: "S" }, "s0");
    // Twelve failures from twelve addresses: each address is far from its own limit.
    for (let i = 0; i < 12; i++) {
      expect(await attemptLogin({ email: "stuffed@example.com", password: "guess" }, `stuffer-${i}`)).toMatchObject({
        reason: "invalid",
      });
    }
    // Now even the right password from a new address is refused for this window.
    const next = await attemptLogin({ email: "stuffed@example.com", password: "correct horse" }, "stuffer-new");
    expect(next).toMatchObject({ ok: false, reason: "throttled" });
    // Other accounts are not affected.
    await registerAccount({ email: "bystander@example.com", password: "correct horse", name: "B" }, "s0");
    expect((await attemptLogin({ email: "bystander@example.com", password: "correct horse" }, "stuffer-new")).ok).toBe(
      true,
    );
  });

  it("limits failures from one address across emails (password spraying), and successes do not count", async () => {
    const address = "sprayer";
    await registerAccount({ email: "nat@example.com", password: "correct horse", name: "N" }, "s1");
    // Successful sign-ins from the address (people behind one NAT) use up nothing.
    for (let i = 0; i < 8; i++) {
      expect((await attemptLogin({ email: "nat@example.com", password: "correct horse" }, address)).ok).toBe(true);
    }
    for (let i = 0; i < 6; i++) {
      expect(await attemptLogin({ email: `victim-${i}@example.com`, password: "Sommer2026!" }, address)).toMatchObject({
        reason: "invalid",
      });
    }
    expect(await attemptLogin({ email: "victim-7@example.com", password: "Sommer2026!" }, address)).toMatchObject({
      reason: "throttled",
    });
    // The address is shut for everyone, the right password included; other addresses are not.
    expect(await attemptLogin({ email: "nat@example.com", password: "correct horse" }, address)).toMatchObject({
      reason: "throttled",
    });
    expect((await attemptLogin({ email: "nat@example.com", password: "correct horse" }, "elsewhere")).ok).toBe(true);
  });
});
