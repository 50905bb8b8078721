import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort } from "@plauder/runtime/testing";
import { bundleServer } from "../../apps/web/scripts/build-server";
import { type Child, cpuSeconds, cpuTicks, pinned, rssBytes, startChild, waitFor } from "./processes";
import type { ClientReport, PublishReport, System } from "./protocol";
import { deliveryFigures, payloadBytes, systems } from "./protocol";
import { startBenchRedis } from "./redis-server";
import { type RoundOrder, type RoundResult, type SweepPoint, writeReport } from "./report";
import { prepareServices } from "./services";
import { installedVersions } from "./versions";

const benchSrc = dirname(fileURLToPath(import.meta.url));
const serverFiles: Record<System, string> = { raw: "raw-ws", socketio: "socketio", plauder: "plauder" };

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    out: { type: "string" },
    // The seed of the run order; a report names the one it used, so its order can be repeated.
    seed: { type: "string" },
  },
});
const quick = values.quick ?? false;
const repoRoot = join(benchSrc, "../..");
const out = values.out ?? (quick ? undefined : join(repoRoot, "docs/benchmarks.md"));
const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : Math.floor(Math.random() * 2 ** 32);

const config = quick
  ? {
      rounds: 1,
      connectSteps: [500],
      subscribers: 200,
      stepSeconds: 1.5,
      maxSteps: 5,
      startRate: 100,
      twoSeconds: 2,
      slowSeconds: 3,
      connectionsPerUser: 100,
      timedEvery: 10,
      // A smoke run neither waits long for a quiet machine nor repeats steps.
      quietWaitSeconds: 3,
      attempts: 1,
    }
  : {
      rounds: 3,
      connectSteps: [1_000, 5_000, 10_000],
      subscribers: 1_000,
      stepSeconds: 3,
      maxSteps: 12,
      startRate: 20,
      twoSeconds: 4,
      slowSeconds: 8,
      connectionsPerUser: 100,
      timedEvery: 10,
      quietWaitSeconds: 30,
      attempts: 3,
    };
const serverCpu = 0;
const clientCpu = cpus().length > 1 ? 1 : null;
const largestSize = config.connectSteps.at(-1) as number;
const userCount = Math.ceil(largestSize / config.connectionsPerUser);

