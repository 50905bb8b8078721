import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort } from "@plauder/runtime/testing";
import { bundleServer } from "../../apps/web/scripts/build-server";
import { type Child, cpuSeconds, cpuTicks, pinned, rssBytes, startChild, waitFor } from "./processes";
import type { ClientReport, PublishReport, System } from "./protocol";
import { systems } from "./protocol";
import { type RoundResult, type SweepPoint, writeReport } from "./report";
import { prepareServices } from "./services";

const benchSrc = dirname(fileURLToPath(import.meta.url));
const serverFiles: Record<System, string> = { raw: "raw-ws", socketio: "socketio", plauder: "plauder" };

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, out: { type: "string" } } });
const quick = values.quick ?? false;
const repoRoot = join(benchSrc, "../..");
const out = values.out ?? (quick ? undefined : join(repoRoot, "docs/benchmarks.md"));

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
    };
const payloadBytes = 200;
const serverCpu = 0;
const clientCpu = cpus().length > 1 ? 1 : null;

const services = await prepareServices();
const baseEnv: NodeJS.ProcessEnv = {
  ...process.env,
  ...services.env,
  LOG_LEVEL: "error",
  BENCH_PREFIX: services.prefix,
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

const memory = async (child: Child) => child.ask<{ rss: number; heapUsed: number }>({ type: "measure" }, "memory");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function publishAt(publisher: Child, system: System, rate: number, seconds: number): Promise<PublishReport> {
  return publisher.ask<PublishReport>({ type: "publish", system, rate, seconds, bytes: payloadBytes }, "published");
}

/** One measured step: publish at `rate` for `seconds` to `subscribers` clients. */
async function step(
  system: System,
  servers: Servers,
  client: Child,
  publisher: Child,
  subscribers: number,
  rate: number,
  seconds: number,
): Promise<SweepPoint> {
  await client.ask({ type: "reset" }, "reset");
  const cpuBefore = servers.children.reduce((sum, c) => sum + cpuSeconds(c.pid), 0);
  // The load side's core (client, publisher and Redis share it): if it is busy, the load, not the
  // server, is the limit.
  const loadCoreBefore = clientCpu === null ? null : cpuTicks(clientCpu);
  const started = performance.now();
  const published = await publishAt(publisher, system, rate, seconds);
  const loadCoreAfter = clientCpu === null ? null : cpuTicks(clientCpu);
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
    achieved: report.received / Math.max(1, expected),
    deliveriesPerSecond: report.received / Math.max(seconds, 0.001),
    p50: report.p50,
    p99: report.p99,
    max: report.max,
    cpuMicrosPerDelivery: report.received ? (cpu * 1e6) / report.received : Number.NaN,
    serverCpuShare: cpu / elapsed,
    clientCpu:
      loadCoreBefore && loadCoreAfter
        ? (loadCoreAfter.busy - loadCoreBefore.busy) / Math.max(1, loadCoreAfter.total - loadCoreBefore.total)
        : report.cpu,
    publisherLagMs: published.maxLagMs,
  };
}

const passes = (p: SweepPoint) => p.achieved >= 0.99 && p.p99 <= 250;
const trustworthy = (p: SweepPoint) => p.clientCpu < 0.95 && p.publisherLagMs < 100;

