import type { HeapGrowth } from "./heap-summary";
import { type CpuWindow, disturbedAbove, otherCores } from "./machine";
import type { ProfileSummary } from "./profile-summary";

/** One publishing measurement: acknowledged publishes, ack latency, and who used the CPU meanwhile. */
export type Throughput = {
  label: string;
  perSecond: number;
  acks: number;
  errors: number;
  firstError: string | null;
  p50: number;
  p99: number;
  max: number;
  maxLagMs: number;
  unanswered: number;
  cpu: CpuWindow;
  loadBound: boolean;
  loadBoundWhy: string | null;
  /** Cores used by other work on the machine during the window, and whether that disturbed it. */
  otherCores: number;
  disturbed: boolean;
  depth?: number;
  connections?: number;
  offered?: number;
  /** Round trips of a PING to Redis and a `select 1` to Postgres, sent every 20 ms during the window (ms). */
  probe?: { redisP50: number; redisP99: number; postgresP50: number; postgresP99: number };
};

export type OrderCheck = {
  checked: number;
  gaps: number;
  duplicates: number;
  outOfOrder: number;
  firstOffset: number;
  last: number;
};

export type CompareRun = Throughput & {
  system: "socketio" | "plauder-durable" | "plauder-ephemeral";
  round: number;
  subscriberConnections: number;
  subscriptions: number;
  connectSeconds: number;
  deliveriesPerSecond: number;
  deliveriesPerPublish: number;
  deliveryP50: number;
  deliveryP99: number;
};

type MemoryUsage = { rss: number; heapUsed: number; external: number; arrayBuffers: number };

export type BenchResults = {
  quick: boolean;
  startedAt: string;
  minutes: number;
  machine: { cores: number; cpuModel: string; memoryGiB: number; node: string };
  versions: Record<string, string>;
  config: Record<string, unknown>;
  durable: Throughput[];
  durableHalf: Throughput | null;
  ephemeral: Throughput[];
  ephemeralHalf: Throughput | null;
  order: (Throughput & { committed: number; subscribers: OrderCheck[]; inOrder: boolean; connections: number }) | null;
  fanout: {
    published: number;
    numsub: number;
    numpatAll: number;
    receivedBySubscriber: number;
    busMessagesA: number;
    busMessagesB: number;
    channelsListenedA: number;
    channelsListenedB: number;
    heardByB: boolean;
  } | null;
  memory: {
    connections: number;
    users: number;
    subscriptions: number;
    channels: number;
    connectSeconds: number;
    subscribeSeconds: number;
    empty: MemoryUsage;
    idle: MemoryUsage;
    subscribed: MemoryUsage;
    heapPerConnection: number;
    heapPerSubscription: number;
    rssPerSubscription: number;
    externalPerSubscription: number;
    breakdown?: { connections: number; subscriptions: number; growth: HeapGrowth };
    /** Readings one after the other once everyone was subscribed; `subscribed` is the highest. */
    series?: { atSeconds: number; heapUsed: number; rss: number }[];
    /** Per subscription at the lowest reading of the series. */
    heapPerSubscriptionLow?: number;
    /** Redis calls per second (whole server) while the subscriptions sat idle during the series. */
    redisWhileIdle?: Record<string, number>;
  } | null;
  compare: CompareRun[];
  profiles: { kind: string; perSecond: number; cpu: CpuWindow; summaries: ProfileSummary[] }[];
  failures: string[];
};

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => `${n.toFixed(1)} ms`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
const cores = (n: number) => n.toFixed(2);

type Status = "met" | "not met" | "not measured (load-bound)" | "not measured (disturbed)" | "not measured";

/** Why a figure may not be the servers' own: the load at its limit, or other work on the machine. */
function caveatOf(
  t: { loadBound: boolean; loadBoundWhy: string | null; disturbed: boolean; otherCores: number } | null,
) {
  if (!t) return null;
  if (t.loadBound) return { kind: "load-bound" as const, why: `load-bound: ${t.loadBoundWhy}` };
  if (t.disturbed) {
    return { kind: "disturbed" as const, why: `disturbed: other work used ${t.otherCores.toFixed(2)} cores` };
  }
  return null;
}
type Caveat = ReturnType<typeof caveatOf>;

/**
 * Goal status. A figure that the load (or other work on the machine) may have capped counts as
 * measured only when it meets the goal anyway (it is then a bound); otherwise it is not measured.
 */
function status(
  value: number | null,
  goal: number,
  higherIsBetter: boolean,
  caveat: Caveat,
  ceiling: number | null = null,
): Status {
  if (value === null || Number.isNaN(value)) return "not measured";
  const meets = higherIsBetter ? value >= goal : value <= goal;
  if (meets) return "met";
  // A cap cannot explain a miss that even the capping work's cores could not have closed.
  if (caveat && !(ceiling !== null && ceiling < goal)) {
    return caveat.kind === "load-bound" ? "not measured (load-bound)" : "not measured (disturbed)";
  }
  return "not met";
}

