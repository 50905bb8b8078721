import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, setPriority, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { channelHeads, openDatabase } from "@plauder/db";
import { freePort } from "@plauder/runtime/testing";
import { eq } from "drizzle-orm";
import { Redis } from "ioredis";
import { bundleServer } from "../../../apps/web/scripts/build-server";
import { type Child, request, startChild } from "../processes";
import { benchRun, commonOptions, repoRoot, sleep } from "../run-guard";
import { heapGrowth } from "./heap-summary";
import { type CpuWindow, cpuWindow, disturbedAbove, loadBound, otherCores, waitForQuiet } from "./machine";
import { type ProfileSummary, summariseProfile } from "./profile-summary";
import type {
  ChannelSystem,
  ConnectionSpec,
  ConnectResult,
  DeliveryReport,
  LoadCommand,
  PublishResult,
  SubscribeResult,
} from "./protocol";
import { type BenchResults, type CompareRun, type Throughput, writeChannelsReport } from "./report";
import { type Layout, prepareChannelServices } from "./setup";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    ...commonOptions,
    // Scheduling priority for the servers and load processes (e.g. -10 as root), for a machine that
    // other work keeps busy. Redis and Postgres keep theirs. The report states the value used.
    nice: { type: "string", default: "0" },
  },
});
const quick = values.quick ?? false;
const niceness = Number(values.nice ?? "0");
if (!Number.isInteger(niceness) || niceness < -20 || niceness > 19) throw new Error("--nice takes -20..19");
if (niceness !== 0) {
  // With autogroup scheduling a nice value only counts inside its session's group, so the group of
  // this run (the orchestrator and every child it starts) gets the priority too.
  try {
    writeFileSync("/proc/self/autogroup", String(niceness));
  } catch (error) {
    console.warn(`[bench:channels] could not set the autogroup's nice value: ${(error as Error).message}`);
  }
}
const out = values.out ?? (quick ? undefined : join(repoRoot, "docs/benchmarks-channels.md"));

const config = quick
  ? {
      users: 100,
      rooms: 50,
      membersPerRoom: 10,
      depths: [8],
      warmupSeconds: 0.3,
      seconds: 1.5,
      orderPublishers: 4,
      orderDepth: 8,
      fanoutMessages: 50,
      memoryConnectionsPerUser: 2,
      compareRounds: 1,
      compareDepth: 8,
      profileSeconds: 0,
      quietWaitMs: 0,
      attempts: 1,
      heapBreakdownConnections: 0,
      memorySeriesSeconds: 0,
    }
  : {
      users: 1_000,
      rooms: 1_000,
      membersPerRoom: 10,
      depths: [4, 16],
      warmupSeconds: 2,
      seconds: 10,
      orderPublishers: 10,
      orderDepth: 10,
      fanoutMessages: 1_000,
      memoryConnectionsPerUser: 10,
      compareRounds: 3,
      compareDepth: 8,
      profileSeconds: values["no-profile"] ? 0 : 8,
      quietWaitMs: 5_000,
      attempts: 2,
      heapBreakdownConnections: 1_000,
      memorySeriesSeconds: 25,
    };
const payloadBytes = 200;
const connectConcurrency = 64;
const run = benchRun("bench:channels", quick ? 110_000 : 40 * 60_000);
const { began, log } = run;
// Fail at once, with the reason, when Redis is not there (Postgres says so itself in prepareChannelServices).
await run.requireRedis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");

const services = await prepareChannelServices({
  users: config.users,
  rooms: config.rooms,
  membersPerRoom: config.membersPerRoom,
});
const layout: Layout = services.layout;
const baseEnv: NodeJS.ProcessEnv = { ...process.env, ...services.env };
log(
  `${layout.users.length} people, ${layout.rooms.length} rooms of ${config.membersPerRoom} members (${layout.roomsPerUser} rooms each)`,
);

const bundles = {
  plauder: join(here, "../../dist/servers/plauder-channels.mjs"),
  socketio: join(here, "../../dist/servers/socketio-rooms.mjs"),
} as const;
await Promise.all([
  bundleServer(join(here, "../servers/plauder-channels.ts"), bundles.plauder),
  bundleServer(join(here, "../servers/socketio-rooms.ts"), bundles.socketio),
]);

type Servers = { system: ChannelSystem; children: Child[]; urls: string[] };

function prioritise(child: Child): void {
  if (niceness !== 0) setPriority(child.pid, niceness);
}
const live = new Set<Child>();

