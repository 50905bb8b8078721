import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { createMemoryPresenceStore, createRedisPresenceStore, type PresenceStore } from "../src/channels/presence";

const redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
afterAll(() => redis.quit());

const stores: [string, () => PresenceStore][] = [
  ["redis", () => createRedisPresenceStore(redis, `plauder-test-${randomUUID()}:`, 60_000)],
  ["memory", () => createMemoryPresenceStore()],
];

const anna = { id: "a1", name: "Anna" };
const bert = { id: "b2", name: "Bert" };

describe.each(stores)("%s channel presence", (_name, create) => {
  it("counts a person once however many clients, and says who joined and who left", async () => {
    const store = create();
    expect(await store.add("room:x", anna, "tab-1", 1_000)).toBe(true);
    expect(await store.add("room:x", anna, "tab-2", 1_000)).toBe(false);
    expect(await store.add("room:x", bert, "tab-3", 1_000)).toBe(true);
    expect(await store.snapshot("room:x", 10)).toEqual({ count: 2, users: expect.arrayContaining([anna, bert]) });
    expect(await store.remove("room:x", anna.id, "tab-1")).toBeNull();
    expect(await store.remove("room:x", anna.id, "tab-2")).toEqual(anna);
    expect(await store.snapshot("room:x", 10)).toEqual({ count: 1, users: [bert] });
    // Past the listing limit, only the count.
    expect(await store.snapshot("room:x", 0)).toEqual({ count: 1, users: null });
  });

  it("keeps refreshed clients through a sweep and sweeps out the ones whose instance stopped refreshing", async () => {
    const store = create();
    await store.add("room:y", anna, "tab-1", 1_000);
    await store.add("room:y", bert, "tab-2", 1_000);
    await store.add("room:z", bert, "tab-3", 1_000);
    // Anna's instance and Bert's room:z client refresh in one go; Bert's room:y client does not.
    await store.refresh(
      [
        { channel: "room:y", userId: anna.id, clientId: "tab-1" },
        { channel: "room:z", userId: bert.id, clientId: "tab-3" },
      ],
      5_000,
    );
    expect(await store.sweep("room:y", 2_000)).toEqual([bert]);
    expect(await store.sweep("room:z", 2_000)).toEqual([]);
    expect(await store.snapshot("room:y", 10)).toEqual({ count: 1, users: [anna] });
    // A refresh never brings back a client that was removed.
    await store.refresh([{ channel: "room:y", userId: bert.id, clientId: "tab-2" }], 9_000);
    expect(await store.snapshot("room:y", 10)).toEqual({ count: 1, users: [anna] });
    expect(await store.sweep("room:y", 10_000)).toEqual([anna]);
  });
});