const sum = (values: number[]) => values.reduce((total, v) => total + v, 0);
/** CPU the system under test (both servers, Redis, Postgres) spent per acknowledged publish, in µs. */
const systemMicros = (t: Throughput) => ((sum(t.cpu.servers) + t.cpu.redis + t.cpu.postgres) / t.perSecond) * 1e6;
const serverMicros = (t: Throughput) => (sum(t.cpu.servers) / t.perSecond) * 1e6;

/**
 * The most a throughput figure could have been had the cores taken by other work and by the load
 * processes gone to the servers, Redis and Postgres at the CPU cost per publish measured: a ceiling
 * used to tell a miss the caps explain from one they cannot.
 */
function ceilingOf(t: Throughput | null): number | null {
  if (!t || t.perSecond <= 0) return null;
  const system = sum(t.cpu.servers) + t.cpu.redis + t.cpu.postgres;
  if (system <= 0) return null;
  return (t.perSecond * (system + t.otherCores + sum(t.cpu.load))) / system;
}

function ceilingNote(t: Throughput | null, goal: number): string | null {
  const ceiling = ceilingOf(t);
  if (!t || ceiling === null || t.perSecond >= goal || !caveatOf(t)) return null;
  return `even with the cores of the other work and of the load at its cost of ${Math.round(systemMicros(t))} µs of CPU per publish it would reach about ${int(ceiling)}/s`;
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function cpuCells(cpu: CpuWindow): string {
  const load = cpu.load.reduce((sum, v) => sum + v, 0);
  const other = otherCores(cpu);
  const waiting = cpu.serversRunqueue
    ? `${cpu.serversRunqueue.map(cores).join(" + ")} / ${cores(cpu.redisRunqueue)} / ${cores(cpu.postgresRunqueue)}`
    : "–";
  return `${cpu.servers.map(cores).join(" + ")} | ${cores(load)} (max ${cores(Math.max(0, ...cpu.load))}) | ${cores(cpu.redis)} | ${cores(cpu.postgres)} | ${cores(other)} | ${(cpu.machineBusy * 100).toFixed(0)} % | ${waiting}`;
}

const cpuHeader =
  "servers (cores) | load (cores) | Redis | Postgres | other | machine busy | waiting for a core: servers / Redis / Postgres";
const probeHeader = "Redis PING / Postgres `select 1` p50, p99";

function probeCells(t: Throughput): string {
  const p = t.probe;
  if (!p) return "–";
  return `${p.redisP50.toFixed(1)}, ${p.redisP99.toFixed(1)} / ${p.postgresP50.toFixed(1)}, ${p.postgresP99.toFixed(1)} ms`;
}

function throughputTable(rows: Throughput[]): string[] {
  const lines = [
    `| run | publishes/s | p50 | p99 | max | errors | server CPU per publish | ${cpuHeader} | ${probeHeader} | caveat |`,
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const t of rows) {
    lines.push(
      `| ${t.label} | ${int(t.perSecond)} | ${ms(t.p50)} | ${ms(t.p99)} | ${ms(t.max)} | ${t.errors} | ${Math.round(serverMicros(t))} µs | ${cpuCells(t.cpu)} | ${probeCells(t)} | ${caveatOf(t)?.why ?? "–"} |`,
    );
  }
  return lines;
}

function best(rows: Throughput[]): Throughput | null {
  return rows.reduce<Throughput | null>((top, t) => (top === null || t.perSecond > top.perSecond ? t : top), null);
}

/** The ratio goal: Plauder's median over Socket.IO's median; not measured if a cap could have decided the outcome. */
function ratioGoal(plauder: CompareRun[], socketio: CompareRun[], pick: (r: CompareRun) => number) {
  const ratio = median(plauder.map(pick)) / median(socketio.map(pick));
  const capped = (runs: CompareRun[]) => runs.map(caveatOf).find((c) => c !== null) ?? null;
  const plauderCap = capped(plauder);
  const socketioCap = capped(socketio);
  let result: Status;
  let why: string | null = null;
  if (Number.isNaN(ratio)) result = "not measured";
  else if (ratio >= 1 && socketioCap) {
    result = socketioCap.kind === "load-bound" ? "not measured (load-bound)" : "not measured (disturbed)";
    why = `Socket.IO ${socketioCap.why}`;
  } else if (ratio < 1 && plauderCap) {
    result = plauderCap.kind === "load-bound" ? "not measured (load-bound)" : "not measured (disturbed)";
    why = `Plauder ${plauderCap.why}`;
  } else result = ratio >= 1 ? "met" : "not met";
  return { ratio, result, why };
}

const areaShare = (summary: ProfileSummary | undefined, match: (area: string) => boolean) =>
  (summary?.byArea ?? []).filter((a) => match(a.area)).reduce((sum, a) => sum + a.share, 0);

function runqueue(t: Throughput): string {
  const waits = t.cpu.serversRunqueue;
  if (!waits) return "";
  const main = t.cpu.serversMainThread ?? t.cpu.servers;
  const idle = main.map((used, i) => Math.max(0, 1 - used - (waits[i] ?? 0)));
  return ` Over the window each server's main thread was on a core ${main.map((v) => `${(v * 100).toFixed(0)} %`).join(" / ")} of the time, ready but waiting for a free core ${waits.map((v) => `${(v * 100).toFixed(0)} %`).join(" / ")}, and idle (waiting for answers: clients, Redis, Postgres) the remaining ${idle.map((v) => `${(v * 100).toFixed(0)} %`).join(" / ")}; Redis's main thread waited for a core ${(t.cpu.redisRunqueue * 100).toFixed(0)} % of the window, Postgres's processes (all of them, other databases' included) ${cores(t.cpu.postgresRunqueue)} core-seconds per second.`;
}

/** What the numbers say about the bottlenecks, in sentences generated from this run's data. */
function findings(r: BenchResults): string[] {
  const out: string[] = ["## Findings", ""];
  for (const [name, rows] of [
    ["durable", r.durable],
    ["ephemeral", r.ephemeral],
  ] as const) {
    const top = best(rows);
    if (!top) continue;
    const probe = top.probe
      ? ` In the same window a Redis PING took ${top.probe.redisP50.toFixed(1)} ms at p50 and ${top.probe.redisP99.toFixed(1)} ms at p99, a Postgres \`select 1\` ${top.probe.postgresP50.toFixed(1)} / ${top.probe.postgresP99.toFixed(1)} ms.`
      : "";
    const goal = name === "durable" ? 5_000 : 50_000;
    const needed = (goal * serverMicros(top)) / 1e6;
    out.push(
      `- **${name} publishes across ${int(r.config.rooms as number)} rooms**: best ${int(top.perSecond)}/s with ${int((top.depth ?? 0) * (top.connections ?? 0))} publishes in flight, ack p50 ${ms(top.p50)}, the machine ${(top.cpu.machineBusy * 100).toFixed(0)} % busy (other work ${cores(top.otherCores)} cores). Per acknowledged publish the two servers spent ${Math.round(serverMicros(top))} µs of CPU, Redis ${Math.round((top.cpu.redis / top.perSecond) * 1e6)} µs and Postgres ${Math.round((top.cpu.postgres / top.perSecond) * 1e6)} µs; at that cost ${int(goal)}/s needs ${needed.toFixed(1)} cores for the servers alone, and the machine has ${r.machine.cores}.${runqueue(top)}${probe} ${
        name === "durable"
          ? "Beyond CPU, a durable publish waits for a Redis call (the per-person publish limit) and then for its batch's Postgres transaction, and each instance commits at most 2 batches at a time (DurableLog's maxConcurrentBatches), so acks queue behind commits whenever Postgres answers slowly."
          : "Beyond CPU, an ephemeral publish makes two Redis round trips one after the other: the per-person publish limit, then the append script (batched per room per tick; with publishes spread over many rooms a tick rarely holds two for the same room)."
      }`,
    );
  }
  const durableProfile = r.profiles.find((p) => p.kind === "durable")?.summaries[0];
  const ephemeralProfile = r.profiles.find((p) => p.kind === "ephemeral")?.summaries[0];
  if (durableProfile || ephemeralProfile) {
    const gcShare = (p?: ProfileSummary) => `${(areaShare(p, (a) => a === "garbage collector") * 100).toFixed(0)} %`;
    const writes = (p?: ProfileSummary) =>
      `${(areaShare(p, (a) => a === "native: writev" || a === "native: writeUtf8String") * 100).toFixed(0)} %`;
    const share = (p: ProfileSummary | undefined, name: string) =>
      `${(areaShare(p, (a) => a === name) * 100).toFixed(0)} %`;
    out.push(
      `- **Where the servers' CPU went** (profiles below): garbage collection ${gcShare(durableProfile)} of busy time under durable load and ${gcShare(ephemeralProfile)} under ephemeral; drizzle-orm ${share(durableProfile, "drizzle-orm")} under durable load (query building: the durable batch is one SQL statement over arrays, membership one query per person); @trpc/server ${share(durableProfile, "@trpc/server")} / ${share(ephemeralProfile, "@trpc/server")} (its \`_objectSpread2\` helper copying objects per call); ioredis ${share(durableProfile, "ioredis")} / ${share(ephemeralProfile, "ioredis")}; socket writes (\`writev\`, \`writeUtf8String\`) ${writes(durableProfile)} / ${writes(ephemeralProfile)}.`,
    );
  }
  if (r.memory) {
    const m = r.memory;
    const top = m.breakdown?.growth.slice(0, 5) ?? [];
    const idleRate = (name: string) => m.redisWhileIdle?.[name] ?? 0;
    const refreshes = idleRate("zadd") + idleRate("pexpire");
    const swings = m.heapPerSubscriptionLow !== undefined && m.heapPerSubscription > 2 * m.heapPerSubscriptionLow;
    out.push(
      `- **Memory**: ${kb(m.heapPerSubscription)} of heap per channel subscription at the highest reading (goal 1 KB)${
        m.heapPerSubscriptionLow !== undefined ? `, ${kb(m.heapPerSubscriptionLow)} at the lowest` : ""
      }. ${
        refreshes > 0 && (m.series?.length ?? 0) > 1
          ? `With nothing published, Redis ran ${int(idleRate("zadd"))} ZADD and ${int(idleRate("pexpire"))} PEXPIRE calls per second: channel presence refreshes its clients every PRESENCE_TTL_SECONDS / 3 (ChannelPresence.heartbeat), one ZADD of all of a channel's local clients and three PEXPIREs per channel, and sweeps each channel after it${
              swings ? "; the readings swing with the heartbeat and the collections after it" : ""
            }. `
          : ""
      }${
        top.length > 0
          ? `In the heap snapshots (${int(m.breakdown?.subscriptions ?? 0)} subscriptions), the kinds of object that grew most per subscription were ${top.map((g) => `\`${g.kind}\` (${Math.round(g.bytesPerSubscription)} B, ${g.countPerSubscription.toFixed(1)} per subscription)`).join(", ")}.`
          : ""
      }`,
    );
  }
  const socketio = r.compare.filter((c) => c.system === "socketio");
  if (socketio.length > 0) {
    out.push(
      `- **Rooms against Socket.IO**: per publish with its ${r.config.membersPerRoom as number} deliveries the two servers spent ${(
        ["socketio", "plauder-ephemeral", "plauder-durable"] as const
      )
        .map((system) => {
          const runs = r.compare.filter((c) => c.system === system);
          return `${Math.round(median(runs.map(serverMicros)))} µs (${system})`;
        })
        .join(
          ", ",
        )} of CPU (medians over the rounds), with all cores busy in every run: on this machine throughput follows CPU per publish, and Plauder's CPU per publish is ${(median(r.compare.filter((c) => c.system === "plauder-ephemeral").map(serverMicros)) / median(socketio.map(serverMicros))).toFixed(1)}× (ephemeral) and ${(median(r.compare.filter((c) => c.system === "plauder-durable").map(serverMicros)) / median(socketio.map(serverMicros))).toFixed(1)}× (durable) Socket.IO's. Socket.IO also acknowledges a publish after emitting it locally and handing it to Redis, without waiting for an answer from Redis or Postgres; Plauder's acks wait for Redis (both kinds) and Postgres (durable).${
        socketio.some((c) => c.loadBound)
          ? ` ${socketio.filter((c) => c.loadBound).length} of ${socketio.length} Socket.IO runs were load-bound (the load processes could not go faster on the shared cores), so its figures are lower bounds.`
          : ""
      }`,
    );
  }
  return out;
}

