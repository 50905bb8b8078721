import type { Diagnostics } from "@plauder/api";
import type { PlauderClient } from "@plauder/client";
import { median, percentile } from "@plauder/runtime/stats";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import { type Account, connect, newAccount, type Recorder, record } from "../support/clients";
import { startSingle, type TestSingle } from "../support/cluster";
import { readMetrics } from "../support/metrics";
import { type Instance, testRedisUrl } from "../support/processes";
import { closed, rawSocket } from "../support/raw-socket";
import { diagnosable, diagnosticsWhen, readDiagnostics, timers } from "./support/diagnostics";
import { Ledger } from "./support/ledger";
import { scale } from "./support/profile";
import {
  answerHeartbeat,
  authenticatedSocket,
  closeSocket,
  stopReading,
  subscribeBroadcasts,
} from "./support/raw-client";
import { mb, reportCase } from "./support/report";
import { signInWithCredentials } from "./support/session-cookie";
import { startTcpProxy } from "./support/tcp-proxy";

const section = "Floods and slow clients";
const maxConnections = scale(60, 400);
const heartbeatMs = 1_000;
const pongWaitMs = 500;
const maxBuffered = 262_144;
const authTimeoutMs = 2_000;
let solo: TestSingle;
let instance: Instance;
let anna: Account;
let bert: Account;

beforeAll(async () => {
  solo = await startSingle(
    "floods",
    diagnosable({
      env: {
        PUBLISH_RATE_LIMIT: "100000",
        MAX_CONNECTIONS: String(maxConnections),
        MAX_CONNECTIONS_PER_USER: String(maxConnections),
        WS_HEARTBEAT_MS: String(heartbeatMs),
        WS_PONG_WAIT_MS: String(pongWaitMs),
        WS_MAX_BUFFERED: String(maxBuffered),
        WS_AUTH_TIMEOUT_MS: String(authTimeoutMs),
      },
    }),
  );
  instance = solo.instance;
  [anna, bert] = await Promise.all([newAccount(instance.url, "Anna"), newAccount(instance.url, "Bert")]);
});

afterAll(() => solo?.stop());

const typed = (account: Account) => solo.clients.connect(instance.url, account);

function ping(client: PlauderClient): Promise<number> {
  const sent = performance.now();
  return new Promise((resolve, reject) => {
    client.api.realtime.ping.subscribe(
      { clientTime: Date.now() },
      { onData: () => resolve(performance.now() - sent), onError: reject },
    );
  });
}

/** The baseline a leak would move: diagnostics once every connection of an earlier case is gone. */
async function quietBaseline(): Promise<Diagnostics> {
  return diagnosticsWhen(instance, (d) => d.connections === solo.clients.size, 10_000);
}

/** Delivery latency (ms) of broadcasts to the recorders: arrival here minus the server's sentAt. */
function latencies(recorders: Recorder[], fromIndex: number[]): number[] {
  return recorders.flatMap((r, i) =>
    r.received.slice(fromIndex[i]).map((b, j) => (r.arrivals[(fromIndex[i] as number) + j] as number) - b.sentAt),
  );
}

const p99 = (values: number[]) => percentile(values, 99);

