import { randomUUID } from "node:crypto";
import { channelHeads, type DatabaseHandle, openDatabase, users } from "@plauder/db";
import { migrateDatabase } from "@plauder/db/migrate";
import { installTestDatabase, type TestDatabase } from "@plauder/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CommittedRun, DurableLog } from "../src/channels/durable-log";

let database: TestDatabase;
let embedded: DatabaseHandle;
let senderId: string;

beforeAll(async () => {
  database = await installTestDatabase();
  embedded = openDatabase({ kind: "pglite", dataDir: "memory://" });
  await migrateDatabase(embedded);
  const [user] = await database.handle.db
    .insert(users)
    .values({ email: `${randomUUID()}@example.com`, name: "Anna", passwordHash: "x" })
    .returning();
  senderId = user?.id as string;
  await embedded.db.insert(users).values({ id: senderId, email: "anna@example.com", name: "Anna", passwordHash: "x" });
});

afterAll(async () => {
  await embedded?.close();
  await database?.close();
});

it("writes the same batch statement on the embedded database (PGlite)", async () => {
  const log = new DurableLog(() => embedded.db);
  const channel = `room:${randomUUID()}`;
  const acks = await Promise.all([1, 2, 3].map((n) => log.append(entry(channel, `m${n}`))));
  expect(acks.map((ack) => ack.offset).sort()).toEqual([1, 2, 3]);
  const head = await log.head(channel);
  expect((await log.after(channel, head?.epoch as string, 0, 10)).map((p) => p.text).sort()).toEqual([
    "m1",
    "m2",
    "m3",
  ]);
});

const entry = (channel: string, text: string) => ({ channel, senderId, senderName: "Anna", text, instanceId: "t" });

describe("the durable log", () => {
  it("gives two writers on one channel (two instances) offsets 1…n without gap or repeat", async () => {
    const channel = `room:${randomUUID()}`;
    const runs: CommittedRun[] = [];
    const [one, two] = [new DurableLog(), new DurableLog(undefined, { onCommit: (run) => runs.push(run) })];
    const acks = await Promise.all(
      Array.from({ length: 400 }, (_, i) => (i % 2 ? one : two).append(entry(channel, `m${i}`))),
    );
    expect(acks.map((ack) => ack.offset).sort((a, b) => a - b)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(new Set(acks.map((ack) => ack.epoch)).size).toBe(1);
    const stored = await one.after(channel, acks[0]?.epoch as string, 0, 1_000);
    expect(stored.map((p) => p.offset)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    // Each stored publication is the one its ack named.
    for (const ack of acks) expect(stored[ack.offset - 1]?.text).toBe(ack.text);
    // Group commit: the writer told about its runs carried many publications per transaction.
    expect(runs.length).toBeLessThan(200);
    expect(runs.reduce((sum, run) => sum + run.bodies.length, 0)).toBe(200);
  });

  it("keeps channels apart: each has its own offsets and epoch, in one batch", async () => {
    const log = new DurableLog();
    const channels = Array.from({ length: 20 }, () => `room:${randomUUID()}`);
    const acks = await Promise.all(
      channels.flatMap((channel) => [1, 2, 3].map((n) => log.append(entry(channel, `${channel} ${n}`)))),
    );
    for (const channel of channels) {
      const mine = acks.filter((ack) => ack.channel === channel);
      expect(mine.map((ack) => ack.offset).sort()).toEqual([1, 2, 3]);
      expect(await log.head(channel)).toEqual({ epoch: mine[0]?.epoch, head: 3 });
    }
    expect(new Set(acks.map((ack) => ack.epoch)).size).toBe(channels.length);
  });

  it("fails only the bad entry of a batch: its neighbours are stored", async () => {
    const log = new DurableLog();
    const channel = `room:${randomUUID()}`;
    const results = await Promise.allSettled([
      log.append(entry(channel, "good 1")),
      log.append({ ...entry(channel, "from nobody"), senderId: randomUUID() }),
      log.append(entry(channel, "good 2")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const head = await log.head(channel);
    const stored = await log.after(channel, head?.epoch as string, 0, 10);
    // No hole where the refused entry was: offsets stay 1…n.
    expect(stored.map((p) => [p.offset, p.text]).sort()).toEqual(
      [
        [1, expect.stringMatching(/^good/)],
        [2, expect.stringMatching(/^good/)],
      ].sort(),
    );
    expect(head?.head).toBe(2);
    const heads = await database.handle.db.select().from(channelHeads);
    expect(heads.length).toBeGreaterThan(0);
  });

  it("pages history newest first and reads after an offset", async () => {
    const log = new DurableLog();
    const channel = `room:${randomUUID()}`;
    for (let i = 1; i <= 12; i++) await log.append(entry(channel, `m${i}`));
    const head = await log.head(channel);
    const epoch = head?.epoch as string;
    expect((await log.history(channel, epoch, 5)).map((p) => p.offset)).toEqual([12, 11, 10, 9, 8]);
    expect((await log.history(channel, epoch, 5, 8)).map((p) => p.offset)).toEqual([7, 6, 5, 4, 3]);
    expect((await log.after(channel, epoch, 10, 5)).map((p) => p.offset)).toEqual([11, 12]);
    expect((await log.after(channel, epoch, 2, 3, 5)).map((p) => p.offset)).toEqual([3, 4]);
  });
});