async function startServers(system: ChannelSystem, count: number, profileDir?: string): Promise<Servers> {
  const started = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const port = await freePort();
      const env = {
        ...baseEnv,
        PORT: String(port),
        INSTANCE_ID: `bench-${i}`,
        APP_URL: `http://127.0.0.1:${port}`,
      };
      const args = ["--expose-gc"];
      if (profileDir) args.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
      // Not pinned: two servers, Redis, Postgres and the load share two cores; the report says who used what.
      const child = startChild(bundles[system], env, null, args);
      live.add(child);
      prioritise(child);
      await request(child, {}, "ready", 30_000);
      return { child, url: `ws://127.0.0.1:${port}` };
    }),
  );
  return { system, children: started.map((s) => s.child), urls: started.map((s) => s.url) };
}

async function stopAll(children: Child[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      await child.stop();
      live.delete(child);
    }),
  );
}

/**
 * The load processes, started once (bundled, on plain node) and reused by every scenario: each
 * scenario takes some and hands them back, which closes their connections and clears their counters.
 */
const loadBundle = join(here, "../../dist/channels-load.mjs");
await bundleServer(join(here, "load.ts"), loadBundle);
const loadPool: Child[] = [];

async function startLoad(count: number): Promise<Child[]> {
  while (loadPool.length < count) {
    const child = startChild(loadBundle, baseEnv, null);
    live.add(child);
    prioritise(child);
    loadPool.push(child);
    await request(child, {}, "ready", 30_000);
  }
  return loadPool.slice(0, count);
}

/** Hands load processes back: their connections close and their counters start again. */
async function releaseLoad(children: Child[]): Promise<void> {
  await Promise.all(children.map((child) => request(child, { type: "close" }, "closed", 30_000)));
}

async function connect(load: Child, system: ChannelSystem, connections: ConnectionSpec[]): Promise<ConnectResult> {
  if (connections.length === 0) return { type: "connected", ok: 0, failed: 0, firstError: null, ms: 0 };
  const result = await request<ConnectResult>(
    load,
    { type: "connect", system, connections, concurrency: connectConcurrency } satisfies LoadCommand,
    "connected",
    240_000,
  );
  if (result.failed > 0) {
    throw new Error(`${result.failed} of ${connections.length} ${system} connections failed: ${result.firstError}`);
  }
  return result;
}

const user = (u: number) => layout.users[u] as Layout["users"][number];

/** One publisher connection per person of the first `stride` (together they belong to every room), alternating instances. */
function publisherSpecs(servers: Servers): ConnectionSpec[][] {
  const perInstance: ConnectionSpec[][] = servers.urls.map(() => []);
  for (let u = 0; u < layout.stride; u++) {
    const instance = u % servers.urls.length;
    const channels = layout.roomsOf(u).map((room) => room.channel);
    (perInstance[instance] as ConnectionSpec[]).push({
      url: servers.urls[instance] as string,
      token: user(u).token,
      subscribe: [],
      publish: channels,
    });
  }
  return perInstance;
}

/** One subscriber connection per person, on instance u mod 2, subscribed to all of that person's rooms. */
function subscriberSpecs(servers: Servers): ConnectionSpec[][] {
  const perInstance: ConnectionSpec[][] = servers.urls.map(() => []);
  layout.users.forEach((person, u) => {
    const instance = u % servers.urls.length;
    (perInstance[instance] as ConnectionSpec[]).push({
      url: servers.urls[instance] as string,
      token: person.token,
      subscribe: layout.roomsOf(u).map((room) => room.channel),
      publish: [],
    });
  });
  return perInstance;
}

