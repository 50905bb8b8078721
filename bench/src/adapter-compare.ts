/**
 * `npm run bench:protocol`: Plauder's own tRPC WebSocket protocol module against tRPC's stock
 * `applyWSSHandler`, both serving the same router, credentials and broadcast feed, measured side by
 * side in one run (interleaved rounds). Writes docs/protocol-benchmark.md.
 *
 * What it measures, per server:
 * - heap and RSS per connection after GC, each connection authenticated with a token and holding one
 *   `realtime.broadcast` subscription;
 * - sequential round trips on one authenticated socket: a query, a malformed frame, a `realtime.ping`
 *   subscription (started, data, stopped), and starting then stopping a broadcast subscription.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { median } from "@plauder/runtime/stats";
import { freePort } from "@plauder/runtime/testing";
import WebSocket from "ws";
import { bundleServer } from "../../apps/web/scripts/build-server";
import { type Child, startChild, waitFor } from "./processes";
import { prepareServices } from "./services";

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, out: { type: "string" } } });
const quick = values.quick ?? false;
const benchSrc = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(benchSrc, "../..");
const out = values.out ?? (quick ? undefined : join(repoRoot, "docs/protocol-benchmark.md"));
const config = quick
  ? { rounds: 1, connections: 300, roundTrips: 500 }
  : { rounds: 3, connections: 2_000, roundTrips: 5_000 };

const servers = {
  stock: { label: "tRPC stock adapter (`applyWSSHandler`)", source: "trpc-stock" },
  plauder: { label: "Plauder's protocol module", source: "plauder" },
} as const;
type ServerName = keyof typeof servers;

type Figures = {
  heapPerConnection: number;
  rssPerConnection: number;
  query: number;
  malformed: number;
  pingSubscription: number;
  subscribeStop: number;
};

const serverCpu = 0;
const clientCpu = cpus().length > 1 ? 1 : null;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const services = await prepareServices();
const bundles = Object.fromEntries(
  await Promise.all(
    (Object.keys(servers) as ServerName[]).map(async (name) => {
      const bundle = join(benchSrc, "../dist/servers", `${servers[name].source}.mjs`);
      await bundleServer(join(benchSrc, "servers", `${servers[name].source}.ts`), bundle);
      return [name, bundle] as const;
    }),
  ),
) as Record<ServerName, string>;

// The orchestrator is the load: it stays off the server's core.
if (clientCpu !== null) {
  try {
    const { execFileSync } = await import("node:child_process");
    execFileSync("taskset", ["-cp", String(clientCpu), String(process.pid)], { stdio: "ignore" });
  } catch {
    // Without taskset both share the cores; the figures are then noisier, not wrong.
  }
}

async function start(name: ServerName): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const env = {
    ...process.env,
    ...services.env,
    LOG_LEVEL: "error",
    PORT: String(port),
    INSTANCE_ID: `protocol-${name}`,
    APP_URL: `http://127.0.0.1:${port}`,
  };
  const child = startChild(bundles[name], env, serverCpu, ["--expose-gc", "--require", join(benchSrc, "gc-hook.cjs")]);
  await waitFor(child, "ready");
  return { child, url: `ws://127.0.0.1:${port}/api/trpc-ws?connectionParams=1` };
}

const memory = (child: Child) => child.ask<{ rss: number; heapUsed: number }>({ type: "measure" }, "memory");

/** One socket speaking the protocol by hand: frames in, a waiter per expected frame count. */
class Wire {
  private waiting: { count: number; resolve: () => void } | null = null;
  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const text = data.toString();
      if (text === "PING") return void socket.send("PONG");
      const waiting = this.waiting;
      if (waiting && --waiting.count === 0) {
        this.waiting = null;
        waiting.resolve();
      }
    });
  }

  static async open(url: string): Promise<Wire> {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    socket.send(JSON.stringify({ method: "connectionParams", data: { token: services.token } }));
    return new Wire(socket);
  }

  /** Sends frames and resolves once `answers` frames have come back. */
  exchange(frames: string[], answers: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiting = { count: answers, resolve };
      for (const frame of frames) this.socket.send(frame);
    });
  }
}

const call = (id: number, method: string, path: string, input?: unknown) =>
  JSON.stringify({ id, method, params: { path, input } });

/** Microseconds per round trip, after a warm-up of a tenth as many. */
async function perRoundTrip(run: (i: number) => Promise<void>): Promise<number> {
  for (let i = 0; i < config.roundTrips / 10; i++) await run(i);
  const started = performance.now();
  for (let i = 0; i < config.roundTrips; i++) await run(i);
  return ((performance.now() - started) * 1000) / config.roundTrips;
}