describe("floods and slow clients", () => {
  it("a connection storm past MAX_CONNECTIONS: the excess gets 503, the admitted keep working", async () => {
    const held = await Promise.all(Array.from({ length: 10 }, (_, i) => typed(i % 2 ? bert : anna)));
    const recorders = held.map((c) => record(c));
    await Promise.all(recorders.map((r) => r.started));
    const storm = maxConnections * 3;
    // With a session cookie, as browsers come: reading it takes real time, which is when a storm
    // of upgrades could all pass the capacity check before any of them is counted.
    const { cookie } = await signInWithCredentials(instance.url, anna.email, anna.password);
    const started = performance.now();
    const outcomes = await Promise.all(Array.from({ length: storm }, () => rawSocket(instance.url, { cookie })));
    const stormMs = performance.now() - started;
    const admitted = outcomes.flatMap((o) => (o.socket ? [o.socket] : []));
    const refusals = outcomes.filter((o) => !o.socket).map((o) => o.status);
    const peak = await readDiagnostics(instance);

    // Exactly the free places were given out, and every other attempt got a clean HTTP 503.
    expect(admitted).toHaveLength(maxConnections - held.length);
    expect(refusals.every((status) => status === 503)).toBe(true);
    expect(peak.connections).toBe(maxConnections);
    // The admitted ones, old and new, keep working.
    const ledger = new Ledger();
    const publisher = held[0] as PlauderClient;
    for (let i = 0; i < 5; i++)
      await ledger.publish(() => publisher.api.realtime.publish.mutate({ text: `during ${i}` }));
    await Promise.all(held.map((c) => ping(c)));
    await ledger.settle(recorders);
    const figures = ledger.check(recorders);
    expect(figures).toMatchObject({ lost: 0, duplicated: 0, failed: 0 });

    await Promise.all(admitted.map(closeSocket));
    const after = await diagnosticsWhen(instance, (d) => d.connections === held.length);
    expect(after.connections).toBe(held.length);
    for (const r of recorders) r.stop();
    reportCase({
      id: "floods.connection-storm",
      section,
      title: "Connection storm past MAX_CONNECTIONS",
      method: `MAX_CONNECTIONS=${maxConnections}; ${held.length} typed clients subscribed, then ${storm} WebSocket upgrades fired at once.`,
      figures: {
        "upgrades attempted": storm,
        admitted: admitted.length,
        "refused with HTTP 503": refusals.length,
        "other failures": storm - admitted.length - refusals.length,
        "connections at peak": peak.connections,
        "storm duration (ms)": Math.round(stormMs),
        "broadcasts to the held clients during the storm, lost / duplicated": `${figures.lost} / ${figures.duplicated}`,
        "connections after the storm closed": after.connections,
      },
    });
  }, 60_000);

  it("anonymous sockets cannot hold the places: they are closed unless they authenticate", async () => {
    const baseline = await quietBaseline();
    const free = maxConnections - baseline.connections;
    const openedAt = Date.now();
    const anonymous = await Promise.all(
      Array.from({ length: free }, async () => {
        const { socket } = await rawSocket(instance.url);
        if (!socket) throw new Error("handshake refused before the instance was full");
        answerHeartbeat(socket);
        return { socket, closedWith: closedWithReason(socket) };
      }),
    );
    // Full: a person with an account is turned away for now...
    expect((await rawSocket(instance.url)).status).toBe(503);
    // ...but only until the anonymous sockets' time runs out.
    const closes = await Promise.all(anonymous.map((a) => a.closedWith));
    const heldMs = Date.now() - openedAt;
    expect(new Set(closes.map((c) => `${c.code} ${c.reason}`))).toEqual(new Set(["4401 Not authenticated"]));
    expect(heldMs).toBeLessThan(authTimeoutMs + 2_000);
    const welcome = await authenticatedSocket(instance.url, anna.token);
    await subscribeBroadcasts(welcome, 1);
    await closeSocket(welcome);
    reportCase({
      id: "floods.anonymous-squatters",
      section,
      title: "Anonymous sockets filling every place",
      method: `${free} sockets open without a session or token (answering the heartbeat) until the instance is full. WS_AUTH_TIMEOUT_MS=${authTimeoutMs}.`,
      figures: {
        "anonymous sockets": free,
        "upgrade while full": "HTTP 503",
        "all closed after (ms)": heldMs,
        "close code": "4401 Not authenticated",
        "an authenticated client afterwards": "admitted",
      },
    });
  }, 60_000);

  it("clients that subscribe and never read are cut off; memory stays flat and others' latency holds", async () => {
    const readers = await Promise.all(Array.from({ length: 6 }, (_, i) => typed(i % 2 ? bert : anna)));
    const publisher = await typed(anna);
    const recorders = readers.map((c) => record(c));
    await Promise.all(recorders.map((r) => r.started));
    const text = "z".repeat(4_000);
    const rounds = scale(150, 600);
    /** Publishes `rounds` x 10 broadcasts of 4 KB, ten at a time; returns the ledger. */
    const burst = async () => {
      const ledger = new Ledger();
      for (let i = 0; i < rounds; i++) {
        await Promise.all(
          Array.from({ length: 10 }, () => ledger.publish(() => publisher.api.realtime.publish.mutate({ text }))),
        );
      }
      return ledger;
    };
    const before = await readDiagnostics(instance);

    // Baseline: the same burst with only attentive clients.
    let from = recorders.map((r) => r.received.length);
    const calm = await burst();
    await calm.settle(recorders);
    const calmLatency = latencies(recorders, from);

    // Now with stalled clients that subscribed and stopped reading.
    const stalledCount = scale(5, 20);
    const stalled: WebSocket[] = [];
    for (let i = 0; i < stalledCount; i++) {
      const socket = await authenticatedSocket(instance.url, bert.token);
      await subscribeBroadcasts(socket, 1);
      stopReading(socket);
      stalled.push(socket);
    }
    // They still write, so the heartbeat counts them alive: only the buffer limit can catch them.
    const stillWriting = setInterval(() => {
      for (const s of stalled) if (s.readyState === s.OPEN) s.send("PONG");
    }, 250);
    const closes = stalled.map((s) => closed(s));
    from = recorders.map((r) => r.received.length);
    const stormy = await burst();
    await stormy.settle(recorders);
    const stormyLatency = latencies(recorders, from);
    const duringPeak = await readDiagnostics(instance);
    // The server gave up on every stalled client (it waits for no close handshake from them).
    const cutOff = await diagnosticsWhen(instance, (d) => d.connections === solo.clients.size, 5_000);
    expect(cutOff.connections).toBe(solo.clients.size);
    clearInterval(stillWriting);
    for (const s of stalled) s.terminate();
    const codes = await Promise.all(closes);

    const calmFigures = calm.check(recorders);
    const stormyFigures = stormy.check(recorders);
    for (const figures of [calmFigures, stormyFigures]) {
      expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, failed: 0 });
    }
    const metricsText = await readMetrics(instance.url);
    const slowCloses = Number(/plauder_ws_slow_consumer_closes_total (\d+)/.exec(metricsText)?.[1] ?? 0);
    expect(slowCloses).toBeGreaterThanOrEqual(stalledCount);
    const after = await readDiagnostics(instance);
    // Memory is flat: what the stalled clients made the server queue was freed with them.
    expect(after.memory.heapUsed - before.memory.heapUsed).toBeLessThan(8 * 1024 * 1024);
    // Others' latency did not move (generous bounds: two cores run the server and every client).
    expect(median(stormyLatency)).toBeLessThan(median(calmLatency) * 2 + 10);
    for (const r of recorders) r.stop();
    reportCase({
      id: "floods.stalled-readers",
      section,
      title: "Subscribers that never read",
      method: `${readers.length} attentive subscribers; a burst of ${rounds * 10} broadcasts of 4 KB published first without, then with ${stalledCount} subscribers that stopped reading their TCP socket. WS_MAX_BUFFERED=${maxBuffered}.`,
      figures: {
        "stalled subscribers cut off": `${stalledCount} of ${stalledCount} (slow-consumer closes: ${slowCloses})`,
        "close codes seen by the stalled clients": [...new Set(codes)].join(", "),
        "attentive p50 / p99 without stalled clients (ms)": `${median(calmLatency)} / ${p99(calmLatency)}`,
        "attentive p50 / p99 with stalled clients (ms)": `${median(stormyLatency)} / ${p99(stormyLatency)}`,
        "broadcasts acknowledged / lost / duplicated (both bursts)": `${calmFigures.acknowledged + stormyFigures.acknowledged} / ${calmFigures.lost + stormyFigures.lost} / ${calmFigures.duplicated + stormyFigures.duplicated}`,
        "heap after GC before / after the burst / after the cut-off (MB)": `${mb(before.memory.heapUsed)} / ${mb(duringPeak.memory.heapUsed)} / ${mb(after.memory.heapUsed)}`,
        "RSS before / after (MB)": `${mb(before.memory.rss)} / ${mb(after.memory.rss)}`,
      },
    });
  }, 120_000);

  it("a client whose network drops silently is detected by the heartbeat and freed", async () => {
    const baseline = await quietBaseline();
    const proxy = await startTcpProxy([instance.port]);
    const client = await connect(proxy.url, bert);
    const recorder = record(client);
    await recorder.started;
    const connected = await readDiagnostics(instance);
    expect(connected.connections).toBe(baseline.connections + 1);
    // A live broadcast subscription sits in the direct fan-out, not on the feed.
    expect(connected.directFanoutSubscribers).toBe(baseline.directFanoutSubscribers + 1);
    expect(connected.feedListeners).toBe(baseline.feedListeners);
    proxy.blackhole();
    const droppedAt = Date.now();
    const freed = await diagnosticsWhen(instance, (d) => d.connections === baseline.connections, 10_000);
    const detectedMs = Date.now() - droppedAt;
    recorder.stop();
    void client.close();
    await proxy.close();

    expect(freed.connections).toBe(baseline.connections);
    expect(freed.feedListeners).toBe(baseline.feedListeners);
    expect(freed.directFanoutSubscribers).toBe(baseline.directFanoutSubscribers);
    // Detected within one heartbeat interval plus the pong wait (plus polling slack).
    expect(detectedMs).toBeLessThan(heartbeatMs + pongWaitMs + 1_000);
    reportCase({
      id: "faults.silent-drop",
      section: "Faults",
      title: "A client's network drops silently",
      method: `A subscribed client behind a TCP proxy that stops forwarding in both directions without closing anything. WS_HEARTBEAT_MS=${heartbeatMs}, WS_PONG_WAIT_MS=${pongWaitMs}.`,
      figures: {
        "detected and freed after (ms)": detectedMs,
        "bound: heartbeat + pong wait (ms)": heartbeatMs + pongWaitMs,
        "connections / broadcast subscribers before drop": `${connected.connections} / ${connected.directFanoutSubscribers}`,
        "connections / broadcast subscribers after": `${freed.connections} / ${freed.directFanoutSubscribers}`,
      },
    });
  }, 60_000);

  it("1 000 subscribe/unsubscribe cycles on one connection leave nothing behind", async () => {
    const cycles = scale(1_000, 10_000);
    const client = await typed(anna);
    await ping(client);
    const baseline = await quietBaseline();
    for (let i = 0; i < cycles; i++) {
      await new Promise<void>((resolve, reject) => {
        const subscription = client.api.realtime.broadcast.subscribe(
          {},
          {
            onStarted: () => {
              subscription.unsubscribe();
              resolve();
            },
            onError: reject,
          },
        );
      });
    }
    // The last unsubscribe is a message the server has yet to process; a ping after it is answered after it.
    await ping(client);
    const after = await diagnosticsWhen(
      instance,
      (d) =>
        d.feedListeners === baseline.feedListeners && d.directFanoutSubscribers === baseline.directFanoutSubscribers,
    );
    const numsub = await redisSubscribers();

    expectBackToBaseline(baseline, after, numsub);
    reportCase({
      id: "floods.subscribe-cycles",
      section,
      title: `${cycles.toLocaleString("en")} subscribe/unsubscribe cycles on one connection`,
      method:
        "One typed client starts a broadcast subscription, waits for the server's start, unsubscribes, and repeats.",
      figures: leakFigures(baseline, after, numsub),
    });
  }, 120_000);

  it("1 000 connect/disconnect cycles leave nothing behind", async () => {
    const cycles = scale(1_000, 10_000);
    const baseline = await quietBaseline();
    const batch = 20;
    for (let i = 0; i < cycles; i += batch) {
      await Promise.all(
        Array.from({ length: batch }, async () => {
          const socket = await authenticatedSocket(instance.url, bert.token);
          await subscribeBroadcasts(socket, 1);
          await closeSocket(socket);
        }),
      );
    }
    const after = await diagnosticsWhen(
      instance,
      (d) => d.connections === baseline.connections && d.feedListeners === baseline.feedListeners,
    );
    const numsub = await redisSubscribers();

    expectBackToBaseline(baseline, after, numsub);
    // The per-user count came back down too: Bert can hold MAX_CONNECTIONS_PER_USER sockets again.
    const again = await Promise.all(Array.from({ length: 5 }, () => authenticatedSocket(instance.url, bert.token)));
    await Promise.all(again.map((s) => subscribeBroadcasts(s, 1)));
    await Promise.all(again.map(closeSocket));
    reportCase({
      id: "floods.connect-cycles",
      section,
      title: `${cycles.toLocaleString("en")} connect/disconnect cycles`,
      method: `Raw WebSocket clients, ${batch} at a time: connect, authenticate with connectionParams, start a broadcast subscription, close.`,
      figures: leakFigures(baseline, after, numsub),
    });
  }, 180_000);
});

