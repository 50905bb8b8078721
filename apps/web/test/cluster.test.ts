/**
 * Two real server instances sharing one Redis (the test's own, so it can be restarted) and one
 * Postgres database: broadcasts reach every subscriber on every instance, exactly once, in one order.
 */
import type { PlauderClient } from "@plauder/client";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpProxy } from "./resilience/support/tcp-proxy";
import {
  type Account,
  connect,
  newAccount,
  publishOverHttp,
  type Recorder,
  record,
  sleep,
  strictlyIncreasing,
} from "./support/clients";
import { startCluster, type TestCluster } from "./support/cluster";
import { readMetrics } from "./support/metrics";
import { bulkTrafficBudgets, type Instance, startRedis, type TestRedis } from "./support/processes";
import { closed, nextMessage, rawSocket } from "./support/raw-socket";

let redis: TestRedis;
let cluster: TestCluster;
let a: Instance;
let b: Instance;
let anna: Account;
let bert: Account;
const client = (instance: Instance, account: Account) => cluster.clients.connect(instance.url, account);

beforeAll(async () => {
  redis = await startRedis();
  cluster = await startCluster({
    redisUrl: redis.url,
    env: { ...bulkTrafficBudgets, WS_MAX_BUFFERED: "262144" },
  });
  [a, b] = cluster.instances as [Instance, Instance];
  [anna, bert] = await Promise.all([newAccount(a.url, "Anna"), newAccount(b.url, "Bert")]);
});

afterAll(async () => {
  await cluster?.stop();
  await redis?.stop();
});

async function listeners(count: { a: number; b: number }): Promise<Recorder[]> {
  const recorders: Recorder[] = [];
  for (const [instance, n] of [
    [a, count.a],
    [b, count.b],
  ] as const) {
    for (let i = 0; i < n; i++) recorders.push(record(await client(instance, i % 2 ? bert : anna)));
  }
  await Promise.all(recorders.map((r) => r.started));
  return recorders;
}