async function measure(name: ServerName): Promise<Figures> {
  const { child, url } = await start(name);
  try {
    const idle = await memory(child);
    const wires: Wire[] = [];
    for (let i = 0; i < config.connections; i++) {
      const wire = await Wire.open(url);
      await wire.exchange([call(1, "subscription", "realtime.broadcast", {})], 1);
      wires.push(wire);
    }
    await sleep(300);
    const held = await memory(child);
    for (const wire of wires) wire.socket.terminate();
    await sleep(500);

    const wire = await Wire.open(url);
    let id = 10;
    const query = await perRoundTrip(() => wire.exchange([call(++id, "query", "realtime.session")], 1));
    const malformed = await perRoundTrip(() => wire.exchange(["{not json"], 1));
    const pingSubscription = await perRoundTrip(() =>
      wire.exchange([call(++id, "subscription", "realtime.ping", { clientTime: 1 })], 3),
    );
    const subscribeStop = await perRoundTrip(async () => {
      const subscription = ++id;
      await wire.exchange([call(subscription, "subscription", "realtime.broadcast", {})], 1);
      await wire.exchange([JSON.stringify({ id: subscription, method: "subscription.stop" })], 1);
    });
    wire.socket.terminate();
    return {
      heapPerConnection: (held.heapUsed - idle.heapUsed) / config.connections,
      rssPerConnection: (held.rss - idle.rss) / config.connections,
      query,
      malformed,
      pingSubscription,
      subscribeStop,
    };
  } finally {
    await child.stop();
  }
}

const runs: Record<ServerName, Figures[]> = { stock: [], plauder: [] };
const startedAt = performance.now();
for (let round = 1; round <= config.rounds; round++) {
  for (const name of Object.keys(servers) as ServerName[]) {
    console.log(`round ${round}: ${name}…`);
    const figures = await measure(name);
    runs[name].push(figures);
    console.log(
      `  ${JSON.stringify(figures, (_key, value) => (typeof value === "number" ? Number(value.toFixed(1)) : value))}`,
    );
  }
}
await services.cleanup();
const minutes = (performance.now() - startedAt) / 60_000;

const cell = (name: ServerName, key: keyof Figures, scale: number, digits: number) => {
  const values = runs[name].map((figures) => figures[key] / scale);
  return `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
};
const ratio = (key: keyof Figures) =>
  `${(median(runs.plauder.map((f) => f[key])) / median(runs.stock.map((f) => f[key]))).toFixed(2)}×`;
const rows: Array<[string, keyof Figures, number, number]> = [
  ["heap per subscribed connection (KB)", "heapPerConnection", 1024, 2],
  ["RSS per subscribed connection (KB)", "rssPerConnection", 1024, 2],
  ["query round trip (µs)", "query", 1, 1],
  ["malformed frame, answered PARSE_ERROR (µs)", "malformed", 1, 1],
  ["`realtime.ping` subscription: started, data, stopped (µs)", "pingSubscription", 1, 1],
  ["start a broadcast subscription, then stop it (µs)", "subscribeStop", 1, 1],
];
const report = `# Protocol benchmark

Plauder speaks tRPC's WebSocket protocol with its own module (\`packages/api/src/server/socket-protocol.ts\`;
why: [architecture.md](architecture.md)). This compares it with tRPC's stock \`applyWSSHandler\` serving
the same router, the same token authentication and the same broadcast feed, measured side by side in
one run.

## Results
Median over ${config.rounds} interleaved round(s), (min–max) in brackets; Plauder ÷ stock in the last column.

| metric | ${servers.stock.label} | ${servers.plauder.label} | ratio |
|---|---|---|---|
${rows.map(([label, key, scale, digits]) => `| ${label} | ${cell("stock", key, scale, digits)} | ${cell("plauder", key, scale, digits)} | ${ratio(key)} |`).join("\n")}

## How it was measured
- Command: \`npm run bench:protocol\` (${minutes.toFixed(1)} minutes${quick ? ", quick mode" : ""}). Node ${process.version}, ${cpus().length} cores; the server pinned to CPU ${serverCpu}${clientCpu === null ? "" : `, the load to CPU ${clientCpu}`}.
- Both servers are bundled with esbuild and run on plain node, with Redis and Postgres for the feed and a
  heartbeat at production settings.
- Memory: ${config.connections} connections, each sending its token as connectionParams and starting one
  \`realtime.broadcast\` subscription (waiting for \`started\`); heap and RSS after two full collections,
  minus the same before the connections.
- Round trips: ${config.roundTrips} in a row on one authenticated socket after a warm-up of ${config.roundTrips / 10},
  each waiting for its answer frames before the next. They measure the per-message path of each server,
  not throughput under load.
`;
if (out) {
  writeFileSync(out, report);
  console.log(`wrote ${out}`);
} else {
  console.log(report);
}
process.exit(0);
