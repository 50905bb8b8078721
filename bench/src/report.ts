import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { basename } from "node:path";
import { median } from "@plauder/runtime/stats";
import { type System, systemNames, systems } from "./protocol";

export type SweepPoint = {
  offered: number;
  achieved: number;
  deliveriesPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  cpuMicrosPerDelivery: number;
  serverCpuShare: number;
  clientCpu: number;
  publisherLagMs: number;
};

export type RoundResult = {
  system: System;
  round: number;
  connect: Array<{ clients: number; added: number; failed: number; seconds: number }>;
  memory: Array<{
    clients: number;
    heapPerConnection: number;
    rssPerConnection: number;
    afterBroadcast: { heapPerConnection: number; rssPerConnection: number } | null;
  }>;
  fanout10k: { clients: number; achieved: number; p99: number } | null;
  sweep: SweepPoint[];
  saturation: number;
  limitedBy: "server" | "load client" | "publisher";
  half: SweepPoint | null;
  crossInstance: { rate: number; singleP50: number; twoP50: number; singleP99: number; twoP99: number } | null;
  slow: { rssGrowth: number; healthyAchieved: number; p99: number } | null;
};

type Meta = {
  quick: boolean;
  minutes: number;
  pinned: boolean;
  config: Record<string, unknown>;
  svgPath: string | null;
};

/** The median of the finite values (a round that did not measure a figure leaves NaN). */
const finiteMedian = (values: number[]) => median(values.filter(Number.isFinite));

function stat(values: number[], digits = 1, unit = ""): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return "–";
  const fmt = (v: number) => (Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : v.toFixed(digits));
  const m = median(finite);
  if (finite.length === 1) return `${fmt(m)}${unit}`;
  return `${fmt(m)}${unit} (${fmt(Math.min(...finite))}–${fmt(Math.max(...finite))})`;
}