describe("two instances", () => {
  it("deliver every broadcast published on either instance to every subscriber, once, in the same order", async () => {
    const recorders = await listeners({ a: 2, b: 2 });
    const onA = await client(a, anna);
    const onB = await client(b, bert);
    const published: string[] = [];
    for (let i = 0; i < 20; i++) {
      const via = i % 4;
      const text = `message ${i}`;
      if (via === 0) published.push((await onA.api.realtime.publish.mutate({ text })).id);
      else if (via === 1) published.push((await onB.api.realtime.publish.mutate({ text })).id);
      else published.push((await publishOverHttp(via === 2 ? a.url : b.url, anna.token, text)).id);
    }
    // Well inside the store's 5 s safety poll: this is the bus delivering.
    await Promise.all(recorders.map((r) => r.waitFor(20, 2_000)));
    await sleep(300);
    for (const r of recorders) {
      expect(r.ids()).toEqual(published);
      expect(r.received.map((x) => x.text)).toEqual(published.map((_, i) => `message ${i}`));
    }
    const [first] = recorders[0]?.received ?? [];
    expect(first).toMatchObject({ sender: { id: anna.id, name: "Anna" }, instanceId: "a" });
    for (const r of recorders) r.stop();
  });

  it("keep one order under 200 concurrent publishes spread over both instances", async () => {
    const recorders = await listeners({ a: 2, b: 2 });
    const publishers = [await client(a, anna), await client(b, bert), await client(a, bert), await client(b, anna)];
    const acknowledged = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (publishers[i % publishers.length] as PlauderClient).api.realtime.publish.mutate({ text: `burst ${i}` }),
      ),
    );
    const expected = acknowledged.map((ack) => ack.id).sort((x, y) => Number(x) - Number(y));
    await Promise.all(recorders.map((r) => r.waitFor(200)));
    await sleep(300);
    for (const r of recorders) {
      expect(r.received).toHaveLength(200);
      expect(r.ids()).toEqual(expected);
    }
    for (const r of recorders) r.stop();
  });

  it("resume after a disconnect: exactly the 50 missed broadcasts in order, then live ones", async () => {
    const publisher = await client(b, bert);
    const first = await connect(a.url, anna);
    const before = record(first);
    await before.started;
    await publisher.api.realtime.publish.mutate({ text: "seen before the disconnect" });
    await before.waitFor(1);
    const lastSeen = before.ids().at(-1) as string;
    await first.close();

    const missed: string[] = [];
    for (let i = 0; i < 50; i++) missed.push((await publisher.api.realtime.publish.mutate({ text: `missed ${i}` })).id);

    const again = await client(a, anna);
    const resumed = record(again, lastSeen);
    await resumed.waitFor(50);
    expect(resumed.ids()).toEqual(missed);
    const live = await publisher.api.realtime.publish.mutate({ text: "live after resume" });
    await resumed.waitFor(51);
    await sleep(200);
    expect(resumed.ids()).toEqual([...missed, live.id]);
    resumed.stop();
  });

  it("resume across a restart of the instance the client was connected to, by wsLink's own reconnect", async () => {
    const publisher = await client(b, bert);
    const subscriber = await client(a, anna);
    const recorder = record(subscriber);
    await recorder.started;
    const beforeRestart = await publisher.api.realtime.publish.mutate({ text: "before restart" });
    await recorder.waitFor(1);

    expect(await a.stop("SIGTERM")).toBe(0);
    const missed: string[] = [];
    for (let i = 0; i < 50; i++)
      missed.push((await publisher.api.realtime.publish.mutate({ text: `while a was down ${i}` })).id);
    await a.start();

    await recorder.waitFor(51, 30_000);
    const live = await publisher.api.realtime.publish.mutate({ text: "after restart" });
    await recorder.waitFor(52);
    await sleep(200);
    expect(recorder.ids()).toEqual([beforeRestart.id, ...missed, live.id]);
    recorder.stop();
  });

  it("lose nothing when Redis restarts in the middle of a stream of publishes", async () => {
    const recorders = await listeners({ a: 2, b: 2 });
    const publishers = [await client(a, anna), await client(b, bert)];
    const acknowledged: string[] = [];
    let failures = 0;
    let degradedSeen = false;
    const stream = (async () => {
      for (let i = 0; i < 120; i++) {
        try {
          const ack = await (publishers[i % 2] as PlauderClient).api.realtime.publish.mutate({ text: `stream ${i}` });
          acknowledged.push(ack.id);
        } catch {
          failures++;
        }
        await sleep(25);
      }
    })();
    await sleep(800);
    await redis.stop();
    await sleep(300);
    const health = (await (await fetch(`${a.url}/api/health`)).json()) as { status: string; redis: string };
    degradedSeen = health.status === "degraded" && health.redis === "down";
    await sleep(1_200);
    await redis.start();
    await stream;

    // Publishing never depended on Redis: every publish was stored and acknowledged.
    expect(failures).toBe(0);
    expect(degradedSeen).toBe(true);
    const expected = [...acknowledged].sort((x, y) => Number(x) - Number(y));
    await Promise.all(recorders.map((r) => r.waitFor(expected.length, 30_000)));
    await sleep(500);
    for (const r of recorders) expect(r.ids()).toEqual(expected);

    // Both instances report healthy again once Redis is back.
    for (const instance of [a, b]) {
      const deadline = Date.now() + 10_000;
      let status = "";
      while (Date.now() < deadline && status !== "ok") {
        status = ((await (await fetch(`${instance.url}/api/health`)).json()) as { status: string }).status;
        if (status !== "ok") await sleep(200);
      }
      expect(status).toBe("ok");
    }
    for (const r of recorders) r.stop();
  });

  it("use one Redis subscriber connection per instance, however many clients subscribe", async () => {
    const recorders = await listeners({ a: 5, b: 5 });
    const admin = new Redis(redis.url);
    try {
      const clientList = (await admin.client("LIST")) as string;
      const subscribers = clientList.split("\n").filter((line) => line.includes("name=plauder-bus-subscriber"));
      expect(subscribers).toHaveLength(2);
      const [, subscribed] = (await admin.pubsub("NUMSUB", `${cluster.env.REDIS_KEY_PREFIX}broadcasts`)) as [
        string,
        number,
      ];
      expect(Number(subscribed)).toBe(2);
    } finally {
      admin.disconnect();
      for (const r of recorders) r.stop();
    }
  });

  it("cut off a subscriber that stops reading, while everyone else keeps receiving", async () => {
    const attentive = record(await client(a, anna));
    await attentive.started;
    const { socket } = await rawSocket(a.url, { connectionParams: true });
    if (!socket) throw new Error("handshake failed");
    socket.send(JSON.stringify({ method: "connectionParams", data: { token: bert.token } }));
    const started = nextMessage(socket, (m) => m.id === 1);
    socket.send(JSON.stringify({ id: 1, method: "subscription", params: { path: "realtime.broadcast", input: {} } }));
    await started;
    // Stop reading from the TCP socket: the server's unsent data for this client can only grow.
    // `_socket` is ws's underlying net.Socket; there is no public way to pause a client's reads.
    (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const code = closed(socket);

    const publisher = await client(b, bert);
    const text = "z".repeat(4000);
    const total = 1500;
    // wsLink packs requests made in the same tick into one frame; 10 x 4 KB stays under WS_MAX_PAYLOAD.
    for (let i = 0; i < total; i += 10) {
      await Promise.all(Array.from({ length: 10 }, () => publisher.api.realtime.publish.mutate({ text })));
    }
    await attentive.waitFor(total, 30_000);
    expect(strictlyIncreasing(attentive.ids())).toBe(true);

    const metricsText = await readMetrics(a.url);
    const closes = Number(/plauder_ws_slow_consumer_closes_total (\d+)/.exec(metricsText)?.[1] ?? 0);
    expect(closes).toBeGreaterThanOrEqual(1);
    (socket as unknown as { _socket: { resume(): void } })._socket.resume();
    expect([1013, 1006]).toContain(await code);
    attentive.stop();
  });

  it("expose Prometheus metrics", async () => {
    const text = await readMetrics(a.url);
    for (const name of [
      "plauder_ws_connections",
      "plauder_subscriptions",
      "plauder_ws_messages_in_total",
      "plauder_ws_messages_out_total",
      "plauder_broadcast_delivery_latency_seconds_bucket",
      "plauder_redis_up 1",
    ]) {
      expect(text).toContain(name);
    }
  });

  it("shut down gracefully on SIGTERM: clients move on and the process exits 0", async () => {
    // Through a load balancer that tries b first, so the client starts on b and has a to move to.
    const balancer = await startTcpProxy([b.port, a.port]);
    try {
      const subscriber = await cluster.clients.connect(balancer.url, anna);
      const recorder = record(subscriber);
      await recorder.started;
      const before = await subscriber.api.realtime.session.query();
      expect(before.instanceId).toBe("b");
      expect(balancer.links()).toEqual([b.port]);
      const published: string[] = [];
      for (let i = 0; i < 3; i++) published.push((await publishOverHttp(a.url, bert.token, `before b stops ${i}`)).id);
      await recorder.waitFor(3);

      const started = Date.now();
      expect(await b.stop("SIGTERM")).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
      for (let i = 0; i < 3; i++) published.push((await publishOverHttp(a.url, bert.token, `after b stopped ${i}`)).id);
      await recorder.waitFor(6);
      await sleep(200);

      // The same client now speaks to a, on a new connection, and its subscription went on without a gap.
      const after = await subscriber.api.realtime.session.query();
      expect(after.instanceId).toBe("a");
      expect(after.connectionId).not.toBe(before.connectionId);
      expect(balancer.links()).toEqual([a.port]);
      expect(recorder.ids()).toEqual(published);
      expect(strictlyIncreasing(recorder.ids())).toBe(true);
      recorder.stop();
    } finally {
      await balancer.close();
    }
  });
});