/** Runs the same publish command on every load process at once, measuring who used the CPU meanwhile. */
async function publishOnAll(
  servers: Servers,
  publishers: Child[],
  command: LoadCommand,
  watchers: Child[] = [],
): Promise<{
  results: PublishResult[];
  cpu: CpuWindow;
  deliveries: DeliveryReport[];
  probe: NonNullable<Throughput["probe"]>;
}> {
  const timing = command as { warmupSeconds: number; seconds: number };
  // Other work on the machine (builds, tests) would take cores from the servers: wait for a lull.
  const quiet = await waitForQuiet(config.quietWaitMs);
  if (quiet.waitedMs > 2_000) log(`waited ${(quiet.waitedMs / 1000).toFixed(0)} s for other work to quieten`);
  const pending = Promise.all(
    publishers.map((p) =>
      request<PublishResult>(p, command, "published", (timing.warmupSeconds + timing.seconds) * 1000 + 60_000),
    ),
  );
  await sleep(timing.warmupSeconds * 1000);
  await Promise.all(watchers.map((w) => request(w, { type: "reset" }, "reset", 10_000)));
  const finish = cpuWindow(
    servers.children.map((c) => c.pid),
    [...publishers, ...watchers].map((c) => c.pid),
  );
  const probing = probeRoundTrips(timing.seconds * 1000);
  await sleep(timing.seconds * 1000);
  const cpu = finish();
  const probe = await probing;
  const deliveries = await Promise.all(
    watchers.map((w) => request<DeliveryReport>(w, { type: "report" }, "report", 10_000)),
  );
  const results = await pending;
  return { results, cpu, deliveries, probe };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

/** Times a Redis PING and a Postgres `select 1` every 20 ms for `ms`: the waiting a busy machine adds. */
async function probeRoundTrips(ms: number): Promise<NonNullable<Throughput["probe"]>> {
  const redisTimes: number[] = [];
  const postgresTimes: number[] = [];
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const tick = performance.now();
    await redis.ping();
    const afterRedis = performance.now();
    redisTimes.push(afterRedis - tick);
    await db.db.execute("select 1");
    postgresTimes.push(performance.now() - afterRedis);
    await sleep(Math.max(0, 20 - (performance.now() - tick)));
  }
  return {
    redisP50: percentile(redisTimes, 50),
    redisP99: percentile(redisTimes, 99),
    postgresP50: percentile(postgresTimes, 50),
    postgresP99: percentile(postgresTimes, 99),
  };
}

/** A publish window as a scenario gives it: the run's payload, and its warm-up and length unless set. */
type PublishWindow = (
  | Omit<Extract<LoadCommand, { type: "closed" }>, "bytes" | "warmupSeconds" | "seconds">
  | Omit<Extract<LoadCommand, { type: "open" }>, "bytes" | "warmupSeconds" | "seconds">
) & { warmupSeconds?: number; seconds?: number };

/**
 * One measured publish window on every publisher (see publishOnAll), its results combined under
 * `label`; with the CPU figures and what the `watchers` received meanwhile.
 */
async function measure(
  servers: Servers,
  publishers: Child[],
  label: string,
  window: PublishWindow,
  watchers: Child[] = [],
): Promise<{ t: Throughput; cpu: CpuWindow; deliveries: DeliveryReport[] }> {
  const command: LoadCommand = {
    warmupSeconds: config.warmupSeconds,
    seconds: config.seconds,
    bytes: payloadBytes,
    ...window,
  };
  const { results, cpu, deliveries, probe } = await publishOnAll(servers, publishers, command, watchers);
  return { t: combine(results, cpu, label, probe), cpu, deliveries };
}

function combine(
  results: PublishResult[],
  cpu: CpuWindow,
  label: string,
  probe?: NonNullable<Throughput["probe"]>,
): Throughput {
  const seconds = Math.max(...results.map((r) => r.seconds));
  const acks = results.reduce((sum, r) => sum + r.acks, 0);
  const errors = results.reduce((sum, r) => sum + r.errors, 0);
  const bound = loadBound(cpu);
  const maxLagMs = Math.max(...results.map((r) => r.maxLagMs));
  const lagging = maxLagMs > 100;
  const other = otherCores(cpu);
  return {
    label,
    perSecond: acks / seconds,
    acks,
    errors,
    firstError: results.find((r) => r.firstError)?.firstError ?? null,
    // The slower of the load processes' percentiles: conservative.
    p50: Math.max(...results.map((r) => r.p50)),
    p99: Math.max(...results.map((r) => r.p99)),
    max: Math.max(...results.map((r) => r.max)),
    maxLagMs,
    unanswered: results.reduce((sum, r) => sum + r.unanswered, 0),
    cpu,
    loadBound: bound.bound || lagging,
    loadBoundWhy: bound.why ?? (lagging ? `the open-loop schedule fell ${maxLagMs.toFixed(0)} ms behind` : null),
    otherCores: other,
    disturbed: other >= disturbedAbove,
    probe,
  };
}

/** Measures again (up to config.attempts times) while other work disturbed the window; keeps the least disturbed. */
async function leastDisturbed<T extends { otherCores: number; disturbed: boolean }>(
  label: string,
  attempt: () => Promise<T>,
): Promise<T> {
  let best = await attempt();
  for (let i = 1; i < config.attempts && best.disturbed; i++) {
    log(`${label}: other work used ${best.otherCores.toFixed(2)} cores meanwhile; measuring again`);
    const next = await attempt();
    if (next.otherCores < best.otherCores) best = next;
  }
  return best;
}

