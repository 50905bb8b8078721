import { randomUUID } from "node:crypto";
import { type DatabaseHandle, openDatabase, users } from "@plauder/db";
import { migrateDatabase } from "@plauder/db/migrate";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BroadcastFeed } from "../src/broadcasts/feed";
import { Inbox } from "../src/broadcasts/inbox";
import { BroadcastStore } from "../src/broadcasts/store";
import type { Broadcast } from "../src/broadcasts/types";
import type { Bus, BusState } from "../src/bus/index";

let database: DatabaseHandle;
let store: BroadcastStore;
let senderId: string;

/** A bus the test drives by hand: it decides what arrives, in which order, and when Redis "fails". */
class ScriptedBus implements Bus {
  handler: ((payload: string) => void) | null = null;
  subscriptions = 0;
  current: BusState = "up";
  listeners = new Set<(state: BusState) => void>();
  async publish() {}
  subscribe(_channel: string, handler: (payload: string) => void) {
    this.handler = handler;
    this.subscriptions++;
    return () => {
      this.handler = null;
    };
  }
  state() {
    return this.current;
  }
  handlerCount() {
    return this.handler ? 1 : 0;
  }
  onStateChange(listener: (state: BusState) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  setState(state: BusState) {
    this.current = state;
    for (const listener of this.listeners) listener(state);
  }
  deliver(broadcast: Broadcast) {
    this.handler?.(JSON.stringify(broadcast));
  }
  async close() {}
}

const append = (text: string) => store.append({ senderId, senderName: "Anna", text, instanceId: "test" });
const settle = () => new Promise((r) => setTimeout(r, 50));

beforeAll(async () => {
  database = openDatabase({ kind: "pglite", dataDir: "memory://" });
  await migrateDatabase(database);
  store = new BroadcastStore(() => database.db);
  const [user] = await database.db
    .insert(users)
    .values({ email: `${randomUUID()}@example.com`, name: "Anna", passwordHash: "x" })
    .returning();
  senderId = user?.id ?? "";
});

afterAll(() => database.close());

describe("broadcast feed", () => {
  let bus: ScriptedBus;
  let feed: BroadcastFeed;
  let delivered: string[];

  beforeEach(async () => {
    bus = new ScriptedBus();
    feed = new BroadcastFeed({ bus, store, channel: "c", safetyPollMs: 60_000, degradedPollMs: 20 });
    await feed.start();
    delivered = [];
    feed.subscribe((b) => delivered.push(b.text));
  });

  // A feed left running would keep polling and deliver into the next test's list.
  afterEach(() => feed.stop());

  it("delivers in id order when the bus brings broadcasts out of order, filling the gap from the store", async () => {
    const first = await append("one");
    const second = await append("two");
    const third = await append("three");
    bus.deliver(third);
    await settle();
    bus.deliver(first);
    bus.deliver(second);
    await settle();
    expect(delivered).toEqual(["one", "two", "three"]);
  });

  it("delivers each broadcast once, however often it arrives", async () => {
    const one = await append("once");
    bus.deliver(one);
    bus.deliver(one);
    feed.ingest(one);
    await settle();
    expect(delivered).toEqual(["once"]);
  });

  it("reads the store while the bus is down", async () => {
    bus.setState("down");
    await append("during outage 1");
    await append("during outage 2");
    await new Promise((r) => setTimeout(r, 100));
    expect(delivered).toEqual(["during outage 1", "during outage 2"]);
  });

  it("catches up from the store when the bus returns, for what the bus never brought", async () => {
    // No poll in this test's lifetime: only the catch-up on the bus's return can deliver.
    const quiet = new BroadcastFeed({ bus, store, channel: "c", safetyPollMs: 60_000, degradedPollMs: 60_000 });
    await quiet.start();
    const seen: string[] = [];
    quiet.subscribe((b) => seen.push(b.text));
    bus.setState("down");
    await append("published while reconnecting 1");
    await append("published while reconnecting 2");
    await settle();
    expect(seen).toEqual([]);
    bus.setState("up");
    await settle();
    expect(seen).toEqual(["published while reconnecting 1", "published while reconnecting 2"]);
    await quiet.stop();
  });

  it("ignores malformed messages on the bus", async () => {
    bus.handler?.("not json");
    bus.handler?.(JSON.stringify({ id: "x" }));
    const ok = await append("fine");
    bus.deliver(ok);
    await settle();
    expect(delivered).toEqual(["fine"]);
  });

  it("starts at the end of the log: older broadcasts are for replay, not live delivery", async () => {
    const old = await append("before start");
    const late = new BroadcastFeed({ bus, store, channel: "c", safetyPollMs: 60_000 });
    await late.start();
    const seen: string[] = [];
    late.subscribe((b) => seen.push(b.text));
    late.ingest(old);
    const fresh = await append("after start");
    late.ingest(fresh);
    await settle();
    expect(seen).toEqual(["after start"]);
    await late.stop();
  });
});

describe("broadcast feed start", () => {
  it("tries again after a start that failed because the store was unreachable", async () => {
    let failures = 1;
    const flakyStore = new BroadcastStore(() => database.db);
    const latestId = flakyStore.latestId.bind(flakyStore);
    flakyStore.latestId = async () => {
      if (failures-- > 0) throw new Error("connection refused");
      return latestId();
    };
    const bus = new ScriptedBus();
    const feed = new BroadcastFeed({ bus, store: flakyStore, channel: "c", safetyPollMs: 60_000 });
    await expect(feed.start()).rejects.toThrow("connection refused");
    await feed.start();
    const seen: string[] = [];
    feed.subscribe((b) => seen.push(b.text));
    bus.deliver(await append("after the retry"));
    await settle();
    expect(seen).toEqual(["after the retry"]);
    // The retry did not subscribe to the bus a second time.
    expect(bus.subscriptions).toBe(1);
    await feed.stop();
  });
});

describe("inbox", () => {
  it("yields pushed items in order and stops when aborted", async () => {
    const inbox = new Inbox<number>(10, () => {});
    const controller = new AbortController();
    const seen: number[] = [];
    const reading = (async () => {
      for await (const n of inbox.drain(controller.signal)) seen.push(n);
    })();
    inbox.push(1);
    inbox.push(2);
    await settle();
    inbox.push(3);
    await settle();
    controller.abort();
    await reading;
    expect(seen).toEqual([1, 2, 3]);
  });

  it("calls onOverflow once and ends when the reader falls behind by the limit", async () => {
    let overflows = 0;
    const inbox = new Inbox<number>(3, () => overflows++);
    for (let i = 0; i < 10; i++) inbox.push(i);
    expect(overflows).toBe(1);
    const seen: number[] = [];
    for await (const n of inbox.drain(new AbortController().signal)) seen.push(n);
    expect(seen).toEqual([]);
  });
});