async function runSystem(system: System, round: number, rawSaturation: number | null): Promise<RoundResult> {
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
  const client = startChild("load-client.ts", baseEnv, clientCpu);
  const publisher = startChild("publisher.ts", baseEnv, clientCpu);
  await Promise.all([waitFor(client, "ready"), waitFor(publisher, "ready")]);
  try {
    // 1–2: connect, memory per connection after GC, and again after one broadcast.
    let servers = await startServers(system, 1);
    const server = servers.children[0] as Child;
    const idle = await memory(server);
    let total = 0;
    for (const target of config.connectSteps) {
      const connected = await client.ask<{ ok: number; failed: number; ms: number }>(
        { type: "connect", system, urls: servers.urls, count: target - total, token: services.token },
        "connected",
      );
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
    const largest = config.connectSteps.at(-1) as number;
    const lastMemory = result.memory.at(-1);
    if (lastMemory) {
      const check = await step(
        system,
        servers,
        client,
        publisher,
        largest,
        Math.max(1, Math.round(20_000 / largest)),
        1,
      );
      result.fanout10k = { clients: largest, achieved: check.achieved, p99: check.p99 };
      await sleep(300);
      const used = await memory(server);
      lastMemory.afterBroadcast = {
        heapPerConnection: (used.heapUsed - idle.heapUsed) / largest,
        rssPerConnection: (used.rss - idle.rss) / largest,
      };
    }

    // 3: fan-out sweep with a fixed set of subscribers, raising the offered rate until it breaks.
    await client.ask({ type: "disconnect", keep: config.subscribers }, "disconnected");
    await sleep(500);
    // Warm-up (not recorded): JIT, connection buffers and caches settle for every system alike.
    await step(system, servers, client, publisher, config.subscribers, config.startRate, 1);
    let rate = config.startRate;
    for (let i = 0; i < config.maxSteps; i++) {
      const point = await step(system, servers, client, publisher, config.subscribers, rate, config.stepSeconds);
      result.sweep.push(point);
      if (!trustworthy(point)) {
        result.limitedBy = point.clientCpu >= 0.95 ? "load client" : "publisher";
        break;
      }
      if (!passes(point)) break;
      result.saturation = point.offered;
      rate = Math.round(rate * 1.5);
    }

    // p50/p99 and CPU per delivery at half of raw's saturation (raw runs first in every round).
    const halfLoad = (rawSaturation ?? result.saturation) / 2;
    if (halfLoad > 0) {
      result.half = await step(
        system,
        servers,
        client,
        publisher,
        config.subscribers,
        halfLoad / config.subscribers,
        config.stepSeconds,
      );
    }

    // 4: two instances sharing Redis against one, at the same modest rate.
    const modestRate = Math.max(10, Math.round(((rawSaturation ?? result.saturation) * 0.2) / config.subscribers));
    const single = await step(system, servers, client, publisher, config.subscribers, modestRate, config.twoSeconds);
    await client.ask({ type: "disconnect", keep: 0 }, "disconnected");
    await Promise.all(servers.children.map((c) => c.stop()));
    servers = await startServers(system, 2);
    await client.ask(
      { type: "connect", system, urls: servers.urls, count: config.subscribers, token: services.token },
      "connected",
    );
    await sleep(300);
    const two = await step(system, servers, client, publisher, config.subscribers, modestRate, config.twoSeconds);
    result.crossInstance = {
      rate: modestRate * config.subscribers,
      singleP50: single.p50,
      twoP50: two.p50,
      singleP99: single.p99,
      twoP99: two.p99,
    };
    await client.ask({ type: "disconnect", keep: 0 }, "disconnected");
    await Promise.all(servers.children.map((c) => c.stop()));

    // 5: 1 % slow consumers — does the server's memory stay bounded?
    servers = await startServers(system, 1);
    const slowServer = servers.children[0] as Child;
    await client.ask(
      { type: "connect", system, urls: servers.urls, count: config.subscribers, token: services.token },
      "connected",
    );
    await sleep(300);
    const before = rssBytes(slowServer.pid);
    await client.ask({ type: "slow", fraction: 0.01 }, "slowed");
    const slowPoint = await step(
      system,
      servers,
      client,
      publisher,
      config.subscribers,
      modestRate * 2,
      config.slowSeconds,
    );
    const after = rssBytes(slowServer.pid);
    result.slow = { rssGrowth: after - before, healthyAchieved: slowPoint.achieved / 0.99, p99: slowPoint.p99 };
    await client.ask({ type: "disconnect", keep: 0 }, "disconnected");
    await Promise.all(servers.children.map((c) => c.stop()));
  } finally {
    await Promise.all([client.stop(), publisher.stop()]);
  }
  return result;
}

process.on("SIGINT", () => process.exit(130));
const results: RoundResult[] = [];
const began = Date.now();
try {
  for (let round = 1; round <= config.rounds; round++) {
    let rawSaturation: number | null = null;
    for (const system of systems) {
      console.log(`round ${round}: ${system}…`);
      const result = await runSystem(system, round, rawSaturation);
      if (system === "raw") rawSaturation = result.saturation;
      results.push(result);
      console.log(
        `  saturation ${Math.round(result.saturation)} deliveries/s (${result.limitedBy}), half-load p99 ${result.half?.p99.toFixed(1)} ms, ${result.half?.cpuMicrosPerDelivery.toFixed(2)} µs/delivery`,
      );
    }
  }
} finally {
  await services.cleanup();
}
const markdown = writeReport(results, {
  quick,
  minutes: (Date.now() - began) / 60_000,
  pinned,
  config,
  svgPath: out ? out.replace(/\.md$/, "-latency.svg") : null,
});
if (out) {
  writeFileSync(out, markdown);
  writeFileSync(out.replace(/\.md$/, ".json"), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${out}`);
} else console.log(markdown);
process.exit(0);