function describe(t: Throughput): string {
  const servers = t.cpu.servers.map((c) => c.toFixed(2)).join("+");
  const load = t.cpu.load.map((c) => c.toFixed(2)).join("+");
  return `${Math.round(t.perSecond)}/s, p50 ${t.p50.toFixed(1)} ms, p99 ${t.p99.toFixed(1)} ms, errors ${t.errors}, cores: servers ${servers}, load ${load}, redis ${t.cpu.redis.toFixed(2)}, postgres ${t.cpu.postgres.toFixed(2)}, machine ${(t.cpu.machineBusy * 100).toFixed(0)} %, other ${t.otherCores.toFixed(2)}${t.disturbed ? " [disturbed]" : ""}${t.loadBound ? ` [load-bound: ${t.loadBoundWhy}]` : ""}`;
}

function failOnErrors(t: Throughput): void {
  if (t.acks === 0) throw new Error(`${t.label}: no publish was acknowledged (${t.firstError ?? "no error seen"})`);
  if (t.errors > 0) throw new Error(`${t.label}: ${t.errors} publishes were refused: ${t.firstError}`);
}

const results: BenchResults = {
  quick,
  startedAt: new Date(began).toISOString(),
  minutes: 0,
  machine: {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
  },
  versions: {},
  config: { ...config, payloadBytes, connectConcurrency, nice: niceness },
  durable: [],
  durableHalf: null,
  ephemeral: [],
  ephemeralHalf: null,
  order: null,
  fanout: null,
  memory: null,
  compare: [],
  profiles: [],
  failures: [],
};