function latencySvg(results: RoundResult[]): string {
  const width = 720;
  const height = 360;
  const left = 60;
  const bottom = 40;
  const colors: Record<System, string> = { raw: "#64748b", socketio: "#d97706", plauder: "#0f766e" };
  const points = results.flatMap((r) => r.sweep.filter((p) => p.p99 > 0));
  const xs = points.map((p) => p.offered);
  const ys = points.map((p) => p.p99);
  const [xMin, xMax] = [Math.min(...xs) / 1.25, Math.max(...xs) * 1.25];
  const [yMin, yMax] = [Math.max(0.1, Math.min(...ys) / 1.5), Math.max(...ys) * 1.5];
  const x = (v: number) =>
    left + ((Math.log10(v) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * (width - left - 20);
  const y = (v: number) =>
    height -
    bottom -
    ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (height - bottom - 20);
  const lines = results
    .filter((r) => r.sweep.length > 0)
    .map((r) => {
      const path = r.sweep.map((p) => `${x(p.offered).toFixed(1)},${y(Math.max(p.p99, yMin)).toFixed(1)}`).join(" ");
      return `<polyline fill="none" stroke="${colors[r.system]}" stroke-width="2" opacity="0.8" points="${path}"/>`;
    });
  // 1-2-5 ticks within the data's range.
  const ticks = (low: number, high: number) =>
    [-1, 0, 1, 2, 3, 4, 5, 6].flatMap((e) => [1, 2, 5].map((m) => m * 10 ** e)).filter((v) => v >= low && v <= high);
  const xTicks = ticks(xMin, xMax);
  const yTicks = ticks(yMin, yMax);
  const legend = systems.map(
    (s, i) =>
      `<rect x="${left + 10}" y="${20 + i * 18}" width="12" height="3" fill="${colors[s]}"/><text x="${left + 28}" y="${25 + i * 18}" font-size="12">${systemNames[s]}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" font-family="sans-serif" role="img" aria-label="p99 latency against offered deliveries per second">
<title>p99 latency against offered load</title>
<rect width="${width}" height="${height}" fill="#fff"/>
${xTicks.map((v) => `<line x1="${x(v)}" x2="${x(v)}" y1="20" y2="${height - bottom}" stroke="#eee"/><text x="${x(v)}" y="${height - bottom + 16}" font-size="11" text-anchor="middle">${v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : v}</text>`).join("\n")}
${yTicks.map((v) => `<line x1="${left}" x2="${width - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${left - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v} ms</text>`).join("\n")}
<text x="${(width + left) / 2}" y="${height - 6}" font-size="12" text-anchor="middle">offered deliveries per second (log)</text>
<text x="14" y="${(height - bottom) / 2}" font-size="12" transform="rotate(-90 14 ${(height - bottom) / 2})" text-anchor="middle">p99 latency (log)</text>
${lines.join("\n")}
${legend.join("\n")}
</svg>
`;
}

/** Renders the results as markdown (and writes the latency plot next to it). */
export function writeReport(results: RoundResult[], meta: Meta): string {
  const of = (system: System) => results.filter((r) => r.system === system);
  const col = (pick: (r: RoundResult) => number | undefined | null, digits = 1, unit = "") =>
    systems.map((s) =>
      stat(
        of(s).map((r) => pick(r) ?? Number.NaN),
        digits,
        unit,
      ),
    );
  const largest = (r: RoundResult) => r.memory.at(-1);
  const rows: Array<[string, string[]]> = [
    ...(results[0]?.connect ?? []).map(
      (c, i) =>
        [`connect ${c.clients.toLocaleString("en-US")} clients (s)`, col((r) => r.connect[i]?.seconds, 2)] as [
          string,
          string[],
        ],
    ),
    ["failed connections", col((r) => r.connect.reduce((sum, c) => sum + c.failed, 0), 0)],
    ["heap per idle connection (KB)", col((r) => (largest(r)?.heapPerConnection ?? Number.NaN) / 1024, 2)],
    ["RSS per idle connection (KB)", col((r) => (largest(r)?.rssPerConnection ?? Number.NaN) / 1024, 2)],
    [
      "heap per connection after a broadcast (KB)",
      col((r) => (largest(r)?.afterBroadcast?.heapPerConnection ?? Number.NaN) / 1024, 2),
    ],
    [
      "RSS per connection after a broadcast (KB)",
      col((r) => (largest(r)?.afterBroadcast?.rssPerConnection ?? Number.NaN) / 1024, 2),
    ],
    ["deliveries received at the largest size (%)", col((r) => (r.fanout10k?.achieved ?? Number.NaN) * 100, 2)],
    ["saturation (deliveries/s)", col((r) => r.saturation, 0)],
    ["p50 at half of raw's saturation (ms)", col((r) => r.half?.p50, 2)],
    ["p99 at half of raw's saturation (ms)", col((r) => r.half?.p99, 2)],
    ["server CPU per delivery (µs)", col((r) => r.half?.cpuMicrosPerDelivery, 2)],
    ["p50, one instance (ms)", col((r) => r.crossInstance?.singleP50, 2)],
    ["p50, two instances (ms)", col((r) => r.crossInstance?.twoP50, 2)],
    [
      "cross-instance added p50 (ms)",
      col((r) => (r.crossInstance ? r.crossInstance.twoP50 - r.crossInstance.singleP50 : Number.NaN), 2),
    ],
    ["RSS growth with 1 % slow consumers (MB)", col((r) => (r.slow?.rssGrowth ?? Number.NaN) / 1_048_576, 1)],
  ];
  const table = [
    `| metric | ${systems.map((s) => systemNames[s]).join(" | ")} |`,
    `|---|${systems.map(() => "---").join("|")}|`,
    ...rows.map(([name, cells]) => `| ${name} | ${cells.join(" | ")} |`),
  ];

  const m = (system: System, pick: (r: RoundResult) => number | undefined | null) =>
    finiteMedian(of(system).map((r) => pick(r) ?? Number.NaN));
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : Number.NaN);
  const sat = (s: System) => m(s, (r) => r.saturation);
  const cpu = (s: System) => m(s, (r) => r.half?.cpuMicrosPerDelivery);
  const p99 = (s: System) => m(s, (r) => r.half?.p99);
  const heap = (s: System) => m(s, (r) => largest(r)?.heapPerConnection);
  const rss = (s: System) => m(s, (r) => largest(r)?.rssPerConnection);
  const afterHeap = (s: System) => m(s, (r) => largest(r)?.afterBroadcast?.heapPerConnection);
  const cross = m("plauder", (r) =>
    r.crossInstance ? r.crossInstance.twoP50 - r.crossInstance.singleP50 : Number.NaN,
  );
  const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
  const goals: Array<[string, string, boolean]> = [
    ["saturation ≥ 0.9× raw", `${fmt(ratio(sat("plauder"), sat("raw")))}×`, ratio(sat("plauder"), sat("raw")) >= 0.9],
    [
      "saturation ≥ 1.1× Socket.IO",
      `${fmt(ratio(sat("plauder"), sat("socketio")))}×`,
      ratio(sat("plauder"), sat("socketio")) >= 1.1,
    ],
    [
      "CPU per delivery ≤ 1.15× raw",
      `${fmt(ratio(cpu("plauder"), cpu("raw")))}×`,
      ratio(cpu("plauder"), cpu("raw")) <= 1.15,
    ],
    [
      "p99 at half raw's saturation ≤ 1.2× raw",
      `${fmt(ratio(p99("plauder"), p99("raw")))}×`,
      ratio(p99("plauder"), p99("raw")) <= 1.2,
    ],
    ["cross-instance adds ≤ 2 ms at p50", `${fmt(cross)} ms`, cross <= 2],
    ["heap per connection ≤ 6 KB", `${fmt(heap("plauder") / 1024)} KB`, heap("plauder") / 1024 <= 6],
    ["RSS per connection ≤ 12 KB", `${fmt(rss("plauder") / 1024)} KB`, rss("plauder") / 1024 <= 12],
    [
      "RSS per connection ≤ 0.5× Socket.IO",
      `${fmt(ratio(rss("plauder"), rss("socketio")))}×`,
      ratio(rss("plauder"), rss("socketio")) <= 0.5,
    ],
    [
      "heap unchanged (±10 %) after a broadcast",
      `${fmt((ratio(afterHeap("plauder"), heap("plauder")) - 1) * 100, 1)} %`,
      Math.abs(ratio(afterHeap("plauder"), heap("plauder")) - 1) <= 0.1,
    ],
    [
      "largest size: zero lost deliveries",
      `${fmt(
        m("plauder", (r) => (r.fanout10k?.achieved ?? Number.NaN) * 100),
        3,
      )} %`,
      m("plauder", (r) => r.fanout10k?.achieved) >= 1,
    ],
  ];

  const limited = results
    .filter((r) => r.limitedBy !== "server")
    .map((r) => `${systemNames[r.system]} round ${r.round}: ${r.limitedBy}`);
  if (meta.svgPath) writeFileSync(meta.svgPath, latencySvg(results));
  return `# Benchmarks

Fan-out of one broadcast stream to many WebSocket subscribers: Plauder against what people would
otherwise pick, measured side by side in one run. ${meta.quick ? "**This is a quick smoke run: sizes and durations are too small for conclusions.**" : ""}

## Results
Median over ${meta.config.rounds} interleaved round(s), (min–max) in brackets.

${table.join("\n")}

## Goals
| goal | Plauder | met |
|---|---|---|
${goals.map(([goal, value, met]) => `| ${goal} | ${value} | ${met ? "yes" : "**no**"} |`).join("\n")}

${limited.length ? `Sweeps that stopped before the server saturated (the load client or publisher reached its limit first): ${limited.join("; ")}. Their saturation figure is a lower bound.` : "Every sweep stopped because the server saturated (or p99 passed 250 ms), not the load client or publisher."}

${meta.svgPath ? `![p99 latency against offered load](${basename(meta.svgPath)})` : ""}

How the figures changed as Plauder was optimised: [benchmarks-history.md](benchmarks-history.md).
The raw numbers of this run are in [benchmarks.json](benchmarks.json).

## How it was measured
- Command: \`npm run bench${meta.quick ? " -- --quick" : ""}\` (${meta.minutes.toFixed(1)} minutes). Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, Redis and Postgres on the same machine. ${meta.pinned ? "Servers pinned to CPU 0, load client and publisher to CPU 1 (taskset)." : "No CPU pinning (taskset missing)."}
- Versions: ws 8.23.0, ioredis 6.0.0, socket.io 4.8.4, @socket.io/redis-adapter 8.3.0, @trpc/server 11.19.0.
- Systems: (a) raw \`ws\` + one ioredis subscriber per process, \`JSON.stringify\` once per message, \`send\` in a loop;
  (b) Socket.IO 4 with \`@socket.io/redis-adapter\`, WebSocket transport only, per-message deflate off;
  (c) Plauder's realtime server (token auth, origin check, limits, tRPC protocol, the broadcast feed) with
  real \`realtime.broadcast\` subscriptions. Deflate is off everywhere and the load client fails a
  connection that negotiates it. Each server is bundled with esbuild and runs on plain node, as the
  app's production server does.
- One load client (raw \`ws\`, speaking each protocol minimally) and one publisher, the same for all.
  Payload text: ${200} bytes. Publishing is open-loop at a fixed rate; latency = receive time − scheduled
  send time, every delivery recorded in an HDR histogram. The publisher injects where each system's
  publish meets Redis (Plauder: its store append, then PUBLISH).
- Scenarios: connect ${(meta.config.connectSteps as number[]).join(" / ")} clients; memory per connection after GC
  (heap and RSS) and again after one broadcast; fan-out sweep with ${meta.config.subscribers} subscribers, rate × 1.5 per
  ${meta.config.stepSeconds} s step until fewer than 99 % of deliveries arrive or p99 > 250 ms (saturation = the last rate
  that passed); p50/p99 and server CPU µs per delivery at half of raw's saturation; two instances sharing
  Redis against one at a modest rate; 1 % of subscribers that stop reading, with the server's RSS growth.
- Each sweep starts with an unrecorded 1 s warm-up. A step where the load side's core (load client,
  publisher and Redis share CPU 1) was more than 95 % busy, or the publisher fell 100 ms behind,
  ends the sweep and is marked: the saturation figure is then a lower bound set by the load, not the server.
`;
}
