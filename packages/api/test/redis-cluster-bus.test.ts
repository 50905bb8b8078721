import { type ClusterNode, startRedisCluster, type TestRedisCluster } from "@plauder/runtime/testing/redis-cluster";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../src/bus/cluster-slot";
import { type Bus, type BusState, BusUnavailableError } from "../src/bus/index";
import { createRedisClusterBus } from "../src/bus/redis-cluster-bus";

/**
 * A real three-master Redis Cluster, started by this file from `redis-server` in a temporary
 * directory, and two buses on it standing in for two server instances. Nothing about Redis is mocked.
 */

type Node = ClusterNode;

let cluster: TestRedisCluster;
let nodes: Node[] = [];
let a: Bus;
let b: Bus;
/** Every state each bus reported, in order. */
const states = { a: [] as BusState[], b: [] as BusState[] };
/** Slot → port of the master owning it. */
const ownerBySlot = new Map<number, number>();

/** Shard channels as the channel layer names them: the prefix, then the channel's hash tag. */
const topic = (channel: string) => `test:{ch:${channel}}`;

/** Polls until `check` holds; the bound is a generous multiple of what the step takes here. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await check()) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${what}: not after ${timeoutMs} ms`);
}

const startNode = (node: Node) => node.start();
const killNode = (node: Node) => node.kill();

const nodeOwning = (channel: string): Node => {
  const port = ownerBySlot.get(keySlot(channel));
  const node = nodes.find((candidate) => candidate.port === port);
  if (!node) throw new Error(`no master owns ${channel}`);
  return node;
};
/** Subscribers of a shard channel on the master owning it (PUBSUB SHARDNUMSUB counts connections). */
async function shardSubscribers(channel: string): Promise<number> {
  const reply = await nodeOwning(channel).admin.pubsub("SHARDNUMSUB", channel);
  return Number(reply[1]);
}

/** Records what a bus delivers for the given topics. */
/** Waits until every one of `channels` has `count` subscribers on the master that owns it. */
function subscribedOnShards(what: string, channels: string[], count: number, timeoutMs = 5_000): Promise<number> {
  return eventually(
    what,
    async () => (await Promise.all(channels.map(shardSubscribers))).every((n) => n === count),
    timeoutMs,
  );
}

function listen(bus: Bus, topics: string[]) {
  const received = new Map<string, string[]>(topics.map((t) => [t, []]));
  const stops = topics.map((t) => bus.subscribe(t, (payload) => received.get(t)?.push(payload)));
  return {
    received,
    stop: () => {
      for (const stop of stops) stop();
    },
  };
}

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  nodes = cluster.nodes;
  const p1 = nodes[0]?.port as number;
  for (const [start, end, master] of (await nodes[0]?.admin.cluster("SLOTS")) ?? []) {
    for (let slot = start; slot <= end; slot++) ownerBySlot.set(slot, Number(master?.[1]));
  }

  // Instance a knows one node only and discovers the rest; instance b is given the list as the env has it.
  a = createRedisClusterBus([`127.0.0.1:${p1}`]);
  b = createRedisClusterBus(nodes.map((node) => `127.0.0.1:${node.port}`).join(","));
  a.onStateChange((state) => states.a.push(state));
  b.onStateChange((state) => states.b.push(state));
  // About 35 ms here.
  await eventually("both buses up", () => a.state() === "up" && b.state() === "up", 5_000);
}, 45_000);

afterAll(async () => {
  await Promise.allSettled([a?.close(), b?.close()]);
  await cluster?.stop();
});