function readVersion(pkg: string): string {
  try {
    const path = join(repoRoot, "node_modules", pkg, "package.json");
    return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}
for (const pkg of [
  "ws",
  "@trpc/server",
  "ioredis",
  "pg",
  "drizzle-orm",
  "socket.io",
  "@socket.io/redis-adapter",
  "zod",
]) {
  results.versions[pkg] = readVersion(pkg);
}

const redis = new Redis(services.env.REDIS_URL);
results.versions.redis = /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "unknown";
const db = openDatabase({ kind: "postgres", url: services.databaseUrl, poolSize: 2 });
{
  const version = (await db.db.execute("show server_version")) as unknown as { rows: { server_version: string }[] };
  results.versions.postgres = version.rows[0]?.server_version ?? "unknown";
  const sync = (await db.db.execute("show synchronous_commit")) as unknown as {
    rows: { synchronous_commit: string }[];
  };
  results.versions["postgres synchronous_commit"] = sync.rows[0]?.synchronous_commit ?? "unknown";
}

/** 1 and 3: publishes acknowledged per second across all rooms, closed loop, then open loop at half that. */
async function publishThroughput(servers: Servers): Promise<void> {
  const specs = publisherSpecs(servers);
  const publishers = await startLoad(servers.urls.length);
  try {
    await Promise.all(publishers.map((p, i) => connect(p, "plauder", specs[i] as ConnectionSpec[])));
    for (const ephemeral of [false, true]) {
      const kind = ephemeral ? "ephemeral" : "durable";
      const list = ephemeral ? results.ephemeral : results.durable;
      for (const depth of config.depths) {
        const label = `${kind}, closed loop, ${depth} in flight per connection`;
        const t = await leastDisturbed(label, async () => {
          const { t: throughput } = await measure(servers, publishers, label, { type: "closed", depth, ephemeral });
          const measured = { ...throughput, depth, connections: layout.stride };
          failOnErrors(measured);
          return measured;
        });
        list.push(t);
        log(`${label}: ${describe(t)}`);
      }
      const best = Math.max(...list.map((t) => t.perSecond));
      const rate = best / 2;
      const label = `${kind}, open loop at half the best closed-loop rate (${Math.round(rate)}/s)`;
      const t = await leastDisturbed(label, async () => {
        const window = { type: "open", rate: rate / publishers.length, ephemeral } as const;
        const { t: throughput } = await measure(servers, publishers, label, window);
        const measured = { ...throughput, depth: 0, connections: layout.stride, offered: rate };
        failOnErrors(measured);
        return measured;
      });
      if (ephemeral) results.ephemeralHalf = t;
      else results.durableHalf = t;
      log(`${label}: ${describe(t)}`);
    }
  } finally {
    await releaseLoad(publishers);
  }
}

/** 2: one room, publishers on both instances, a verifying subscriber on each. */
async function inOrder(servers: Servers): Promise<void> {
  const room = layout.orderRoom;
  const loads = await startLoad(servers.urls.length);
  try {
    // Subscribers first, so each sees offsets from 1.
    await Promise.all(
      loads.map((load, i) =>
        connect(load, "plauder", [
          {
            url: servers.urls[i] as string,
            token: user(room.members[i] as number).token,
            subscribe: [room.channel],
            publish: [],
            verify: true,
          },
        ]),
      ),
    );
    const publisherSpecsPerLoad: ConnectionSpec[][] = loads.map(() => []);
    for (let p = 0; p < config.orderPublishers; p++) {
      const instance = p % servers.urls.length;
      (publisherSpecsPerLoad[instance] as ConnectionSpec[]).push({
        url: servers.urls[instance] as string,
        token: user(room.members[p % room.members.length] as number).token,
        subscribe: [],
        publish: [room.channel],
      });
    }
    await Promise.all(loads.map((load, i) => connect(load, "plauder", publisherSpecsPerLoad[i] as ConnectionSpec[])));
    await Promise.all(loads.map((load) => request(load, { type: "reset" }, "reset", 10_000)));
    const window = { type: "closed", depth: config.orderDepth, ephemeral: false } as const;
    const { t } = await measure(servers, loads, "one room, durable, closed loop", window);
    failOnErrors(t);
    // Every publish ever made in the room, warm-up included, must reach both subscribers in order.
    const [head] = await db.db.select().from(channelHeads).where(eq(channelHeads.channel, room.channel));
    const committed = head?.head ?? 0;
    let reports: DeliveryReport[] = [];
    for (let waited = 0; waited < 10_000; waited += 200) {
      reports = await Promise.all(loads.map((l) => request<DeliveryReport>(l, { type: "report" }, "report", 10_000)));
      if (reports.every((r) => r.order.checked >= committed)) break;
      await sleep(200);
    }
    const subscribers = reports.map((r) => ({ ...r.order }));
    const ok = subscribers.every(
      (s) =>
        s.checked === committed &&
        s.firstOffset === 1 &&
        s.last === committed &&
        s.gaps === 0 &&
        s.duplicates === 0 &&
        s.outOfOrder === 0,
    );
    results.order = {
      ...t,
      depth: config.orderDepth,
      connections: config.orderPublishers,
      committed,
      subscribers,
      inOrder: ok,
    };
    log(
      `${t.label}: ${describe(t)}; ${committed} committed; order ${ok ? "ok" : "VIOLATED"} ${JSON.stringify(subscribers)}`,
    );
    if (!ok) results.failures.push(`in-order check failed: ${JSON.stringify(subscribers)} for ${committed} committed`);
  } finally {
    await releaseLoad(loads);
  }
}

type ServerStats = { channelsListened: number; channelMessagesIn: number; heardTopic: boolean };
const stats = (child: Child, topic: string) => request<ServerStats>(child, { type: "stats", topic }, "stats", 10_000);

/** 4: a subscriber only on instance A; publishes from B. Does B hear the channel? */
async function fanoutWhereNeeded(servers: Servers): Promise<void> {
  const room = layout.fanoutRoom;
  const topic = `${services.prefix}{ch:${room.channel}}`;
  const [a, b] = servers.children as [Child, Child];
  const loads = await startLoad(2);
  const [subscriberLoad, publisherLoad] = loads as [Child, Child];
  try {
    await connect(subscriberLoad, "plauder", [
      {
        url: servers.urls[0] as string,
        token: user(room.members[0] as number).token,
        subscribe: [room.channel],
        publish: [],
      },
    ]);
    await connect(publisherLoad, "plauder", [
      {
        url: servers.urls[1] as string,
        token: user(room.members[1] as number).token,
        subscribe: [],
        publish: [room.channel],
      },
    ]);
    const [beforeA, beforeB] = await Promise.all([stats(a, topic), stats(b, topic)]);
    await request(subscriberLoad, { type: "reset" }, "reset", 10_000);
    const rate = quick ? 100 : 250;
    const seconds = config.fanoutMessages / rate / 2;
    let numsubDuring = -1;
    for (const ephemeral of [false, true]) {
      const pending = request<PublishResult>(
        publisherLoad,
        { type: "open", rate, warmupSeconds: 0, seconds, ephemeral, bytes: payloadBytes } satisfies LoadCommand,
        "published",
        seconds * 1000 + 30_000,
      );
      await sleep((seconds * 1000) / 2);
      const numsub = (await redis.pubsub("NUMSUB", topic)) as [string, number];
      numsubDuring = Number(numsub[1]);
      const answer = await pending;
      if (answer.errors > 0) throw new Error(`fan-out check: publishes refused: ${answer.firstError}`);
    }
    await sleep(500);
    const [afterA, afterB] = await Promise.all([stats(a, topic), stats(b, topic)]);
    const delivered = await request<DeliveryReport>(subscriberLoad, { type: "report" }, "report", 10_000);
    const numpat = Number(await redis.pubsub("NUMPAT"));
    const published = Math.round(rate * seconds) * 2;
    results.fanout = {
      published,
      numsub: numsubDuring,
      numpatAll: numpat,
      receivedBySubscriber: delivered.received,
      busMessagesA: afterA.channelMessagesIn - beforeA.channelMessagesIn,
      busMessagesB: afterB.channelMessagesIn - beforeB.channelMessagesIn,
      channelsListenedA: afterA.channelsListened,
      channelsListenedB: afterB.channelsListened,
      heardByB: afterB.heardTopic,
    };
    log(`fan-out where needed: ${JSON.stringify(results.fanout)}`);
    if (numsubDuring !== 1 || results.fanout.busMessagesB !== 0 || delivered.received < published) {
      results.failures.push(`fan-out check failed: ${JSON.stringify(results.fanout)}`);
    }
  } finally {
    await releaseLoad(loads);
  }
}

/** Calls per second of each Redis command between two `INFO commandstats` readings (the whole Redis). */
function commandRates(before: string, after: string, seconds: number): Record<string, number> {
  const calls = (text: string) =>
    new Map([...text.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)].map((m) => [m[1] as string, Number(m[2])]));
  const was = calls(before);
  const rates: Record<string, number> = {};
  for (const [command, count] of calls(after)) {
    const rate = (count - (was.get(command) ?? 0)) / seconds;
    if (rate >= 1) rates[command] = rate;
  }
  return rates;
}