/** A small seeded generator (mulberry32), so the run order of a report can be repeated. */
function random(state: number): () => number {
  let s = state;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
const nextRandom = random(seed);
function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(nextRandom() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

// The orchestrator is part of the load: it stays off the servers' core.
if (clientCpu !== null && pinned) {
  try {
    execFileSync("taskset", ["-cp", String(clientCpu), String(process.pid)], { stdio: "ignore" });
  } catch {
    // Without it the orchestrator's little work may land on either core.
  }
}

// Redis of the run's own, pinned to the load side's core, when redis-server is installed.
const redis = await startBenchRedis(clientCpu);
const services = await prepareServices({
  users: userCount,
  connectionsPerUser: config.connectionsPerUser,
  redisUrl: redis.url,
});
const baseEnv: NodeJS.ProcessEnv = {
  ...process.env,
  ...services.env,
  LOG_LEVEL: "error",
  BENCH_PREFIX: services.prefix,
  BENCH_TIME_EVERY: String(config.timedEvery),
};

type Servers = { children: Child[]; urls: string[] };

/**
 * Every system's server bundled the way the app's production server is (apps/web/scripts/build-server.ts)
 * and run on plain node, so none pays for a TypeScript loader.
 */
const serverBundles = Object.fromEntries(
  await Promise.all(
    systems.map(async (system) => {
      const source = join(benchSrc, "servers", `${serverFiles[system]}.ts`);
      const bundle = join(benchSrc, "../dist/servers", `${serverFiles[system]}.mjs`);
      await bundleServer(source, bundle);
      return [system, bundle] as const;
    }),
  ),
) as Record<System, string>;

async function startServers(system: System, count: number): Promise<Servers> {
  const children: Child[] = [];
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const script = serverBundles[system];
    const env = { ...baseEnv, PORT: String(port), INSTANCE_ID: `bench-${i}`, APP_URL: `http://127.0.0.1:${port}` };
    // BENCH_PROFILE_DIR: write a CPU profile of every server (for finding the next hot spot).
    const profile = process.env.BENCH_PROFILE_DIR
      ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
      : [];
    const child = startChild(script, env, serverCpu, [
      ...profile,
      "--expose-gc",
      "--require",
      join(benchSrc, "gc-hook.cjs"),
    ]);
    await waitFor(child, "ready");
    children.push(child);
    urls.push(`ws://127.0.0.1:${port}`);
  }
  return { children, urls };
}

const stopServers = (servers: Servers) => Promise.all(servers.children.map((c) => c.stop()));
const memory = async (child: Child) => child.ask<{ rss: number; heapUsed: number }>({ type: "measure" }, "memory");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Opens `count` subscribed connections; connection n (counted from `firstIndex` over the server's
 * life) signs in as user floor(n / connectionsPerUser), each user with a token of its own.
 */
function connectClients(client: Child, system: System, servers: Servers, count: number, firstIndex = 0) {
  return client.ask<{ ok: number; failed: number; ms: number }>(
    {
      type: "connect",
      system,
      urls: servers.urls,
      count,
      tokens: services.tokens,
      perUser: config.connectionsPerUser,
      firstIndex,
    },
    "connected",
  );
}

async function publishAt(publisher: Child, system: System, rate: number, seconds: number): Promise<PublishReport> {
  return publisher.ask<PublishReport>({ type: "publish", system, rate, seconds, bytes: payloadBytes }, "published");
}

const loadPids = (client: Child, publisher: Child) => [
  process.pid,
  client.pid,
  publisher.pid,
  ...(redis.pinnedCpu === clientCpu && redis.pid ? [redis.pid] : []),
];
const cpuOf = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
const busyShare = (before: { busy: number; total: number }, after: { busy: number; total: number }) =>
  (after.busy - before.busy) / Math.max(1, after.total - before.total);

/**
 * The share of each core that processes other than this run's took over `ms`: the core's busy time
 * less what the servers (on the servers' core) and the load tools (on the load core) used.
 */
async function foreignShares(serverPids: number[], ownLoadPids: number[], ms: number) {
  const serverCore = cpuTicks(serverCpu);
  const loadCore = clientCpu === null ? null : cpuTicks(clientCpu);
  const server = cpuOf(serverPids);
  const load = cpuOf(ownLoadPids);
  const started = performance.now();
  await sleep(ms);
  const seconds = (performance.now() - started) / 1000;
  return {
    server: busyShare(serverCore, cpuTicks(serverCpu)) - (cpuOf(serverPids) - server) / seconds,
    load:
      loadCore && clientCpu !== null
        ? busyShare(loadCore, cpuTicks(clientCpu)) - (cpuOf(ownLoadPids) - load) / seconds
        : 0,
  };
}

/** Other processes may take this much of a core during a step before it is measured again. */
const disturbance = 0.25;

/** Other processes took more than `disturbance` of either core while the step published. */
const disturbed = (p: SweepPoint) =>
  p.serverCoreBusy - p.serverOwnCpu > disturbance || p.clientCpu - p.loadSideCpu > disturbance;

/** What a step runs on: the system's servers, the load client holding the subscribers, and the publisher. */
type Rig = { system: System; servers: Servers; client: Child; publisher: Child };

/**
 * One measured step: publish at `rate` for `seconds` to `subscribers` clients. The machine may be
 * shared: the step waits (up to `quietWaitSeconds`) until other processes use less than 10 % of either
 * core, and is measured again (up to `attempts` in all) when they took more than a quarter of a core
 * during it.
 */
async function step(
  rig: Rig,
  subscribers: number,
  rate: number,
  seconds: number,
  repeatable = true,
): Promise<SweepPoint> {
  const { servers, client, publisher } = rig;
  const serverPids = servers.children.map((c) => c.pid);
  let point: SweepPoint | null = null;
  let waited = 0;
  for (let attempt = 1; attempt <= (repeatable ? config.attempts : 1); attempt++) {
    const waitStarted = performance.now();
    for (;;) {
      const foreign = await foreignShares(serverPids, loadPids(client, publisher), 500);
      if (
        (foreign.server < 0.1 && foreign.load < 0.1) ||
        performance.now() - waitStarted > config.quietWaitSeconds * 1000
      )
        break;
    }
    waited += (performance.now() - waitStarted) / 1000;
    point = {
      ...(await measureStep(rig, subscribers, rate, seconds)),
      attempts: attempt,
    };
    if (!disturbed(point)) break;
  }
  return { ...(point as SweepPoint), quietWaitSeconds: waited };
}

async function measureStep(rig: Rig, subscribers: number, rate: number, seconds: number): Promise<SweepPoint> {
  const { system, servers, client, publisher } = rig;
  await client.ask({ type: "reset" }, "reset");
  const ownLoad = loadPids(client, publisher);
  const cpuBefore = servers.children.reduce((sum, c) => sum + cpuSeconds(c.pid), 0);
  const loadBefore = cpuOf(ownLoad);
  // The load side's core (client, publisher and, when the run started it, Redis are pinned to it):
  // if it is busy, the load, not the server, is the limit.
  const loadCoreBefore = clientCpu === null ? null : cpuTicks(clientCpu);
  const serverCoreBefore = cpuTicks(serverCpu);
  const started = performance.now();
  const published = await publishAt(publisher, system, rate, seconds);
  const loadCoreAfter = clientCpu === null ? null : cpuTicks(clientCpu);
  const serverCoreAfter = cpuTicks(serverCpu);
  const serverDuringPublish = servers.children.reduce((sum, c) => sum + cpuSeconds(c.pid), 0) - cpuBefore;
  const publishSeconds = (performance.now() - started) / 1000;
  const loadOwn = (cpuOf(ownLoad) - loadBefore) / publishSeconds;
  // Let stragglers arrive: a saturated server shows up as missing deliveries and a long tail.
  const expected = published.count * subscribers;
  for (let waited = 0; waited < 2_000; waited += 100) {
    const partial = await client.ask<ClientReport>({ type: "report" }, "report");
    if (partial.received >= expected) break;
    await sleep(100);
  }
  const report = await client.ask<ClientReport>({ type: "report" }, "report");
  const elapsed = (performance.now() - started) / 1000;
  const cpu = servers.children.reduce((sum, c) => sum + cpuSeconds(c.pid), 0) - cpuBefore;
  return {
    offered: rate * subscribers,
    broadcasts: published.count,
    achieved: report.received / Math.max(1, expected),
    deliveriesPerSecond: report.received / Math.max(seconds, 0.001),
    ...deliveryFigures(report),
    cpuMicrosPerDelivery: report.received ? (cpu * 1e6) / report.received : Number.NaN,
    serverCpuShare: cpu / elapsed,
    clientCpu: loadCoreBefore && loadCoreAfter ? busyShare(loadCoreBefore, loadCoreAfter) : report.cpu,
    loadSideCpu: loadOwn,
    serverCoreBusy: busyShare(serverCoreBefore, serverCoreAfter),
    serverOwnCpu: serverDuringPublish / publishSeconds,
    loadClientMicrosPerDelivery: report.received ? report.cpuMicros / report.received : Number.NaN,
    publisherLagMs: published.maxLagMs,
    attempts: 1,
    quietWaitSeconds: 0,
  };
}

/** Every reading client received every broadcast of the step, none twice, and nothing else arrived. */
const complete = (p: SweepPoint, clients: number) =>
  p.readingClients === clients &&
  p.minPerClient === p.broadcasts &&
  p.maxPerClient === p.broadcasts &&
  p.malformed === 0 &&
  p.unexpected === 0;
const passes = (p: SweepPoint) => p.achieved >= 0.99 && p.p99 <= 250 && p.malformed === 0 && p.unexpected === 0;
const trustworthy = (p: SweepPoint) => p.clientCpu < 0.95 && p.publisherLagMs < 100;

async function withLoad<T>(run: (client: Child, publisher: Child) => Promise<T>): Promise<T> {
  const client = startChild("load-client.ts", baseEnv, clientCpu);
  const publisher = startChild("publisher.ts", baseEnv, clientCpu);
  try {
    await Promise.all([waitFor(client, "ready"), waitFor(publisher, "ready")]);
    return await run(client, publisher);
  } finally {
    await Promise.all([client.stop(), publisher.stop()]);
  }
}

/** Part 1 of a round: connecting, memory per connection, the largest size's check, and the sweep. */
function scale(system: System, round: number): Promise<RoundResult> {
  const result: RoundResult = {
    system,
    round,
    connect: [],
    memory: [],
    sweep: [],
    saturation: 0,
    limitedBy: "server",
    half: null,
    crossInstance: null,
    slow: null,
    fanout10k: null,
  };
  return withLoad(async (client, publisher) => {
    const servers = await startServers(system, 1);
    const rig = (): Rig => ({ system, servers, client, publisher });
    try {
      const server = servers.children[0] as Child;
      const idle = await memory(server);
      let total = 0;
      for (const target of config.connectSteps) {
        const connected = await connectClients(client, system, servers, target - total, total);
        result.connect.push({
          clients: target,
          added: target - total,
          failed: connected.failed,
          seconds: connected.ms / 1000,
        });
        total = target;
        await sleep(300);
        const used = await memory(server);
        result.memory.push({
          clients: target,
          heapPerConnection: (used.heapUsed - idle.heapUsed) / target,
          rssPerConnection: (used.rss - idle.rss) / target,
          afterBroadcast: null,
        });
      }
      const lastMemory = result.memory.at(-1);
      if (lastMemory) {
        const check = await step(rig(), largestSize, Math.max(1, Math.round(20_000 / largestSize)), 1);
        result.fanout10k = {
          clients: largestSize,
          achieved: check.achieved,
          p99: check.p99,
          broadcasts: check.broadcasts,
          minPerClient: check.minPerClient,
          maxPerClient: check.maxPerClient,
          readingClients: check.readingClients,
          everyClientEveryBroadcast: complete(check, largestSize),
        };
        await sleep(300);
        const used = await memory(server);
        lastMemory.afterBroadcast = {
          heapPerConnection: (used.heapUsed - idle.heapUsed) / largestSize,
          rssPerConnection: (used.rss - idle.rss) / largestSize,
        };
      }

      // The fan-out sweep with a fixed set of subscribers, raising the offered rate until it breaks.
      await client.ask({ type: "disconnect", keep: config.subscribers }, "disconnected");
      await sleep(500);
      // Warm-up (not recorded): JIT, connection buffers and caches settle for every system alike.
      await step(rig(), config.subscribers, config.startRate, 1);
      let rate = config.startRate;
      for (let i = 0; i < config.maxSteps; i++) {
        const point = await step(rig(), config.subscribers, rate, config.stepSeconds);
        result.sweep.push(point);
        // A failing or load-limited step while other processes took a share of a core (after the
        // repeats): the machine, not the server or the load tools, set the limit.
        if ((!trustworthy(point) || !passes(point)) && disturbed(point)) {
          result.limitedBy = "other processes";
          break;
        }
        if (!trustworthy(point)) {
          result.limitedBy = point.clientCpu < 0.95 ? "publisher" : "load client";
          break;
        }
        if (!passes(point)) break;
        result.saturation = point.offered;
        rate = Math.round(rate * 1.5);
      }
      await client.ask({ type: "disconnect", keep: 0 }, "disconnected");
    } finally {
      await stopServers(servers);
    }
    return result;
  });
}

/**
 * Part 2 of a round, on fresh servers: p50/p99 and CPU per delivery at half of this round's raw
 * saturation, one instance against two, and slow consumers.
 */
function latency(result: RoundResult, rawSaturation: number): Promise<void> {
  const { system } = result;
  // Raw's saturation in this round; if raw's sweep passed no step, the sweep's first rate (the
  // report shows the load each half-load step offered).
  const reference = rawSaturation > 0 ? rawSaturation : config.startRate * config.subscribers;
  return withLoad(async (client, publisher) => {
    let servers = await startServers(system, 1);
    // Read at each step: the servers change between the parts of this function.
    const rig = (): Rig => ({ system, servers, client, publisher });
    try {
      await connectClients(client, system, servers, config.subscribers);
      await sleep(300);
      await step(rig(), config.subscribers, config.startRate, 1);
      result.half = await step(rig(), config.subscribers, reference / 2 / config.subscribers, config.stepSeconds);

      // Two instances sharing Redis against one, at the same modest rate.
      const modestRate = Math.max(10, Math.round((reference * 0.2) / config.subscribers));
      const single = await step(rig(), config.subscribers, modestRate, config.twoSeconds);
      await client.ask({ type: "disconnect", keep: 0 }, "disconnected");
      await stopServers(servers);
      servers = await startServers(system, 2);
      await connectClients(client, system, servers, config.subscribers);
      await sleep(300);
      const two = await step(rig(), config.subscribers, modestRate, config.twoSeconds);
      result.crossInstance = {
        rate: modestRate * config.subscribers,
        singleP50: single.p50,
        twoP50: two.p50,
        singleP99: single.p99,
        twoP99: two.p99,
      };
      await client.ask({ type: "disconnect", keep: 0 }, "disconnected");
      await stopServers(servers);

      // 1 % slow consumers: does the server's memory stay bounded?
      servers = await startServers(system, 1);
      const slowServer = servers.children[0] as Child;
      await connectClients(client, system, servers, config.subscribers);
      await sleep(300);
      const before = rssBytes(slowServer.pid);
      await client.ask({ type: "slow", fraction: 0.01 }, "slowed");
      const slowPoint = await step(rig(), config.subscribers, modestRate * 2, config.slowSeconds, false);
      const after = rssBytes(slowServer.pid);
      result.slow = { rssGrowth: after - before, healthyAchieved: slowPoint.achieved / 0.99, p99: slowPoint.p99 };
      await client.ask({ type: "disconnect", keep: 0 }, "disconnected");
    } finally {
      await stopServers(servers);
    }
  });
}

// An interrupted run still drops its database and stops its Redis (children are killed on exit).
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void Promise.allSettled([services.cleanup(), redis.stop()]).then(() => process.exit(130));
  });
}
const results: RoundResult[] = [];
const orders: RoundOrder[] = [];
const began = Date.now();
try {
  for (let round = 1; round <= config.rounds; round++) {
    // Each part of each round runs the systems in an order of its own, drawn from the seed.
    const order: RoundOrder = { round, scale: shuffled(systems), latency: shuffled(systems) };
    orders.push(order);
    const byRound = new Map<System, RoundResult>();
    for (const system of order.scale) {
      console.log(`round ${round}: ${system}, connections and sweep…`);
      const result = await scale(system, round);
      byRound.set(system, result);
      console.log(`  saturation ${Math.round(result.saturation)} deliveries/s (${result.limitedBy})`);
    }
    const rawSaturation = byRound.get("raw")?.saturation ?? 0;
    for (const system of order.latency) {
      console.log(`round ${round}: ${system}, latency, two instances, slow consumers…`);
      const result = byRound.get(system) as RoundResult;
      await latency(result, rawSaturation);
      console.log(
        `  half-load p99 ${result.half?.p99.toFixed(1)} ms, ${result.half?.cpuMicrosPerDelivery.toFixed(2)} µs/delivery`,
      );
    }
    for (const system of systems) results.push(byRound.get(system) as RoundResult);
  }
} finally {
  await services.cleanup();
  await redis.stop();
}
const meta = {
  quick,
  minutes: (Date.now() - began) / 60_000,
  pinned,
  serverCpu,
  clientCpu,
  redis: { own: redis.own, pinnedCpu: redis.pinnedCpu, version: redis.version },
  seed,
  orders,
  users: userCount,
  versions: installedVersions(),
  config,
  payloadBytes,
};
const markdown = writeReport(results, { ...meta, svgPath: out ? out.replace(/\.md$/, "-latency.svg") : null });
if (out) {
  writeFileSync(out, markdown);
  writeFileSync(out.replace(/\.md$/, ".json"), `${JSON.stringify({ meta, results }, null, 2)}\n`);
  console.log(`wrote ${out}`);
} else console.log(markdown);
process.exit(0);