describe("Redis Cluster bus (sharded pub/sub)", () => {
  const rooms = Array.from({ length: 24 }, (_, i) => topic(`room:${i}`));
  const topics = [topic("lobby"), topic("user:u1"), topic("conversation:c1"), ...rooms];

  it("routes topics by slot like Redis: a channel's topic and keys share a slot, topics spread over all masters", async () => {
    const admin = nodes[0]?.admin as Redis;
    for (const t of topics) {
      const slot = await admin.cluster("KEYSLOT", t);
      expect(keySlot(t)).toBe(slot);
      // What the hash tag is for: the channel's keys live in its topic's slot.
      expect(await admin.cluster("KEYSLOT", `${t}:log`)).toBe(slot);
    }
    expect(keySlot("{}x")).toBe(await admin.cluster("KEYSLOT", "{}x"));
    expect(keySlot("plain")).toBe(await admin.cluster("KEYSLOT", "plain"));
    expect(keySlot("ünïcode{ß}")).toBe(await admin.cluster("KEYSLOT", "ünïcode{ß}"));
    expect(new Set(topics.map((t) => nodeOwning(t).port)).size).toBe(3);
  });

  it("carries messages both ways between two instances on topics over all three shards", async () => {
    const atA = listen(a, topics);
    const atB = listen(b, topics);
    try {
      // Each instance holds one subscription per topic on the owning master.
      await subscribedOnShards("both instances subscribed", topics, 2);
      await Promise.all(topics.flatMap((t) => [a.publish(t, `from a to ${t}`), b.publish(t, `from b to ${t}`)]));
      const all = (r: Map<string, string[]>) => [...r.values()].every((list) => list.length >= 2);
      await eventually("every message at both instances", () => all(atA.received) && all(atB.received), 5_000);
      for (const t of topics) {
        const expected = [`from a to ${t}`, `from b to ${t}`];
        expect(atA.received.get(t)?.toSorted()).toEqual(expected);
        expect(atB.received.get(t)?.toSorted()).toEqual(expected);
      }
    } finally {
      atA.stop();
      atB.stop();
    }
    await subscribedOnShards("no subscriptions left", topics, 0);
    expect(a.handlerCount()).toBe(0);
    expect(b.handlerCount()).toBe(0);
  });

  it("subscribes a topic on its master only while a local handler exists", async () => {
    const t = topic("conversation:numsub");
    const got = { first: [] as string[], second: [] as string[] };
    expect(await shardSubscribers(t)).toBe(0);

    const stopFirst = a.subscribe(t, (payload) => got.first.push(payload));
    const stopSecond = a.subscribe(t, (payload) => got.second.push(payload));
    await eventually("one subscription", async () => (await shardSubscribers(t)) === 1, 5_000);
    // b publishes without a handler: it delivers, and b never subscribes (still one connection).
    await b.publish(t, "one");
    await eventually("both handlers called", () => got.first.length === 1 && got.second.length === 1, 5_000);
    expect(await shardSubscribers(t)).toBe(1);

    stopFirst();
    await b.publish(t, "two");
    await eventually("the remaining handler called", () => got.second.length === 2, 5_000);
    expect(got.first).toEqual(["one"]);
    expect(await shardSubscribers(t)).toBe(1);

    stopSecond();
    await eventually("unsubscribed with the last handler", async () => (await shardSubscribers(t)) === 0, 5_000);
    expect(a.handlerCount()).toBe(0);
  });

  it("keeps the order of a 1,000-message burst per topic, on three shards at once", async () => {
    const byShard = new Map<number, string>();
    for (const t of rooms) if (!byShard.has(nodeOwning(t).port)) byShard.set(nodeOwning(t).port, t);
    const burstTopics = [...byShard.values()];
    expect(burstTopics).toHaveLength(3);
    const atB = listen(b, burstTopics);
    try {
      await subscribedOnShards("b subscribed", burstTopics, 1);
      const count = 1_000;
      const started = performance.now();
      const sends: Promise<void>[] = [];
      for (let i = 0; i < count; i++) for (const t of burstTopics) sends.push(a.publish(t, String(i)));
      await Promise.all(sends);
      const total = () => [...atB.received.values()].reduce((sum, list) => sum + list.length, 0);
      await eventually("the whole burst at b", () => total() === count * burstTopics.length, 10_000);
      const elapsed = performance.now() - started;
      const expected = Array.from({ length: count }, (_, i) => String(i));
      for (const t of burstTopics) expect(atB.received.get(t)).toEqual(expected);
      console.info(
        `burst: ${count * burstTopics.length} messages on 3 shards delivered in order in ${elapsed.toFixed(0)} ms`,
      );
    } finally {
      atB.stop();
    }
  });

  it("follows a topic whose slot moves to another master (resharding)", async () => {
    const t = topic("room:moving");
    const slot = keySlot(t);
    const source = nodeOwning(t);
    const target = nodes.find((node) => node !== source) as Node;
    const got: string[] = [];
    const stop = a.subscribe(t, (payload) => got.push(payload));
    try {
      await eventually("a subscribed", async () => (await shardSubscribers(t)) === 1, 5_000);
      // What `redis-cli --cluster reshard` does for one slot without keys.
      const [sourceId, targetId] = await Promise.all([source.admin.cluster("MYID"), target.admin.cluster("MYID")]);
      await target.admin.call("CLUSTER", "SETSLOT", slot, "IMPORTING", sourceId);
      await source.admin.call("CLUSTER", "SETSLOT", slot, "MIGRATING", targetId);
      const moved = performance.now();
      for (const node of [target, source, ...nodes.filter((n) => n !== source && n !== target)]) {
        await node.admin.call("CLUSTER", "SETSLOT", slot, "NODE", targetId);
      }
      ownerBySlot.set(slot, target.port);

      // Redis drops a's subscription on the source (an unsolicited SUNSUBSCRIBE); a reads the new map
      // and subscribes on the target.
      await eventually("a subscribed on the new owner", async () => (await shardSubscribers(t)) === 1, 5_000);
      const movedMs = performance.now() - moved;
      expect(Number((await source.admin.pubsub("SHARDNUMSUB", t))[1])).toBe(0);
      // b, without a handler there, still has the old map: its SPUBLISH is redirected (MOVED), and it
      // sends again to the master the reply names.
      await b.publish(t, "after the move");
      await eventually("delivered after the move", () => got.join() === "after the move", 5_000);
      console.info(`resharding: subscription on the new owner ${movedMs.toFixed(0)} ms after the move`);
      await eventually("both up", () => a.state() === "up" && b.state() === "up", 5_000);
    } finally {
      stop();
    }
  });

  it("resumes its subscriptions after a dropped subscriber connection (CLIENT KILL)", async () => {
    const victim = nodes[1] as Node;
    const onVictim = rooms.filter((t) => nodeOwning(t) === victim).slice(0, 3);
    const atA = listen(a, onVictim);
    try {
      await subscribedOnShards("a subscribed", onVictim, 1);
      const seen = states.a.length;
      const started = performance.now();
      expect(Number(await victim.admin.call("CLIENT", "KILL", "TYPE", "pubsub"))).toBeGreaterThanOrEqual(1);
      await eventually("a down, then up again", () => states.a.slice(seen).join() === "down,up", 5_000);
      console.info(`CLIENT KILL: down and up again in ${(performance.now() - started).toFixed(0)} ms`);
      expect(await Promise.all(onVictim.map(shardSubscribers))).toEqual(onVictim.map(() => 1));
      await Promise.all(onVictim.map((t) => b.publish(t, "after the kill")));
      await eventually(
        "delivered after the kill",
        () => onVictim.every((t) => atA.received.get(t)?.join() === "after the kill"),
        5_000,
      );
    } finally {
      atA.stop();
    }
  });

  it("goes down when a master dies, fails publishes to it fast, and resumes when it is back", async () => {
    // The master a was given as its only seed: after the start a needs no seed.
    const victim = nodes[0] as Node;
    const onVictim = rooms.filter((t) => nodeOwning(t) === victim).slice(0, 3);
    const elsewhere = rooms.find((t) => nodeOwning(t) !== victim) as string;
    const watched = [...onVictim, elsewhere];
    const atA = listen(a, watched);
    const atB = listen(b, watched);
    try {
      await subscribedOnShards("both subscribed", watched, 2);
      const seen = { a: states.a.length, b: states.b.length };

      const killed = performance.now();
      await killNode(victim);
      const downMs = await eventually("both down", () => a.state() === "down" && b.state() === "down", 5_000);

      // The dead shard's topics fail at once instead of hanging; the other shards keep working.
      const failStarted = performance.now();
      await expect(a.publish(onVictim[0] as string, "lost")).rejects.toBeInstanceOf(BusUnavailableError);
      const failMs = performance.now() - failStarted;
      expect(failMs).toBeLessThan(250);
      await a.publish(elsewhere, "still flowing");
      await eventually("the live shard delivers", () => atB.received.get(elsewhere)?.join() === "still flowing", 5_000);

      // Away for a while, the buses stay down and look for a new owner calmly: a few CLUSTER SLOTS
      // per second between them, not a reconnect loop.
      const slotReads = async () => {
        const stats = await Promise.all(nodes.filter((n) => n !== victim).map((n) => n.admin.info("commandstats")));
        return stats.reduce((sum, text) => sum + Number(/cmdstat_cluster\|slots:calls=(\d+)/.exec(text)?.[1] ?? 0), 0);
      };
      const readsBefore = await slotReads();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const readsWhileAway = (await slotReads()) - readsBefore;
      expect([a.state(), b.state()]).toEqual(["down", "down"]);
      expect(readsWhileAway).toBeLessThanOrEqual(12);

      const restarted = performance.now();
      await startNode(victim);
      await eventually("both up again", () => a.state() === "up" && b.state() === "up", 10_000);
      const upMs = performance.now() - restarted;
      console.info(
        `SIGKILL: down after ${downMs.toFixed(0)} ms, publish refused in ${failMs.toFixed(1)} ms, ` +
          `${readsWhileAway} CLUSTER SLOTS in 1.5 s away, ` +
          `up ${upMs.toFixed(0)} ms after the restart (${(performance.now() - killed).toFixed(0)} ms in all)`,
      );
      expect(states.a.slice(seen.a)).toEqual(["down", "up"]);
      expect(states.b.slice(seen.b)).toEqual(["down", "up"]);

      // `up` means the subscriptions are back: both instances, on the restarted master, at once.
      expect(await Promise.all(onVictim.map(shardSubscribers))).toEqual(onVictim.map(() => 2));
      await Promise.all(onVictim.flatMap((t) => [a.publish(t, "back from a"), b.publish(t, "back from b")]));
      const back = (r: Map<string, string[]>) =>
        onVictim.every((t) => r.get(t)?.toSorted().join() === "back from a,back from b");
      await eventually("delivered after the restart", () => back(atA.received) && back(atB.received), 5_000);
    } finally {
      atA.stop();
      atB.stop();
    }
  });
});