function closedWithReason(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
}

async function redisSubscribers(): Promise<number> {
  const admin = new Redis(testRedisUrl);
  try {
    const [, count] = (await admin.pubsub("NUMSUB", `${solo.env.REDIS_KEY_PREFIX}broadcasts`)) as [string, number];
    return Number(count);
  } finally {
    admin.disconnect();
  }
}

/** Everything a leak would grow is back where it was; the heap within 4 MB after a full GC. */
function expectBackToBaseline(baseline: Diagnostics, after: Diagnostics, redisSubscriptions: number): void {
  expect(after.connections).toBe(baseline.connections);
  expect(after.feedListeners).toBe(baseline.feedListeners);
  expect(after.directFanoutSubscribers).toBe(baseline.directFanoutSubscribers);
  expect(after.busHandlers).toBe(baseline.busHandlers);
  expect(after.presenceListeners).toBe(baseline.presenceListeners);
  expect(timers(after)).toBeLessThanOrEqual(timers(baseline) + 2);
  expect(redisSubscriptions).toBe(1);
  expect(after.memory.heapUsed - baseline.memory.heapUsed).toBeLessThan(4 * 1024 * 1024);
}

function leakFigures(baseline: Diagnostics, after: Diagnostics, numsub: number) {
  const pair = (x: number, y: number) => `${x} → ${y}`;
  return {
    connections: pair(baseline.connections, after.connections),
    "feed listeners": pair(baseline.feedListeners, after.feedListeners),
    "direct fan-out subscribers": pair(baseline.directFanoutSubscribers, after.directFanoutSubscribers),
    "bus handlers": pair(baseline.busHandlers, after.busHandlers),
    "presence listeners": pair(baseline.presenceListeners, after.presenceListeners),
    timers: pair(timers(baseline), timers(after)),
    "Redis subscriptions to the broadcast channel": numsub,
    "heap after GC (MB)": pair(mb(baseline.memory.heapUsed), mb(after.memory.heapUsed)),
  };
}