type Memory = { rss: number; heapUsed: number; external: number; arrayBuffers: number; error?: string };
async function measureMemory(server: Child): Promise<Memory> {
  await sleep(1_000);
  const memory = await request<Memory>(server, { type: "measure" }, "memory", 30_000);
  if (memory.error) throw new Error(memory.error);
  return memory;
}

/** A connection to the one server of the memory scenarios, subscribed to nothing until told to join person `u`'s rooms. */
function subscribingLater(servers: Servers, u: number): ConnectionSpec {
  return {
    url: servers.urls[0] as string,
    token: user(u).token,
    subscribe: [],
    publish: [],
    later: layout.roomsOf(u).map((room) => room.channel),
  };
}

/** Tells every load process to subscribe its connections to their `later` channels; their answers. */
function subscribeLater(loads: Child[], timeoutMs: number): Promise<SubscribeResult[]> {
  const command = { type: "subscribe", concurrency: 32 } satisfies LoadCommand;
  return Promise.all(loads.map((l) => request<SubscribeResult>(l, command, "subscribed", timeoutMs)));
}

/** 5: one instance, N connections subscribed to nothing, then each to its person's rooms. */
async function memoryPerSubscription(): Promise<void> {
  const servers = await startServers("plauder", 1);
  const server = servers.children[0] as Child;
  const loads = await startLoad(2);
  try {
    const empty = await measureMemory(server);
    const specs: ConnectionSpec[][] = [[], []];
    let connections = 0;
    for (let c = 0; c < config.memoryConnectionsPerUser; c++) {
      for (let u = 0; u < layout.users.length; u++) {
        (specs[connections % 2] as ConnectionSpec[]).push(subscribingLater(servers, u));
        connections++;
      }
    }
    const connected = await Promise.all(loads.map((l, i) => connect(l, "plauder", specs[i] as ConnectionSpec[])));
    const idle = await measureMemory(server);
    log(`memory: ${connections} connections subscribed to nothing, heap ${(idle.heapUsed / 2 ** 20).toFixed(1)} MB`);
    const subscribed = await subscribeLater(loads, 600_000);
    const failed = subscribed.reduce((sum, s) => sum + s.failed, 0);
    if (failed > 0) throw new Error(`memory: ${failed} connections could not subscribe: ${subscribed[0]?.firstError}`);
    // Read again and again for a while (each reading after a forced collection): memory that is
    // only held part of the time (periodic work over all subscriptions) shows as the gap between
    // the lowest and the highest reading. Redis's command counters over the same time show what
    // the idle subscriptions cost Redis.
    const statsBefore = await redis.info("commandstats");
    const seriesFrom = performance.now();
    const series: { atSeconds: number; heapUsed: number; rss: number }[] = [];
    let last: Memory = await measureMemory(server);
    series.push({ atSeconds: 0, heapUsed: last.heapUsed, rss: last.rss });
    while (performance.now() - seriesFrom < config.memorySeriesSeconds * 1000) {
      last = await measureMemory(server);
      series.push({ atSeconds: (performance.now() - seriesFrom) / 1000, heapUsed: last.heapUsed, rss: last.rss });
    }
    const seriesSeconds = (performance.now() - seriesFrom) / 1000;
    const statsAfter = await redis.info("commandstats");
    const peak = series.reduce((top, r) => (r.heapUsed > top.heapUsed ? r : top));
    const low = series.reduce((bottom, r) => (r.heapUsed < bottom.heapUsed ? r : bottom));
    const full = { ...last, heapUsed: peak.heapUsed, rss: peak.rss };
    const subscriptions = connections * layout.roomsPerUser;
    const channels = (await stats(server, "")).channelsListened;
    results.memory = {
      connections,
      users: layout.users.length,
      subscriptions,
      channels,
      connectSeconds: Math.max(...connected.map((c) => c.ms)) / 1000,
      subscribeSeconds: Math.max(...subscribed.map((s) => s.ms)) / 1000,
      empty,
      idle,
      subscribed: full,
      series,
      heapPerSubscriptionLow: (low.heapUsed - idle.heapUsed) / (connections * layout.roomsPerUser),
      redisWhileIdle: commandRates(statsBefore, statsAfter, seriesSeconds),
      heapPerConnection: (idle.heapUsed - empty.heapUsed) / connections,
      heapPerSubscription: (full.heapUsed - idle.heapUsed) / subscriptions,
      rssPerSubscription: (full.rss - idle.rss) / subscriptions,
      externalPerSubscription: (full.external - idle.external) / subscriptions,
    };
    log(
      `memory: ${subscriptions} subscriptions on ${channels} channels: heap ${(full.heapUsed / 2 ** 20).toFixed(1)} MB, ${(results.memory.heapPerSubscription / 1024).toFixed(2)} KB per subscription`,
    );
  } finally {
    await releaseLoad(loads);
    await stopAll(servers.children);
  }
}

