import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import {
  createMemoryGenerationState,
  createRedisGenerationState,
  type GenerationState,
} from "../src/tutor/generation-state";
import { createMemoryGenerationSlots, createRedisGenerationSlots, type GenerationSlots } from "../src/tutor/slots";

const redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
afterAll(() => redis.quit());

const limits = { limit: 2, maxQueued: 2, leaseMs: 300 };
const slots: [string, (leaseMs?: number) => GenerationSlots][] = [
  [
    "redis",
    (leaseMs = limits.leaseMs) =>
      createRedisGenerationSlots(redis, `plauder-test-${randomUUID()}:`, { ...limits, leaseMs }),
  ],
  ["memory", (leaseMs = limits.leaseMs) => createMemoryGenerationSlots({ ...limits, leaseMs })],
];

describe.each(slots)("%s places for answers", (_name, create) => {
  it("runs two, holds two in line in order of arrival, refuses the fifth, and moves the line up", async () => {
    const places = create(60_000);
    expect(await places.acquire("anna", "j1")).toBe(0);
    expect(await places.acquire("anna", "j2")).toBe(0);
    expect(await places.acquire("anna", "j3")).toBe(1);
    expect(await places.acquire("anna", "j4")).toBe(2);
    expect(await places.acquire("anna", "j5")).toBe("full");
    // Another person is not in Anna's line.
    expect(await places.acquire("bert", "k1")).toBe(0);
    // Asking again keeps one's place; the line moves up when a place frees.
    expect(await places.acquire("anna", "j4")).toBe(2);
    await places.release("anna", "j1");
    expect(await places.acquire("anna", "j4")).toBe(1);
    expect(await places.acquire("anna", "j3")).toBe(0);
    expect(await places.acquire("anna", "j4")).toBe(1);
    // One who leaves the line makes room in it.
    await places.release("anna", "j4");
    expect(await places.acquire("anna", "j6")).toBe(1);
  });
});

describe("redis places", () => {
  it("frees the places of an instance that stopped renewing them (leases, which only the shared places need)", async () => {
    const places = createRedisGenerationSlots(redis, `plauder-test-${randomUUID()}:`, { ...limits, leaseMs: 200 });
    expect(await places.acquire("anna", "j1")).toBe(0);
    expect(await places.acquire("anna", "j2")).toBe(0);
    expect(await places.acquire("anna", "j3")).toBe(1);
    // j1 and j2's instance crashed: nobody renews them. j3 keeps asking (renewing its own place in line).
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await places.acquire("anna", "j3")).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await places.acquire("anna", "j3")).toBe(0);
  });
});

const states: [string, () => GenerationState][] = [
  ["redis", () => createRedisGenerationState(redis, `plauder-test-${randomUUID()}:`)],
  ["memory", () => createMemoryGenerationState()],
];

describe.each(states)("%s generation state", (_name, create) => {
  const record = (messageId: string) => ({ messageId, instanceId: "a", state: "streaming" as const, position: 0 });

  it("lets one answer hold a conversation; only that answer renews or clears it", async () => {
    const state = create();
    const first = randomUUID();
    const second = randomUUID();
    expect(await state.claim("c1", record(first), 60_000)).toBe(true);
    expect(await state.claim("c1", record(second), 60_000)).toBe(false);
    expect(await state.renew("c1", record(second), 60_000)).toBe(false);
    await state.clear("c1", second);
    expect((await state.active("c1"))?.messageId).toBe(first);
    expect(await state.renew("c1", { ...record(first), position: 3, state: "queued" }, 60_000)).toBe(true);
    expect(await state.active("c1")).toMatchObject({ messageId: first, state: "queued", position: 3 });
    await state.clear("c1", first);
    expect(await state.active("c1")).toBeNull();
    expect(await state.claim("c1", record(second), 60_000)).toBe(true);
  });

  it("lets a claim run out when nobody renews it", async () => {
    const state = create();
    expect(await state.claim("c2", record(randomUUID()), 100)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await state.active("c2")).toBeNull();
  });

  it("keeps the text so far, piece by piece", async () => {
    const state = create();
    const id = randomUUID();
    await state.append(id, "Guten", true);
    await state.append(id, " Tag", false);
    expect(await state.text(id)).toBe("Guten Tag");
    await state.dropText(id);
    expect(await state.text(id)).toBe("");
  });
});
