import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DatabaseHandle, openDatabase, setDatabase } from "@plauder/db";
import { migrateDatabase } from "@plauder/db/migrate";
import { createTestPostgres } from "@plauder/db/testing";
import { clearProcessSingleton, closeSharedRedis, resetEnv } from "@plauder/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attemptLogin, EmailTakenError, registerUser } from "../src/index";

const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

describe.each([
  { name: "memory throttle", redis: false },
  { name: "Redis throttle", redis: true },
])("accounts on Postgres with $name", ({ redis }) => {
  let handle: DatabaseHandle;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    resetEnv();
    clearProcessSingleton("loginLimiter");
    process.env.DATA_DIR = mkdtempSync(join(tmpdir(), "plauder-auth-"));
    process.env.LOGIN_MAX_ATTEMPTS = "3";
    process.env.REDIS_KEY_PREFIX = `plauder-test-${randomUUID()}:`;
    if (redis) process.env.REDIS_URL = redisUrl;
    else delete process.env.REDIS_URL;
    const database = await createTestPostgres();
    drop = database.drop;
    handle = openDatabase({ kind: "postgres", url: database.url });
    await migrateDatabase(handle);
    setDatabase(handle);
  });

  afterAll(async () => {
    await closeSharedRedis();
    await handle.close();
    await drop();
  });

  it("registers a user and refuses the same email in another case", async () => {
    const user = await registerUser({ email: "anna@example.com", password: "correct horse", name: "Anna" });
    expect(user).toMatchObject({ email: "anna@example.com", name: "Anna" });
    await expect(
      registerUser({ email: "anna@example.com", password: "another one", name: "Imposter" }),
    ).rejects.toBeInstanceOf(EmailTakenError);
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
    const median = async (email: string) => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        await attemptLogin({ email, password: "wrong password" }, `timing-${email}-${i}`);
        times.push(performance.now() - started);
      }
      return times.sort((a, b) => a - b)[2] ?? 0;
    };
    const known = await median("anna@example.com");
    const unknown = await median("ghost@example.com");
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
});