/**
 * 5, where the memory goes: the same as above at a size whose heap snapshots stay small (one
 * connection per person), and what grew between the snapshot before and after subscribing.
 */
async function heapBreakdown(): Promise<void> {
  const count = Math.min(config.heapBreakdownConnections, layout.users.length);
  const dir = join(repoRoot, "bench/dist/heap");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const servers = await startServers("plauder", 1);
  const server = servers.children[0] as Child;
  const loads = await startLoad(2);
  try {
    const specs: ConnectionSpec[][] = [[], []];
    for (let u = 0; u < count; u++) (specs[u % 2] as ConnectionSpec[]).push(subscribingLater(servers, u));
    await Promise.all(loads.map((l, i) => connect(l, "plauder", specs[i] as ConnectionSpec[])));
    await sleep(1_000);
    const snapshot = (name: string) =>
      request<{ path: string }>(server, { type: "heap-snapshot", path: join(dir, name) }, "heap-snapshot", 120_000);
    const before = await snapshot("idle.heapsnapshot");
    const subscribed = await subscribeLater(loads, 300_000);
    if (subscribed.some((s) => s.failed > 0)) throw new Error(`heap breakdown: ${subscribed[0]?.firstError}`);
    await sleep(1_000);
    const after = await snapshot("subscribed.heapsnapshot");
    const subscriptions = count * layout.roomsPerUser;
    if (results.memory) {
      results.memory.breakdown = {
        connections: count,
        subscriptions,
        growth: heapGrowth(before.path, after.path, subscriptions),
      };
    }
    log(`heap breakdown over ${subscriptions} subscriptions written`);
  } finally {
    await releaseLoad(loads);
    await stopAll(servers.children);
  }
}

type CompareSystem = CompareRun["system"];

