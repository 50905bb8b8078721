/**
 * The revocation cache against a real Postgres (and PGlite): what it stores, what another instance learns and
 * when, rows that become visible late, expiry, and revocations made while the database is away.
 * Each `RevocationCache` stands for one instance; they share one database as instances do.
 */
import { randomUUID } from "node:crypto";
import { type DatabaseHandle, openDatabase, revokedSessions } from "@plauder/db";
import { migrateDatabase } from "@plauder/db/migrate";
import { createTestPostgres } from "@plauder/db/testing";
import { freePort } from "@plauder/runtime/testing";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RevocationCache, type RevocationCacheOptions } from "../src/revocation-cache";

let live: DatabaseHandle;
/** A Postgres client on a port nobody listens on: the database "away". */
let dead: DatabaseHandle;
const caches: RevocationCache[] = [];

beforeAll(async () => {
  dead = openDatabase({ kind: "postgres", url: `postgres://postgres@127.0.0.1:${await freePort()}/nothing` });
});

afterAll(async () => {
  await dead?.close();
});

/** An instance's cache; its timers are long, so the test decides when it polls (`tick`). */
function instance(options: Partial<RevocationCacheOptions> = {}): RevocationCache {
  const cache = new RevocationCache({ db: () => live.db, pollMs: 3_600_000, ...options });
  caches.push(cache);
  return cache;
}

const revocation = (expiresInMs = 60_000) => ({
  sessionId: randomUUID(),
  userId: randomUUID(),
  expiresAt: Date.now() + expiresInMs,
});

async function storedRow(sessionId: string) {
  const [row] = await live.db.select().from(revokedSessions).where(eq(revokedSessions.sessionId, sessionId));
  return row;
}

// The same code runs on Postgres and on the embedded PGlite, whose timestamps and `now()` it relies on.
describe.each(["postgres", "pglite"] as const)("the revocation cache on %s", (kind) => {
  let drop: () => Promise<void> = async () => {};

  beforeAll(async () => {
    if (kind === "postgres") {
      const database = await createTestPostgres();
      drop = database.drop;
      live = openDatabase({ kind: "postgres", url: database.url });
    } else {
      live = openDatabase({ kind: "pglite", dataDir: "memory://" });
    }
    await migrateDatabase(live);
  });

  afterAll(async () => {
    await Promise.allSettled(caches.splice(0).map((cache) => cache.stop()));
    await live?.close();
    await drop();
  });

  it("stores a revocation, refuses it at once, and another instance loads it at start", async () => {
    const a = instance();
    await a.start();
    const ended = revocation();
    expect(await a.revoke(ended)).toBe("stored");
    expect(await a.isRevoked(ended.sessionId)).toBe(true);
    expect(await storedRow(ended.sessionId)).toMatchObject({
      userId: ended.userId,
      expiresAt: new Date(ended.expiresAt),
    });

    const restarted = instance();
    await restarted.start();
    expect(await restarted.isRevoked(ended.sessionId)).toBe(true);
    expect(await restarted.revokedAmong([ended.sessionId, "never-revoked"])).toEqual(new Set([ended.sessionId]));
  });

  it("answers lookups from memory: another instance's revocation arrives with its next poll, or a bus note", async () => {
    const a = instance();
    const b = instance();
    await Promise.all([a.start(), b.start()]);
    const polled = revocation();
    await a.revoke(polled);
    // No query per lookup: until b polls (or hears the bus), it does not know.
    expect(await b.isRevoked(polled.sessionId)).toBe(false);
    await b.tick();
    expect(await b.isRevoked(polled.sessionId)).toBe(true);

    const announced = revocation();
    b.note(announced.sessionId, announced.expiresAt);
    expect(await b.isRevoked(announced.sessionId)).toBe(true);
  });

  it("finds a row that became visible after a poll had seen newer rows (the overlap)", async () => {
    const withOverlap = instance();
    const withoutOverlap = instance({ overlapMs: 1 });
    await Promise.all([withOverlap.start(), withoutOverlap.start()]);
    // Both have seen a fresh row, so their cursor is at the database's now.
    await instance().revoke(revocation());
    await Promise.all([withOverlap.tick(), withoutOverlap.tick()]);

    // A transaction that started 5 s ago commits only now: its revoked_at lies behind the cursors.
    const late = revocation();
    await live.db.insert(revokedSessions).values({
      sessionId: late.sessionId,
      userId: late.userId,
      expiresAt: new Date(late.expiresAt),
      revokedAt: sql`now() - interval '5 seconds'`,
    });
    await Promise.all([withOverlap.tick(), withoutOverlap.tick()]);
    expect(await withOverlap.isRevoked(late.sessionId)).toBe(true);
    // The control: a cursor without the overlap skips it for good.
    expect(await withoutOverlap.isRevoked(late.sessionId)).toBe(false);
    // Rows read again in the overlap are merged, not counted twice.
    const before = withOverlap.size();
    await withOverlap.tick();
    expect(withOverlap.size()).toBe(before);
  });

  it("forgets expired revocations, never loads them, and purges their rows", async () => {
    const a = instance();
    await a.start();
    const brief = revocation(300);
    await a.revoke(brief);
    expect(await a.isRevoked(brief.sessionId)).toBe(true);
    const expired = revocation();
    await live.db.insert(revokedSessions).values({
      sessionId: expired.sessionId,
      userId: expired.userId,
      expiresAt: new Date(Date.now() - 1_000),
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await a.isRevoked(brief.sessionId)).toBe(false);

    const fresh = instance();
    await fresh.start();
    expect(await fresh.isRevoked(expired.sessionId)).toBe(false);
    await a.purge();
    expect(await storedRow(brief.sessionId)).toBeUndefined();
    expect(await storedRow(expired.sessionId)).toBeUndefined();
  });

  it("keeps the later expiry when a session is revoked twice", async () => {
    const a = instance();
    await a.start();
    const first = revocation(60_000);
    await a.revoke(first);
    await a.revoke({ ...first, expiresAt: first.expiresAt + 60_000 });
    await a.revoke({ ...first, expiresAt: first.expiresAt - 30_000 });
    expect((await storedRow(first.sessionId))?.expiresAt).toEqual(new Date(first.expiresAt + 60_000));
  });

  it("refuses a revocation made while the database is away at once, and writes it once the database answers", async () => {
    let reachable = true;
    const a = instance({ db: () => (reachable ? live.db : dead.db) });
    const b = instance();
    await Promise.all([a.start(), b.start()]);

    reachable = false;
    const ended = revocation();
    expect(await a.revoke(ended)).toBe("queued");
    expect(await a.isRevoked(ended.sessionId)).toBe(true);
    expect(a.queued()).toBe(1);
    await a.tick();
    expect(a.queued()).toBe(1);
    expect(await storedRow(ended.sessionId)).toBeUndefined();

    reachable = true;
    await a.tick();
    expect(a.queued()).toBe(0);
    expect(await storedRow(ended.sessionId)).toMatchObject({ userId: ended.userId });
    // Written late, but with the database's time of writing: the other instance's poll finds it.
    await b.tick();
    expect(await b.isRevoked(ended.sessionId)).toBe(true);
  });

  it("makes the first lookup wait for the initial load, and retries a load that failed", async () => {
    const stored = revocation();
    await instance().revoke(stored);
    let reachable = false;
    const a = instance({ db: () => (reachable ? live.db : dead.db) });
    // Never "not revoked" from an empty set: without its revocations a lookup fails.
    await expect(a.isRevoked(stored.sessionId)).rejects.toThrow();
    reachable = true;
    expect(await a.isRevoked(stored.sessionId)).toBe(true);
  });
});
