import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { basename } from "node:path";
import { median } from "@plauder/runtime/stats";
import { type DeliveryFigures, type System, systemNames, systems } from "./protocol";
import { describeVersions } from "./versions";

/** One step of a sweep; its delivery figures are the load client's over the step. */
export type SweepPoint = DeliveryFigures & {
  offered: number;
  /** Broadcasts published in the step. */
  broadcasts: number;
  achieved: number;
  deliveriesPerSecond: number;
  cpuMicrosPerDelivery: number;
  serverCpuShare: number;
  /** How busy the load side's core was (0..1), whoever used it. */
  clientCpu: number;
  /** Share of a core the load tools (client, publisher, the run's own Redis) used while publishing. */
  loadSideCpu: number;
  /** How busy the servers' core was (0..1), whoever used it, and the share the servers used (while publishing). */
  serverCoreBusy: number;
  serverOwnCpu: number;
  loadClientMicrosPerDelivery: number;
  publisherLagMs: number;
  /** How often the step was measured (again when other processes disturbed it). */
  attempts: number;
  /** Seconds spent waiting for other processes to quieten before the step. */
  quietWaitSeconds: number;
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
  fanout10k: {
    clients: number;
    achieved: number;
    p99: number;
    broadcasts: number;
    minPerClient: number;
    maxPerClient: number;
    readingClients: number;
    everyClientEveryBroadcast: boolean;
  } | null;
  sweep: SweepPoint[];
  saturation: number;
  limitedBy: "server" | "load client" | "publisher" | "other processes";
  half: SweepPoint | null;
  crossInstance: { rate: number; singleP50: number; twoP50: number; singleP99: number; twoP99: number } | null;
  slow: { rssGrowth: number; healthyAchieved: number; p99: number } | null;
};

/** The order the systems ran in, in each part of a round. */
export type RoundOrder = { round: number; scale: System[]; latency: System[] };