/** 6: the same rooms, members, connections and publishers on Socket.IO and on Plauder (durable and ephemeral). */
async function compareOnce(system: CompareSystem, round: number): Promise<CompareRun> {
  const protocol: ChannelSystem = system === "socketio" ? "socketio" : "plauder";
  const servers = await startServers(protocol, 2);
  const pool = await startLoad(4);
  const subscribers = pool.slice(0, 2);
  const publishers = pool.slice(2, 4);
  try {
    const subSpecs = subscriberSpecs(servers);
    const connected = await Promise.all(
      subscribers.map((s, i) => connect(s, protocol, subSpecs[i] as ConnectionSpec[])),
    );
    const pubSpecs = publisherSpecs(servers);
    await Promise.all(publishers.map((p, i) => connect(p, protocol, pubSpecs[i] as ConnectionSpec[])));
    const window = { type: "closed", depth: config.compareDepth, ephemeral: system === "plauder-ephemeral" } as const;
    const { t, deliveries } = await measure(servers, publishers, `${system} round ${round}`, window, subscribers);
    failOnErrors(t);
    const received = deliveries.reduce((sum, d) => sum + d.received, 0);
    const run: CompareRun = {
      ...t,
      system,
      round,
      depth: config.compareDepth,
      connections: layout.stride,
      subscriberConnections: layout.users.length,
      subscriptions: layout.users.length * layout.roomsPerUser,
      connectSeconds: Math.max(...connected.map((c) => c.ms)) / 1000,
      deliveriesPerSecond: received / t.cpu.seconds,
      deliveriesPerPublish: t.acks > 0 ? received / t.acks : 0,
      deliveryP50: Math.max(...deliveries.map((d) => d.p50)),
      deliveryP99: Math.max(...deliveries.map((d) => d.p99)),
    };
    log(
      `compare ${system} round ${round}: ${describe(t)}; ${Math.round(run.deliveriesPerSecond)} deliveries/s (${run.deliveriesPerPublish.toFixed(2)} per ack), delivery p99 ${run.deliveryP99.toFixed(1)} ms`,
    );
    return run;
  } finally {
    await releaseLoad(pool);
    await stopAll(servers.children);
  }
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/** A short extra pass with `--cpu-prof` on both servers: where the time goes under the closed loops. */
async function profilePass(): Promise<void> {
  const root = join(repoRoot, "bench/dist/profiles");
  for (const ephemeral of [false, true]) {
    const dir = join(root, ephemeral ? "ephemeral" : "durable");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const servers = await startServers("plauder", 2, dir);
    const publishers = await startLoad(2);
    const specs = publisherSpecs(servers);
    try {
      await Promise.all(publishers.map((p, i) => connect(p, "plauder", specs[i] as ConnectionSpec[])));
      const depth = Math.max(...config.depths);
      const window = { type: "closed", depth, warmupSeconds: 1, seconds: config.profileSeconds, ephemeral } as const;
      const { t, cpu } = await measure(servers, publishers, `profiled ${ephemeral ? "ephemeral" : "durable"}`, window);
      log(`${t.label}: ${describe(t)}`);
      await releaseLoad(publishers);
      await stopAll(servers.children);
      const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
      results.profiles.push({
        kind: ephemeral ? "ephemeral" : "durable",
        perSecond: t.perSecond,
        cpu,
        // Named relative to the repository: the report travels, this machine's paths do not.
        summaries: files.map((f) => ({
          ...summariseProfile(join(dir, f)),
          file: relative(repoRoot, join(dir, f)),
        })) as ProfileSummary[],
      });
    } finally {
      await stopAll(servers.children);
    }
  }
}

let cleaned: Promise<void> | null = null;
/** Stops every child, drops the run's database and deletes its Redis keys; once, however the run ends. */
function cleanUp(): Promise<void> {
  cleaned ??= (async () => {
    await stopAll([...live]);
    await db.close().catch(() => undefined);
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${services.prefix}*`, "COUNT", 1_000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
    redis.disconnect();
    await services.cleanup();
    if (niceness !== 0) {
      try {
        writeFileSync("/proc/self/autogroup", "0");
      } catch {
        // Nothing to give back.
      }
    }
  })();
  return cleaned;
}
process.on("SIGINT", () => {
  log("interrupted: cleaning up");
  void cleanUp().finally(() => process.exit(130));
});

let exitCode = 0;
try {
  const two = await startServers("plauder", 2);
  try {
    log("1 and 3: durable and ephemeral publishes across all rooms");
    await publishThroughput(two);
    log("2: one room, in order");
    await inOrder(two);
    log("4: fan-out only where subscribed");
    await fanoutWhereNeeded(two);
  } finally {
    await stopAll(two.children);
  }
  log("5: memory per channel subscription");
  await memoryPerSubscription();
  if (config.heapBreakdownConnections > 0) await heapBreakdown();
  log("6: rooms against Socket.IO rooms");
  const systems: CompareSystem[] = ["socketio", "plauder-durable", "plauder-ephemeral"];
  for (let round = 1; round <= config.compareRounds; round++) {
    const order = shuffled(systems);
    log(`round ${round}: ${order.join(", ")}`);
    for (const system of order) {
      results.compare.push(await leastDisturbed(`${system} round ${round}`, () => compareOnce(system, round)));
    }
  }
  if (config.profileSeconds > 0) {
    log("profiles");
    await profilePass();
  }
} catch (error) {
  exitCode = 1;
  results.failures.push((error as Error).message);
  console.error(`[bench:channels] FAILED: ${(error as Error).stack ?? error}`);
} finally {
  await cleanUp();
}
run.finish(results, { exitCode, out, repoRoot, report: () => writeChannelsReport(results) });