export function writeChannelsReport(r: BenchResults): string {
  const lines: string[] = [];
  const durableBest = best(r.durable);
  const ephemeralBest = best(r.ephemeral);
  const socketio = r.compare.filter((c) => c.system === "socketio");
  const durableRuns = r.compare.filter((c) => c.system === "plauder-durable");
  const ephemeralRuns = r.compare.filter((c) => c.system === "plauder-ephemeral");
  const rooms = r.config.rooms as number;
  const people = r.config.users as number;

  lines.push("# Channels benchmark", "");
  lines.push(
    `Plauder's channels API (v2) on two instances sharing Redis and Postgres, against rooms on Socket.IO 4 with its Redis adapter. ${
      r.quick ? "**Quick smoke run: small sizes and short windows; the figures are not the benchmark's.**" : ""
    }`,
    "",
    `Everything ran on one machine with ${r.machine.cores} cores (${r.machine.cpuModel}): both server instances, Redis, Postgres and the load processes share those cores, and other work on the machine ("other" in the tables) is not under the benchmark's control. Every measured window records who used the CPU. A figure is marked **load-bound** when a load process was at 90 % of a core or more, or when all cores were busy while the load processes held at least half a core: then the load, not the server, may have set it. It is marked **disturbed** when other work on the machine (builds and tests of other checkouts) used ${disturbedAbove} cores or more during the window; before each window the benchmark waits (within a limit) for the machine to be idle. A load-bound or disturbed figure that misses its goal is reported as *not measured*; one that meets it anyway is a bound and counts as met.`,
    "",
  );

  lines.push("## Goals", "", "| # | goal | measured | result |", "|---|---|---|---|");
  const goalRow = (n: string, goal: string, measured: string, result: Status, why?: string | null) =>
    lines.push(
      `| ${n} | ${goal} | ${measured}${why ? ` (${why})` : ""} | ${result === "met" ? "met" : `**${result}**`} |`,
    );
  goalRow(
    "1",
    `durable publishes acknowledged/s, cluster-wide, ${int(rooms)} rooms: ≥ 5,000/s`,
    durableBest ? `${int(durableBest.perSecond)}/s (${durableBest.label})` : "–",
    status(durableBest?.perSecond ?? null, 5_000, true, caveatOf(durableBest), ceilingOf(durableBest)),
    [caveatOf(durableBest)?.why, ceilingNote(durableBest, 5_000)].filter(Boolean).join("; ") || null,
  );
  goalRow(
    "1",
    "durable ack p99 at half that rate (open loop): ≤ 50 ms",
    r.durableHalf
      ? `p99 ${ms(r.durableHalf.p99)}, p50 ${ms(r.durableHalf.p50)} at ${int(r.durableHalf.offered ?? 0)}/s offered, ${int(r.durableHalf.perSecond)}/s acknowledged`
      : "–",
    status(r.durableHalf?.p99 ?? null, 50, false, caveatOf(r.durableHalf)),
    caveatOf(r.durableHalf)?.why,
  );
  goalRow(
    "2",
    "one room, durable, publishes/s with offsets 1..n in order at every subscriber: ≥ 1,000/s",
    r.order
      ? `${int(r.order.perSecond)}/s; ${int(r.order.committed)} committed, ${r.order.inOrder ? "all in order at both subscribers" : "ORDER VIOLATED"}`
      : "–",
    r.order && !r.order.inOrder
      ? "not met"
      : status(r.order?.perSecond ?? null, 1_000, true, caveatOf(r.order), ceilingOf(r.order)),
    [caveatOf(r.order)?.why, ceilingNote(r.order, 1_000)].filter(Boolean).join("; ") || null,
  );
  goalRow(
    "3",
    `ephemeral publications/s, cluster-wide, ${int(rooms)} rooms: ≥ 50,000/s`,
    ephemeralBest ? `${int(ephemeralBest.perSecond)}/s (${ephemeralBest.label})` : "–",
    status(ephemeralBest?.perSecond ?? null, 50_000, true, caveatOf(ephemeralBest), ceilingOf(ephemeralBest)),
    [caveatOf(ephemeralBest)?.why, ceilingNote(ephemeralBest, 50_000)].filter(Boolean).join("; ") || null,
  );
  if (r.fanout) {
    const f = r.fanout;
    goalRow(
      "4",
      "fan-out only where needed: the instance without subscribers receives 0 of the channel's messages",
      `PUBSUB NUMSUB = ${f.numsub} while publishing from B; B received ${f.busMessagesB} channel messages (A: ${f.busMessagesA}) for ${f.published} publications`,
      f.numsub === 1 && f.busMessagesB === 0 ? "met" : "not met",
    );
  } else goalRow("4", "fan-out only where needed", "–", "not measured");
  goalRow(
    "5",
    "heap per channel subscription beyond the connection's own: ≤ 1 KB",
    r.memory
      ? `${kb(r.memory.heapPerSubscription)} at the highest reading${r.memory.heapPerSubscriptionLow !== undefined ? `, ${kb(r.memory.heapPerSubscriptionLow)} at the lowest` : ""} (${int(r.memory.subscriptions)} subscriptions on ${int(r.memory.connections)} connections)`
      : "–",
    status(r.memory ? r.memory.heapPerSubscription : null, 1024, false, null),
  );
  for (const [name, runs] of [
    ["durable", durableRuns],
    ["ephemeral", ephemeralRuns],
  ] as const) {
    const pubs = ratioGoal(runs, socketio, (c) => c.perSecond);
    const dels = ratioGoal(runs, socketio, (c) => c.deliveriesPerSecond);
    goalRow(
      "6",
      `rooms, Plauder ${name} ÷ Socket.IO, publishes acknowledged/s: ≥ 1.0×`,
      `${pubs.ratio.toFixed(2)}× (${int(median(runs.map((c) => c.perSecond)))} vs ${int(median(socketio.map((c) => c.perSecond)))}/s)`,
      pubs.result,
      pubs.why,
    );
    goalRow(
      "6",
      `rooms, Plauder ${name} ÷ Socket.IO, deliveries/s: ≥ 1.0×`,
      `${dels.ratio.toFixed(2)}× (${int(median(runs.map((c) => c.deliveriesPerSecond)))} vs ${int(median(socketio.map((c) => c.deliveriesPerSecond)))}/s)`,
      dels.result,
      dels.why,
    );
  }
  lines.push(
    "",
    "Plauder durable commits every publication to Postgres (one transaction per batch) before it acknowledges it, and gives it an offset in its room; Socket.IO stores nothing, checks no membership, and orders nothing. Plauder ephemeral keeps a bounded history in Redis (one Lua script per room per tick) and also gives offsets. Both Plauder kinds check membership (cached) and the per-person publish limit (a Redis call) on every publish.",
    "",
  );

  if (r.failures.length > 0) {
    lines.push("## Failures", "", ...r.failures.map((f) => `- ${f}`), "");
  }

  lines.push(...findings(r), "");

  lines.push("## Where the time went", "");
  lines.push(
    "CPU in cores (1.00 = one core) during each measured window, from /proc: each server instance, the load processes together (and the busiest one), Redis, Postgres (all its processes), everything else on the machine, and the share of both cores that was busy; then how long (in cores, i.e. share of the window) each server's main thread, Redis's main thread and Postgres's processes together were ready to run but waited for a free core (/proc/<pid>/schedstat). During every window the orchestrator also sends a Redis PING and a Postgres `select 1` every 20 ms and times the round trips: how long a request to Redis or Postgres waits when nothing about it is slow but the machine is busy (the orchestrator shares the cores as well, so a stall of its own shows up there too).",
    "",
  );
  if (r.profiles.length > 0) {
    for (const profile of r.profiles) {
      lines.push(
        `### CPU profile, ${profile.kind} closed loop (${int(profile.perSecond)}/s while profiled)`,
        "",
        `Both servers ran with \`node --cpu-prof\` in a separate pass (profiling slows them a little). Cores during it: ${cpuHeader}: ${cpuCells(profile.cpu)}.`,
        "",
      );
      profile.summaries.forEach((summary, index) => {
        const busy = summary.totalMs - summary.idleMs;
        lines.push(
          `Instance ${index + 1}: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${(busy / 1000).toFixed(1)} s busy (${((busy / Math.max(1, summary.totalMs)) * 100).toFixed(0)} %, whole process life including start-up).`,
          "",
          "| busy time by area | share |",
          "|---|---|",
          ...summary.byArea.slice(0, 8).map((a) => `| ${a.area} | ${(a.share * 100).toFixed(1)} % |`),
          "",
          "| top functions (self time) | area | share |",
          "|---|---|---|",
          ...summary.topFunctions
            .slice(0, 12)
            .map((f) => `| \`${f.name}\` | ${f.area} | ${(f.share * 100).toFixed(1)} % |`),
          "",
        );
      });
    }
  } else lines.push("(No CPU profile in this run.)", "");

  lines.push("## Raw numbers", "");
  lines.push(`### 1. Durable publishes across ${int(rooms)} rooms`, "");
  lines.push(...throughputTable([...r.durable, ...(r.durableHalf ? [r.durableHalf] : [])]), "");
  lines.push(`### 3. Ephemeral publications across ${int(rooms)} rooms`, "");
  lines.push(...throughputTable([...r.ephemeral, ...(r.ephemeralHalf ? [r.ephemeralHalf] : [])]), "");
  if (r.order) {
    lines.push("### 2. One room, durable, in order", "");
    lines.push(...throughputTable([r.order]), "");
    lines.push(
      `${int(r.order.committed)} publications committed (warm-up and drain included); each subscriber checked: ${r.order.subscribers
        .map(
          (s, i) =>
            `instance ${i + 1}: ${int(s.checked)} received, offsets ${s.firstOffset}..${s.last}, ${s.gaps} missing, ${s.duplicates} duplicates, ${s.outOfOrder} out of order`,
        )
        .join("; ")}.`,
      "",
    );
  }
  if (r.fanout) {
    const f = r.fanout;
    lines.push("### 4. Fan-out only where needed", "");
    lines.push(
      `A subscriber to one room on instance A only; a member publishing ${int(f.published)} publications (half durable, half ephemeral) through instance B.`,
      "",
      "| measure | value |",
      "|---|---|",
      `| \`PUBSUB NUMSUB\` of the room's topic while publishing | ${f.numsub} |`,
      `| channel messages Redis sent to instance A / B (counted at ioredis) | ${int(f.busMessagesA)} / ${int(f.busMessagesB)} |`,
      `| channels A / B listened to at the end | ${f.channelsListenedA} / ${f.channelsListenedB} |`,
      `| publications the subscriber received | ${int(f.receivedBySubscriber)} |`,
      `| \`PUBSUB NUMPAT\` (pattern subscriptions on the whole Redis) | ${f.numpatAll} |`,
      "",
      "A receives fewer bus messages than publications because a durable batch is announced as one run.",
      "",
    );
  }
  if (r.memory) {
    const m = r.memory;
    lines.push("### 5. Memory per channel subscription (one instance)", "");
    lines.push(
      `${int(m.connections)} connections of ${int(m.users)} people; then each subscribed to its person's ${m.subscriptions / m.connections} rooms: ${int(m.subscriptions)} subscriptions on ${int(m.channels)} channels (connect ${m.connectSeconds.toFixed(1)} s, subscribe ${m.subscribeSeconds.toFixed(1)} s). Memory read after two forced collections.`,
      "",
      "| state | heap used | RSS | external |",
      "|---|---|---|---|",
      ...(
        [
          ["no connections", m.empty],
          [`${int(m.connections)} connections, no subscriptions`, m.idle],
          [`${int(m.connections)} connections, ${int(m.subscriptions)} subscriptions`, m.subscribed],
        ] as const
      ).map(
        ([label, u]) =>
          `| ${label} | ${(u.heapUsed / 2 ** 20).toFixed(1)} MB | ${(u.rss / 2 ** 20).toFixed(1)} MB | ${(u.external / 2 ** 20).toFixed(1)} MB |`,
      ),
      "",
      `Per connection (heap): ${kb(m.heapPerConnection)}. Per subscription: heap ${kb(m.heapPerSubscription)}, RSS ${kb(m.rssPerSubscription)}, external ${kb(m.externalPerSubscription)}.`,
      "",
    );
    if (m.series && m.series.length > 1) {
      lines.push(
        `With everyone subscribed and nothing published, heap read ${m.series.length} times over ${(m.series.at(-1)?.atSeconds ?? 0).toFixed(0)} s (each after a forced collection): ${m.series.map((s) => `${(s.heapUsed / 2 ** 20).toFixed(0)}`).join(", ")} MB. The goal is judged on the highest reading (${kb(m.heapPerSubscription)} per subscription); the lowest gives ${kb(m.heapPerSubscriptionLow ?? Number.NaN)}.`,
        "",
      );
    }
    if (m.redisWhileIdle) {
      const rates = Object.entries(m.redisWhileIdle).sort((a, b) => b[1] - a[1]);
      lines.push(
        `Redis commands per second meanwhile (whole Redis, so including anything else using it): ${rates
          .slice(0, 8)
          .map(([command, rate]) => `${command} ${int(rate)}`)
          .join(", ")}.`,
        "",
      );
    }
    if (m.breakdown) {
      const total = m.breakdown.growth.reduce((sum, g) => sum + g.bytesPerSubscription, 0);
      lines.push(
        `Where it goes: two heap snapshots (after a forced collection) on a fresh instance with ${int(m.breakdown.connections)} connections, before and after each subscribed to its person's rooms (${int(m.breakdown.subscriptions)} subscriptions). The kinds of object that grew most, per subscription (the top ${m.breakdown.growth.length} add up to ${kb(total)}):`,
        "",
        "| heap object (V8 type: constructor or name) | objects per subscription | bytes per subscription |",
        "|---|---|---|",
        ...m.breakdown.growth.map(
          (g) =>
            `| \`${g.kind.replaceAll("|", "\\|")}\` | ${g.countPerSubscription.toFixed(2)} | ${Math.round(g.bytesPerSubscription)} |`,
        ),
        "",
      );
    }
  }
  if (r.compare.length > 0) {
    lines.push("### 6. Rooms: Plauder against Socket.IO + Redis adapter", "");
    lines.push(
      "| system | round | publishes/s | deliveries/s | deliveries per ack | ack p50 | ack p99 | delivery p50 | delivery p99 | server CPU per publish (with its deliveries) | " +
        cpuHeader +
        ` | ${probeHeader} | caveat |`,
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    );
    for (const c of r.compare) {
      lines.push(
        `| ${c.system} | ${c.round} | ${int(c.perSecond)} | ${int(c.deliveriesPerSecond)} | ${c.deliveriesPerPublish.toFixed(2)} | ${ms(c.p50)} | ${ms(c.p99)} | ${ms(c.deliveryP50)} | ${ms(c.deliveryP99)} | ${Math.round(serverMicros(c))} µs | ${cpuCells(c.cpu)} | ${probeCells(c)} | ${caveatOf(c)?.why ?? "–"} |`,
      );
    }
    lines.push(
      "",
      "Medians over the rounds: " +
        (["socketio", "plauder-durable", "plauder-ephemeral"] as const)
          .map((system) => {
            const runs = r.compare.filter((c) => c.system === system);
            return `${system} ${int(median(runs.map((c) => c.perSecond)))} publishes/s, ${int(median(runs.map((c) => c.deliveriesPerSecond)))} deliveries/s`;
          })
          .join("; ") +
        ".",
      "",
    );
  }

  const compareConfig = r.compare[0];
  const nice = (r.config.nice as number | undefined) ?? 0;
  const flags = [...(r.quick ? ["--quick"] : []), ...(nice !== 0 ? [`--nice=${nice}`] : [])];
  lines.push("## How it was measured", "");
  lines.push(
    `- Command: \`npm run bench:channels -w @plauder/bench${flags.length > 0 ? ` -- ${flags.join(" ")}` : ""}\` (${r.minutes.toFixed(1)} minutes, started ${r.startedAt}). Node ${r.machine.node}, ${r.machine.cores} cores, ${r.machine.memoryGiB.toFixed(0)} GiB. Nothing pinned: the servers, Redis, Postgres and the load processes are scheduled by the kernel over all cores.${nice !== 0 ? ` The benchmark's own processes (orchestrator, servers, load) ran in a scheduling group (autogroup) at nice ${nice}, because other work on the machine kept both cores busy; Redis, Postgres and that other work kept their own priority, so Redis and Postgres still competed with it.` : ""}`,
    `- Versions (from the installed package.json files and the servers): ${Object.entries(r.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(", ")}.`,
    `- Servers: each bundled with esbuild (apps/web/scripts/build-server.ts) and run on plain node, two instances sharing Redis and Postgres. Plauder: \`bench/src/servers/plauder-channels.ts\`, the app's realtime server with the production settings except the per-connection, per-address and per-person ceilings (all load comes from 127.0.0.1) and PUBLISH_RATE_LIMIT set out of reach (it is still checked on every publish). Socket.IO: \`bench/src/servers/socketio-rooms.ts\`, WebSocket transport only, no per-message deflate, \`@socket.io/redis-adapter\` on ioredis, \`socket.join(room)\`, a "publish" event whose ack follows \`io.to(room).emit(...)\`.`,
    `- People and rooms: ${int(people)} people, each with an access token of their own; ${int(rooms)} rooms of ${r.config.membersPerRoom as number} members, each person in ${(rooms * (r.config.membersPerRoom as number)) / people} rooms, written straight into Postgres. Never one person for everything.`,
    `- Scenarios 1 and 3 have publishers only, no subscribers: they measure the publish path (checks, limit, log, announcement); scenario 6 adds the subscribers and their deliveries.`,
    `- Publishers: one connection for each of the first ${int(rooms / ((rooms * (r.config.membersPerRoom as number)) / people))} people (between them members of every room), alternating between the two instances, each publishing round-robin to its rooms. Closed loop: each connection keeps a fixed number of publishes in flight (${(r.config.depths as number[]).join(" and ")} in scenarios 1 and 3, ${r.config.compareDepth as number} in scenario 6) and sends the next when one is answered; Plauder calls made in one tick share a frame (at most 100), as tRPC's wsLink sends them, Socket.IO sends one packet per frame as socket.io-client does. Open loop: a fixed schedule, latency from the scheduled send time (no coordinated omission). Payload text: ${r.config.payloadBytes as number} bytes.`,
    `- Windows: ${r.config.warmupSeconds as number} s warm-up (not counted), then ${r.config.seconds as number} s measured; ack latency in an HDR histogram per load process, the slower process's percentile reported.`,
    `- Scenario 2: ${r.config.orderPublishers as number} publisher connections (members of one room, alternating instances, ${r.config.orderDepth as number} in flight each) and one verifying subscriber per instance that parses every delivery and checks its durable offsets are 1, 2, 3, … with nothing missing or repeated, against the room's head in Postgres afterwards.`,
    "- Scenario 4: a subscriber on instance A only; a member publishes through B. `PUBSUB NUMSUB` of the room's topic is read while publishing; the servers count channel messages as their ioredis connections emit them.",
    `- Scenario 5: one instance; connections authenticated (an \`auth.me\` call answered) and subscribed to nothing, then each subscribed to its person's rooms; heap after \`gc()\` twice (\`--expose-gc\`); per subscription = heap delta ÷ subscriptions. Once everyone is subscribed the heap is read again and again for ${(r.config.memorySeriesSeconds as number | undefined) ?? 0} s; the goal is judged on the highest reading. A second, smaller instance gives the heap snapshots for the breakdown.`,
    `- Scenario 6: ${compareConfig ? `${int(compareConfig.subscriberConnections)} subscriber connections (one per person, on instance u mod 2, each subscribed to/joined in all of its person's rooms: ${int(compareConfig.subscriptions)} subscriptions, ${r.config.membersPerRoom as number} per room, so every publish has ${r.config.membersPerRoom as number} deliveries spread over both instances) and the same publishers` : "as above"}; ${r.config.compareRounds as number} round(s), the order of the three systems shuffled in every round; fresh servers for every run (the load processes are reused, their connections closed and counters cleared in between). Deliveries are counted at the subscribers during the measured window; "deliveries per ack" near ${r.config.membersPerRoom as number} means fan-out kept up.`,
    "- Load: separate load processes for subscribers and publishers (one of each per instance), raw `ws` clients that read ids and send times from the bytes rather than parse JSON.",
    "",
    "The raw numbers of this run are in [benchmarks-channels.json](benchmarks-channels.json).",
    "",
  );
  return lines.join("\n");
}