type Meta = {
  quick: boolean;
  minutes: number;
  pinned: boolean;
  serverCpu: number;
  clientCpu: number | null;
  redis: { own: boolean; pinnedCpu: number | null; version: string };
  seed: number;
  orders: RoundOrder[];
  users: number;
  versions: Array<{ name: string; version: string; usedBy: string }>;
  config: {
    rounds: number;
    connectSteps: number[];
    subscribers: number;
    stepSeconds: number;
    connectionsPerUser: number;
    timedEvery: number;
    quietWaitSeconds: number;
    attempts: number;
  };
  payloadBytes: number;
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

const n = (v: number) => v.toLocaleString("en-US");
const loadBound = (r: RoundResult) => r.limitedBy !== "server";

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
  /** CPU per delivery at half load, as deliveries per second one fully busy core would carry. */
  const capacity = (r: RoundResult) => 1e6 / (r.half?.cpuMicrosPerDelivery ?? Number.NaN);
  // The highest offered rate every system's every sweep passed: CPU per delivery there compares
  // the systems at a higher load than half of raw's saturation.
  const common = Math.min(...results.map((r) => r.saturation));
  const saturationCells = systems.map((s) => {
    const rounds = of(s);
    const bound = rounds.filter(loadBound).length;
    const cell = stat(
      rounds.map((r) => r.saturation),
      0,
    );
    if (bound === 0) return cell;
    const reasons = [...new Set(rounds.filter(loadBound).map((r) => r.limitedBy))].join(", ");
    return `≥ ${cell}, stopped by the ${reasons === "other processes" ? "machine's other processes" : `load (${reasons})`} in ${bound} of ${rounds.length}`;
  });
  const rows: Array<[string, string[]]> = [
    ...(results[0]?.connect ?? []).map(
      (c, i) => [`connect ${n(c.clients)} clients (s)`, col((r) => r.connect[i]?.seconds, 2)] as [string, string[]],
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
    [
      "rounds in which every client received every broadcast once, at the largest size",
      systems.map((s) => `${of(s).filter((r) => r.fanout10k?.everyClientEveryBroadcast).length} of ${of(s).length}`),
    ],
    ["saturation, measured (deliveries/s)", saturationCells],
    ["server capacity from CPU, 10⁶ ÷ CPU µs per delivery (deliveries/s)", col(capacity, 0)],
    ["offered load at half of raw's saturation (deliveries/s)", col((r) => r.half?.offered, 0)],
    ["p50 at half of raw's saturation (ms)", col((r) => r.half?.p50, 2)],
    ["p99 at half of raw's saturation (ms)", col((r) => r.half?.p99, 2)],
    ["server CPU per delivery at half of raw's saturation (µs)", col((r) => r.half?.cpuMicrosPerDelivery, 2)],
    ["load client CPU per delivery at the same load (µs)", col((r) => r.half?.loadClientMicrosPerDelivery, 2)],
    ...(common > 0
      ? ([
          [
            `server CPU per delivery in the sweep at ${n(common)} deliveries/s, the highest rate every sweep passed (µs)`,
            col((r) => r.sweep.find((p) => p.offered === common)?.cpuMicrosPerDelivery, 2),
          ],
        ] as Array<[string, string[]]>)
      : []),
    ["p50, one instance (ms)", col((r) => r.crossInstance?.singleP50, 2)],
    ["p50, two instances (ms)", col((r) => r.crossInstance?.twoP50, 2)],
    [
      "cross-instance added p50 (ms)",
      col((r) => (r.crossInstance ? r.crossInstance.twoP50 - r.crossInstance.singleP50 : Number.NaN), 2),
    ],
    ["RSS growth with 1 % slow consumers (MB)", col((r) => (r.slow?.rssGrowth ?? Number.NaN) / 1_048_576, 1)],
    [
      "CPU other processes took from the servers' core in a sweep step (max, % of the core)",
      col((r) => Math.max(0, ...r.sweep.map((p) => p.serverCoreBusy - p.serverOwnCpu)) * 100, 0),
    ],
    [
      "CPU other processes took from the load core in a sweep step (max, % of the core)",
      col((r) => Math.max(0, ...r.sweep.map((p) => p.clientCpu - p.loadSideCpu)) * 100, 0),
    ],
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
  /** A system's saturation is a lower bound when any of its sweeps stopped at the load's limit. */
  const satBound = (s: System) => of(s).some(loadBound);
  const cpu = (s: System) => m(s, (r) => r.half?.cpuMicrosPerDelivery);
  const p99 = (s: System) => m(s, (r) => r.half?.p99);
  const heap = (s: System) => m(s, (r) => largest(r)?.heapPerConnection);
  const rss = (s: System) => m(s, (r) => largest(r)?.rssPerConnection);
  const afterHeap = (s: System) => m(s, (r) => largest(r)?.afterBroadcast?.heapPerConnection);
  const cross = m("plauder", (r) =>
    r.crossInstance ? r.crossInstance.twoP50 - r.crossInstance.singleP50 : Number.NaN,
  );
  const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
  type Verdict = "yes" | "no" | "not measured" | "not measured (load-bound)" | "not measured (other processes)";
  /**
   * Plauder's saturation against another's, at least `goal` times it. A load-bound sweep gives only a
   * lower bound: Plauder's bound can still prove the goal met, the other's bound can still prove it
   * missed; anything else was not measured. The capacity ratio from CPU per delivery stands beside it.
   */
  const saturationGoal = (other: System, goal: number): [string, Verdict] => {
    const r = ratio(sat("plauder"), sat(other));
    const capacityRatio = ratio(cpu(other), cpu("plauder"));
    const plauderBound = satBound("plauder");
    const otherBound = satBound(other);
    const measured = `${plauderBound ? "≥ " : ""}${otherBound ? "≤ " : ""}${fmt(r)}×`;
    const beside = `; from CPU per delivery: ${fmt(capacityRatio)}×`;
    let verdict: Verdict;
    if (!plauderBound && !otherBound) verdict = r >= goal ? "yes" : "no";
    else if (plauderBound && !otherBound && r >= goal) verdict = "yes";
    else if (!plauderBound && otherBound && r < goal) verdict = "no";
    else {
      // Load-bound when a load tool set a limit; "other processes" when only the machine's other work did.
      const byLoad = [...of("plauder"), ...of(other)].some(
        (r) => r.limitedBy === "load client" || r.limitedBy === "publisher",
      );
      verdict = byLoad ? "not measured (load-bound)" : "not measured (other processes)";
    }
    const value = verdict.startsWith("not measured") ? `${verdict}${beside}` : measured + beside;
    return [value, verdict];
  };
  /** A goal on figures that were not measured (NaN) is not measured, not missed. */
  const yes = (met: boolean, ...figures: number[]): Verdict =>
    figures.some((v) => !Number.isFinite(v)) ? "not measured" : met ? "yes" : "no";
  const everyRoundComplete = of("plauder").every((r) => r.fanout10k?.everyClientEveryBroadcast);
  const goals: Array<[string, string, Verdict]> = [
    ["saturation ≥ 0.9× raw", ...saturationGoal("raw", 0.9)],
    ["saturation ≥ 1.1× Socket.IO", ...saturationGoal("socketio", 1.1)],
    [
      "lobby fan-out CPU per delivery ≤ 1.15× raw ws",
      `${fmt(ratio(cpu("plauder"), cpu("raw")))}× (${fmt(cpu("plauder"))} µs against ${fmt(cpu("raw"))} µs)`,
      yes(ratio(cpu("plauder"), cpu("raw")) <= 1.15, ratio(cpu("plauder"), cpu("raw"))),
    ],
    [
      "p99 at half raw's saturation ≤ 1.2× raw",
      `${fmt(ratio(p99("plauder"), p99("raw")))}×`,
      yes(ratio(p99("plauder"), p99("raw")) <= 1.2, ratio(p99("plauder"), p99("raw"))),
    ],
    ["cross-instance adds ≤ 2 ms at p50", `${fmt(cross)} ms`, yes(cross <= 2, cross)],
    [
      "heap per connection ≤ 6 KB",
      `${fmt(heap("plauder") / 1024)} KB`,
      yes(heap("plauder") / 1024 <= 6, heap("plauder")),
    ],
    [
      "RSS per connection ≤ 12 KB",
      `${fmt(rss("plauder") / 1024)} KB`,
      yes(rss("plauder") / 1024 <= 12, rss("plauder")),
    ],
    [
      "RSS per connection ≤ 0.5× Socket.IO",
      `${fmt(ratio(rss("plauder"), rss("socketio")))}×`,
      yes(ratio(rss("plauder"), rss("socketio")) <= 0.5, ratio(rss("plauder"), rss("socketio"))),
    ],
    [
      "heap unchanged (±10 %) after a broadcast",
      `${fmt((ratio(afterHeap("plauder"), heap("plauder")) - 1) * 100, 1)} %`,
      yes(
        Math.abs(ratio(afterHeap("plauder"), heap("plauder")) - 1) <= 0.1,
        ratio(afterHeap("plauder"), heap("plauder")),
      ),
    ],
    [
      "largest size: zero lost deliveries, every client every broadcast",
      `${fmt(
        m("plauder", (r) => (r.fanout10k?.achieved ?? Number.NaN) * 100),
        3,
      )} %, every client in ${of("plauder").filter((r) => r.fanout10k?.everyClientEveryBroadcast).length} of ${of("plauder").length} rounds`,
      yes(
        m("plauder", (r) => r.fanout10k?.achieved) >= 1 && everyRoundComplete,
        m("plauder", (r) => r.fanout10k?.achieved),
      ),
    ],
  ];

  const limited = results.filter(loadBound).map((r) => `${systemNames[r.system]} round ${r.round}: ${r.limitedBy}`);
  const serverBound = results.filter((r) => !loadBound(r)).map((r) => `${systemNames[r.system]} round ${r.round}`);
  const allSteps = results.flatMap((r) => [
    ...r.sweep.map((p) => ({ r, p, what: `sweep step at ${n(p.offered)}/s` })),
    ...(r.half ? [{ r, p: r.half, what: "half-load step" }] : []),
  ]);
  const repeated = allSteps.filter(({ p }) => p.attempts > 1).length;
  const stillDisturbed = allSteps
    .filter(({ p }) => p.serverCoreBusy - p.serverOwnCpu > 0.25 || p.clientCpu - p.loadSideCpu > 0.25)
    .map(
      ({ r, p, what }) =>
        `${systemNames[r.system]} round ${r.round}, ${what} (${p.attempts} attempt${p.attempts === 1 ? "" : "s"})`,
    );
  const quietWait = allSteps.reduce((sum, { p }) => sum + (p.quietWaitSeconds ?? 0), 0);
  const { config } = meta;
  const largestSize = config.connectSteps.at(-1) ?? 0;
  const versionList = describeVersions(meta.versions);
  const orderList = meta.orders
    .map(
      (o) =>
        `round ${o.round}: ${o.scale.map((s) => systemNames[s]).join(" → ")}, then ${o.latency.map((s) => systemNames[s]).join(" → ")}`,
    )
    .join("; ");
  const pinning = meta.pinned
    ? `Servers pinned to CPU ${meta.serverCpu}${meta.clientCpu === null ? "" : `, load client, publisher and the orchestrating process to CPU ${meta.clientCpu}`} (taskset).`
    : "No CPU pinning (taskset missing).";
  const redisLine = meta.redis.own
    ? `Redis ${meta.redis.version}: a redis-server the run starts for itself (no persistence)${meta.redis.pinnedCpu === null ? ", not pinned" : `, pinned to CPU ${meta.redis.pinnedCpu} with the load (taskset)`}.`
    : `Redis ${meta.redis.version}: the machine's shared Redis, which the run did not start and does not pin (it runs on either core).`;
  if (meta.svgPath) writeFileSync(meta.svgPath, latencySvg(results));
  return `# Benchmarks

Fan-out of one broadcast stream to many WebSocket subscribers: Plauder against what people would
otherwise pick, measured side by side in one run. ${meta.quick ? "**This is a quick smoke run: sizes and durations are too small for conclusions.**" : ""}

## Results
Median over ${config.rounds} round(s), the systems in a random order in each (below), (min–max) in brackets.

${table.join("\n")}

## Goals
| goal | Plauder | met |
|---|---|---|
${goals.map(([goal, value, met]) => `| ${goal} | ${value} | ${met === "no" ? "**no**" : met} |`).join("\n")}

${
  limited.length
    ? `Sweeps that stopped before the server saturated (the load side reached its limit first): ${limited.join("; ")}. Their saturation figure is a lower bound, marked ≥; a goal that compares two such bounds is not measured.`
    : "Every sweep stopped because the server saturated (or p99 passed 250 ms), not the load client or publisher."
}${serverBound.length && limited.length ? ` Sweeps that ended at the server: ${serverBound.join("; ")}.` : ""}
Other processes on the machine: ${repeated} of ${allSteps.length} sweep and half-load steps were measured again because
other processes took more than a quarter of a core during them; ${stillDisturbed.length ? `still disturbed after the last attempt: ${stillDisturbed.join("; ")}` : "none was still disturbed after the last attempt"}. The run waited ${quietWait.toFixed(0)} s in all for the machine to quieten before steps.

The capacity row divides one core-second by the server CPU one delivery cost at half of raw's
saturation: what one fully busy core would carry at that cost. It is an extrapolation that assumes
the cost per delivery stays flat up to a full core, which it does not quite (it changes with load
differently for each system: compare the CPU rows at half load and in the sweep); the measured
saturation is what a sweep reached with p99 within 250 ms.

${meta.svgPath ? `![p99 latency against offered load](${basename(meta.svgPath)})` : ""}

How the figures changed as Plauder was optimised: [benchmarks-history.md](benchmarks-history.md).
The raw numbers of this run are in [benchmarks.json](benchmarks.json).

## How it was measured
- Command: \`npm run bench${meta.quick ? " -- --quick" : ""}\` (${meta.minutes.toFixed(1)} minutes). Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. ${pinning}
  ${redisLine} Postgres (Plauder's broadcast store): the machine's shared server, not pinned. Anything
  else running on the machine shares both cores.
- Versions, read from the installed packages at run time: ${versionList}.
- Systems: (a) raw \`ws\` + one ioredis subscriber per process; each message is serialised and encoded
  once into a Buffer and that same Buffer is passed to every client's \`send\` as a text frame;
  (b) Socket.IO 4 with \`@socket.io/redis-adapter\`, WebSocket transport only, per-message deflate off;
  (c) Plauder's realtime server (token auth, origin check, limits, tRPC protocol, the broadcast feed) with
  real \`realtime.broadcast\` subscriptions. Deflate is off everywhere: the load client does not offer
  it and fails a connection whose server answers with any extension. Each server is bundled with esbuild and runs on plain node, as the
  app's production server does.
- Users: ${n(meta.users)} bench users, each with an access token of its own; connection n signs in as
  user ⌊n ÷ ${config.connectionsPerUser}⌋, so ${config.connectionsPerUser} connections per user at ${n(largestSize)} connections (the sweep's
  ${n(config.subscribers)} subscribers are ${Math.ceil(config.subscribers / config.connectionsPerUser)} users). Plauder runs with MAX_CONNECTIONS_PER_USER=${config.connectionsPerUser}, exactly that many;
  MAX_CONNECTIONS and the per-address ceilings are raised to 20,000 because every load connection
  comes from 127.0.0.1. The raw and Socket.IO servers do not authenticate; their clients send no token.
- One load client and one publisher, the same for all. The load client is a minimal WebSocket client
  of its own over node:net (handshake and framing only), speaking each protocol just enough to
  subscribe and answer heartbeats. It counts a delivery from the frame header (a text frame at least
  as long as the ${meta.payloadBytes}-byte broadcast text) without reading or parsing the payload; every
  ${config.timedEvery}th connection of each server also reads the scheduled send time from each of its deliveries, so
  latency (receive time − scheduled send time, in an HDR histogram) comes from a tenth of the clients,
  spread evenly over the connection order, and every broadcast they receive. Each connection counts
  its own deliveries: a step checks the total and that every client received every broadcast exactly
  once; a delivery-sized frame without a send time or any frame that is neither a delivery nor a
  heartbeat fails the step.
- Publishing is open-loop at a fixed rate. The publisher injects where each system's publish meets
  Redis (Plauder: its store append, then PUBLISH).
- Run order: in every round, part 1 (connect, memory, the largest size's check, the sweep) runs the
  three systems in a random order, then part 2 (half load, two instances, slow consumers) in another
  random order, on fresh servers. Seed ${meta.seed} (\`npm run bench -- --seed ${meta.seed}\` repeats the order): ${orderList}.
- Scenarios: connect ${config.connectSteps.map(n).join(" / ")} clients; memory per connection after GC
  (heap and RSS) and again after one broadcast, whose deliveries are checked per client; fan-out sweep
  with ${n(config.subscribers)} subscribers, rate × 1.5 per ${config.stepSeconds} s step until fewer than 99 % of deliveries arrive or
  p99 > 250 ms (saturation = the last rate that passed); then, on a fresh server with a 1 s warm-up,
  p50/p99 and server CPU µs per delivery at half of the same round's raw saturation; two instances
  sharing Redis against one at a modest rate; 1 % of subscribers that stop reading, with the server's RSS growth.
- The machine may be shared. Before each measured step the run waits (up to ${config.quietWaitSeconds} s) until processes
  other than its own use less than 10 % of either core, and a step during which they took more than
  a quarter of a core is measured again, up to ${config.attempts} attempt(s) in all (the slow-consumer step is
  measured once). Postgres counts as another process here.
- Each sweep starts with an unrecorded 1 s warm-up. A step where the load side's core (CPU ${meta.clientCpu ?? "–"}: load
  client, publisher${meta.redis.pinnedCpu === meta.clientCpu && meta.redis.pinnedCpu !== null ? " and Redis" : ""}) was more than 95 % busy, or the publisher fell 100 ms behind,
  ends the sweep and is marked: the saturation figure is then a lower bound set by the load, not the server
  (marked "other processes" when more than a quarter of that core went to processes other than the load
  tools). The last two rows of the results say how much of each core other processes took in a sweep step.
`;
}
