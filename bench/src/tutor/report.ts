import { type CpuWindow, disturbedAbove, otherCores } from "../channels/machine";
import type { ProfileSummary } from "../channels/profile-summary";
import type { FirstToken, Gaps, Spread } from "./analysis";
import type { LoadStats } from "./protocol";

export type Memory = {
  heapUsed: number;
  rss: number;
  external: number;
  arrayBuffers: number;
  connections: number;
};

export type TutorBenchResults = {
  quick: boolean;
  startedAt: string;
  minutes: number;
  /** The commit measured. */
  commit?: string;
  machine: { cores: number; cpuModel: string; memoryGiB: number; node: string; loadAverageAtStart: number[] };
  versions: Record<string, string>;
  config: Record<string, unknown>;
  settings: Record<string, string>;
  firstToken:
    | (FirstToken & {
        failed: number;
        attempt: number;
        cpu: CpuWindow;
        otherCores: number;
        loadStats: LoadStats;
        quietWaitedMs: number;
        machineBusyBefore: number;
        serverCpuSeconds: number;
        fakeCpuSeconds: number;
      })
    | null;
  direct: { client: Spread; added: Spread; missing: number; loadStats: LoadStats } | null;
  /** What one send (with its short answer and its correction) asked of Redis and Postgres. */
  roundTrips: {
    sends: number;
    tokens: number;
    redisPerSend: Record<string, number>;
    postgresTransactionsPerSend: number;
    postgresRowsWrittenPerSend: number;
  } | null;
  streams: {
    streams: number;
    tokens: number;
    attempt: number;
    window: { seconds: number; startedAfterMs: number };
    gaps: Gaps;
    cpu: CpuWindow;
    loadBound: boolean;
    loadBoundWhy: string | null;
    otherCores: number;
    loadStats: LoadStats;
    incomplete: number;
    misplaced: number;
    merged: number;
    deltas: number;
    endedInWindow: number;
    quietWaitedMs: number;
    statuses: Record<string, number>;
  } | null;
  memory: {
    streams: number;
    attempt: number;
    /** Before the first stream: what the after-1,000 figures are compared with. */
    start: Memory;
    /** Before the kept attempt of (b): what "per active stream" is counted from. */
    before: Memory;
    during: Memory;
    rssSamples: number[];
    rssPerStream: number;
    heapPerStream: number;
    completed: number;
    after: Memory;
    series: { completed: number; heapUsed: number; rss: number }[];
  } | null;
  stops: {
    stops: number;
    attempt: number;
    closed: Spread;
    acked: Spread;
    outcomes: Record<string, number>;
    statuses: Record<string, number>;
    cpu: CpuWindow;
    loadStats: LoadStats;
    otherCores: number;
    quietWaitedMs: number;
  } | null;
  /** A separate pass like (b) on an instance started with --cpu-prof. */
  profile: (ProfileSummary & { streams: number; tokens: number; serverCores: number; seconds: number }) | null;
  failures: string[];
};

/** The goals, and the margins the memory check allows (stated before measuring). */
export const goals = {
  firstTokenAddedP50Ms: 5,
  gapAddedP99Ms: 20,
  stopP99Ms: 100,
  /** After 1,000 completed streams the heap (after a full collection) may be at most this much above the start. */
  heapMarginBytes: 5 * 2 ** 20,
  /** …and RSS at most this share above the start (V8 and malloc keep pages they once used). */
  rssMarginShare: 0.25,
} as const;

const ms = (n: number, digits = 1) => (Number.isFinite(n) ? `${n.toFixed(digits)} ms` : "–");
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const cores = (n: number) => n.toFixed(2);
const pct = (n: number) => `${(n * 100).toFixed(0)} %`;
const spreadCells = (s: Spread, digits = 1) =>
  `${ms(s.p50, digits)} | ${ms(s.p99, digits)} | ${ms(s.max, digits)} | ${s.count}`;

type Row = { goal: string; target: string; measured: string; result: string };

/** Met, or not met unless other work on the machine may explain the miss. */
function verdict(meets: boolean | null, other: number, missStands = false): string {
  if (meets === null) return "not measured (the run failed before it)";
  if (meets) return "met";
  if (other >= disturbedAbove && !missStands) return `not measured (disturbed: other work used ${cores(other)} cores)`;
  return "not met";
}

/**
 * The most that waiting for a core can have added to one send of (a): the time instance A's main
 * thread, Redis's and Postgres's processes spent runnable but without a core over the window,
 * shared out over the sends, as if all of it lay on every send's path (it does not: a bound).
 */
export function waitPerSend(ft: NonNullable<TutorBenchResults["firstToken"]>): number {
  const { cpu } = ft;
  const waiting = (cpu.serversRunqueue[0] ?? 0) + cpu.redisRunqueue + cpu.postgresRunqueue;
  return (waiting * cpu.seconds * 1000) / Math.max(1, ft.added.count);
}

function goalRows(r: TutorBenchResults): Row[] {
  const rows: Row[] = [];
  const ft = r.firstToken;
  rows.push({
    goal: "(a) time to first token Plauder adds over the provider's own, p50",
    target: `≤ ${goals.firstTokenAddedP50Ms} ms`,
    measured: ft ? `${ms(ft.added.p50, 2)} (p99 ${ms(ft.added.p99, 2)}, ${ft.added.count} sends)` : "–",
    // A miss other work cannot explain stands: even without every wait for a core it would be missed.
    result: verdict(
      ft ? ft.added.p50 <= goals.firstTokenAddedP50Ms : null,
      ft?.otherCores ?? 0,
      ft ? ft.added.p50 - waitPerSend(ft) > goals.firstTokenAddedP50Ms : false,
    ),
  });
  const st = r.streams;
  let streamResult = "not measured (the run failed before it)";
  if (st) {
    const meets = st.gaps.added.p99 <= goals.gapAddedP99Ms;
    if (meets) streamResult = "met";
    else if (st.loadBound) streamResult = `not measured (load-bound: ${st.loadBoundWhy})`;
    else if (st.otherCores >= disturbedAbove)
      streamResult = `not measured (disturbed: other work used ${cores(st.otherCores)} cores)`;
    else streamResult = "not met";
  }
  rows.push({
    goal: `(b) added inter-token delay, ${st?.streams ?? 200} streams at 30 tokens/s on one instance, p99`,
    target: `≤ ${goals.gapAddedP99Ms} ms`,
    measured: st
      ? `${ms(st.gaps.added.p99, 2)} (p50 ${ms(st.gaps.added.p50, 2)}, ${st.gaps.pairs.toLocaleString("en-US")} gaps; per token end to end p50 ${ms(st.gaps.latency.p50)}, p99 ${ms(st.gaps.latency.p99)})`
      : "–",
    result: streamResult,
  });
  rows.push({
    goal: "(b) server CPU during those streams",
    target: "reported",
    measured: st
      ? `${cores(st.cpu.servers[0] ?? 0)} cores on instance A (${Math.round(((st.cpu.servers[0] ?? 0) / ((st.streams * 1000) / 33)) * 1e6)} µs per token)`
      : "–",
    result: st ? "measured" : "not measured",
  });
  const sp = r.stops;
  rows.push({
    goal: "(c) Stop sent to instance B until the provider's request (on A) is closed, p99",
    target: `≤ ${goals.stopP99Ms} ms`,
    measured: sp ? `${ms(sp.closed.p99)} (p50 ${ms(sp.closed.p50)}, ${sp.closed.count} stops)` : "–",
    result: verdict(sp ? sp.closed.count > 0 && sp.closed.p99 <= goals.stopP99Ms : null, sp?.otherCores ?? 0),
  });
  const m = r.memory;
  rows.push({
    goal: `(d) memory per active stream (${m?.streams ?? 200} streams, instance A)`,
    target: "reported",
    measured: m ? `RSS ${kb(m.rssPerStream)}, heap ${kb(m.heapPerStream)} per stream` : "–",
    result: m ? "measured" : "not measured",
  });
  if (m) {
    const heapGrowth = m.after.heapUsed - m.start.heapUsed;
    const rssGrowth = m.after.rss / m.start.rss - 1;
    const heapOk = heapGrowth <= goals.heapMarginBytes;
    const rssOk = rssGrowth <= goals.rssMarginShare;
    rows.push({
      goal: `(d) after ${m.completed.toLocaleString("en-US")} completed streams: back near the start`,
      target: `heap ≤ start + ${mb(goals.heapMarginBytes)}, RSS ≤ start + ${pct(goals.rssMarginShare)}`,
      measured: `heap ${mb(m.after.heapUsed)} (start ${mb(m.start.heapUsed)}, ${heapGrowth >= 0 ? "+" : ""}${mb(heapGrowth)}); RSS ${mb(m.after.rss)} (start ${mb(m.start.rss)}, ${rssGrowth >= 0 ? "+" : ""}${pct(rssGrowth)})`,
      result:
        heapOk && rssOk
          ? "met"
          : `not met (${[heapOk ? "" : "heap", rssOk ? "" : "RSS"].filter(Boolean).join(" and ")})`,
    });
  } else {
    rows.push({
      goal: "(d) after 1,000 completed streams: back near the start",
      target: "–",
      measured: "–",
      result: "not measured (the run failed before it)",
    });
  }
  return rows;
}

function cpuLine(cpu: CpuWindow): string {
  return `instance A ${cores(cpu.servers[0] ?? 0)}, instance B ${cores(cpu.servers[1] ?? 0)}, load client ${cores(cpu.load[0] ?? 0)}, fake provider ${cores(cpu.load[1] ?? 0)}, Redis ${cores(cpu.redis)}, Postgres ${cores(cpu.postgres)}, other work ${cores(otherCores(cpu))} cores; machine ${pct(cpu.machineBusy)} busy over ${cpu.seconds.toFixed(1)} s`;
}

function loadLine(stats: LoadStats): string {
  return `load client ${pct(stats.cpu)} of a core, event-loop delay p50 ${ms(stats.eventLoopP50)}, p99 ${ms(stats.eventLoopP99)}, max ${ms(stats.eventLoopMax)}`;
}

/** What the figures say, in sentences generated from this run's data. */
function findings(r: TutorBenchResults): string[] {
  const out: string[] = ["## Findings", ""];
  const ft = r.firstToken;
  if (ft) {
    const trips = r.roundTrips;
    const redis = trips ? Object.values(trips.redisPerSend).reduce((sum, n) => sum + n, 0) : 0;
    out.push(
      `- **First token**: Plauder added ${ms(ft.added.p50, 1)} at p50 (${ms(ft.added.p99, 1)} at p99). Most of it comes before the model is asked: ${ms(ft.beforeProvider.p50, 1)} from the send to the request's arrival at the fake, against ${ms(ft.afterProvider.p50, 1)} from the first token to the client${r.direct ? `; the same client straight at the fake adds ${ms(r.direct.added.p50, 1)} (HTTP on loopback)` : ""}. The send is answered after ${ms(ft.ack.p50, 1)}.${trips ? ` One exchange (send, ${trips.tokens}-token answer, correction) made ${redis.toFixed(0)} Redis commands and ${trips.postgresTransactionsPerSend.toFixed(1)} Postgres transactions, many of them one after the other.` : ""} Other work on the machine took ${cores(ft.otherCores)} cores during these sends (machine ${pct(ft.cpu.machineBusy)} busy); waiting for a core (instance A's main thread, Redis, Postgres) can account for at most ${ms(waitPerSend(ft))} per send, so ${
        ft.added.p50 - waitPerSend(ft) > goals.firstTokenAddedP50Ms
          ? `the miss stands without it (${ms(ft.added.p50 - waitPerSend(ft))} at least)`
          : "the miss may be the machine's, not Plauder's"
      }. Instance A's main thread worked ${ms(((ft.cpu.serversMainThread[0] ?? 0) * ft.cpu.seconds * 1000) / Math.max(1, ft.added.count))} of CPU per exchange (send, answer, correction).`,
    );
  }
  const st = r.streams;
  if (st) {
    const tokensPerSecond = st.streams * (1000 / (r.config.msPerToken as number));
    const server = st.cpu.servers[0] ?? 0;
    const main = st.cpu.serversMainThread[0] ?? 0;
    const waiting = st.cpu.serversRunqueue[0] ?? 0;
    const perToken = server / tokensPerSecond;
    // Streams one main thread would carry with a core to itself, at the work per token measured.
    const capacity = main > 0 ? Math.floor(st.streams / main) : Number.NaN;
    const saturated = main + waiting >= 0.9;
    out.push(
      `- **200 streams**: instance A spent ${Math.round(perToken * 1e6)} µs of CPU per token (${cores(server)} cores for ${Math.round(tokensPerSecond).toLocaleString("en-US")} tokens/s, every token read from the model, appended to the text so far, published and written to its socket); its main thread was on a core ${pct(main)} of the window and waiting for one ${pct(waiting)}.${
        saturated
          ? ` Runnable ${pct(main + waiting)} of the time, the event loop was saturated: tokens queued behind one another (end to end ${ms(st.gaps.latency.p50)} at p50, ${ms(st.gaps.latency.p99)} at p99 after the fake wrote them) and the gaps spread (p99 ${ms(st.gaps.added.p99)} added). With a core to itself the main thread would carry about ${capacity} such streams at this cost; here the second core was shared by Redis, the fake, the load client and other work. The load client (${pct(st.loadStats.cpu)} of a core, event-loop p99 ${ms(st.loadStats.eventLoopP99)}) and the fake (${cores(st.cpu.load[1] ?? 0)} cores) were not the limit.`
          : ` It kept up: tokens reached the client ${ms(st.gaps.latency.p50)} after the fake wrote them at p50, ${ms(st.gaps.latency.p99)} at p99.`
      } Other work took ${cores(st.otherCores)} cores during the window.`,
    );
  }
  const sp = r.stops;
  if (sp) {
    out.push(
      `- **Stop across instances**: ${ms(sp.closed.p50)} at p50 and ${ms(sp.closed.p99)} at p99 from the Stop call to the model's request closing on the other instance, over ${sp.closed.count} stops (\`tutor.stop\` itself answered after ${ms(sp.acked.p50)} / ${ms(sp.acked.p99)}), with other work taking ${cores(sp.otherCores)} cores.`,
    );
  }
  const m = r.memory;
  if (m) {
    out.push(
      `- **Memory**: ${kb(m.heapPerStream)} of heap per answer under way (after a full collection) and ${kb(m.rssPerStream)} of RSS (no collection: garbage not yet collected counts, and a server that falls behind buffers more). After ${m.completed.toLocaleString("en-US")} completed answers the heap was ${mb(m.after.heapUsed - m.start.heapUsed)} from the start: nothing an answer holds stays behind. RSS stayed ${pct(m.after.rss / m.start.rss - 1)} above the start, ${
        m.series.length > 1 && Math.abs((m.series.at(-1)?.rss ?? 0) - (m.series[0]?.rss ?? 0)) < 0.05 * m.start.rss
          ? "level from the first wave on (the allocator keeps the pages of the peak, it does not grow with the answers)"
          : "see the series below"
      }.`,
    );
  }
  const p = r.profile;
  if (p) {
    const share = (match: (area: string) => boolean) =>
      pct(p.byArea.filter((a) => match(a.area)).reduce((sum, a) => sum + a.share, 0));
    out.push(
      `- **Where the CPU went** (the profiled pass below; shares of busy time, start-up included): socket writes (\`writev\`, \`writeUtf8String\`) ${share((a) => a === "native: writev" || a === "native: writeUtf8String")}, garbage collection ${share((a) => a === "garbage collector")}, ioredis ${share((a) => a === "ioredis")}, promise hooks (\`node:internal/async_hooks\`: something in the process keeps async context across promises, which costs on every promise) ${share((a) => a === "node:internal/async_hooks")}, undici reading the model's stream (\`node:internal/deps\`, web streams) ${share((a) => a === "node:internal/deps" || a === "node:internal/webstreams")}, Plauder's own code in the bundle ${share((a) => a.startsWith("server bundle"))}. Only the areas among the twelve largest are counted.`,
    );
  }
  out.push("");
  return out;
}

export function writeTutorReport(r: TutorBenchResults): string {
  const lines: string[] = [];
  const date = r.startedAt.slice(0, 10);
  lines.push("# Tutor benchmark", "");
  lines.push(
    "What Plauder adds between a language model and a learner: the time to the first token, the delay between tokens under 200 concurrent answers, Stop across instances, and memory per answer under way. The model is a fake Ollama that speaks the real wire format and writes its tokens at a set pace, so every figure is Plauder's own: the fake reports when each request arrived and when it wrote each token, and the client's times are compared with those.",
    "",
  );
  lines.push(
    `Run \`npm run bench:tutor\` (full, writes this file and benchmarks-tutor.json) or \`npm run bench:tutor -- --quick\` (a smoke run of about a minute). Both need Redis, Postgres and a fresh build of the app (\`npx turbo run build --filter=@plauder/web\`).`,
    "",
  );
  lines.push(
    `${r.quick ? "**Quick run** (a smoke run: fewer sends and stops, shorter windows). " : ""}Measured ${date} at commit ${r.commit ?? "unknown"}, ${r.minutes.toFixed(1)} minutes.`,
    "",
  );

  lines.push("## Goals", "", "| goal | target | measured | result |", "|---|---|---|---|");
  for (const row of goalRows(r)) lines.push(`| ${row.goal} | ${row.target} | ${row.measured} | ${row.result} |`);
  lines.push(
    "",
    `A window that other work on the machine disturbed (more than ${disturbedAbove} cores of it) is measured again, up to ${(r.config.attempts as number) ?? 1} times, and the least disturbed attempt is kept; the sections below say which.`,
    "",
    'A figure the load client (or other work on the machine) may have capped is "not measured" rather than met or not met, unless it meets its target anyway. The memory margins were set before measuring: the heap after a full collection within 5 MB of the start (5 KB per completed stream: a leak of each answer\'s state would show), RSS within 25 % (V8 and malloc keep pages they once used, so RSS after a peak of 200 answers need not fall back to the idle figure).',
    "",
  );

  lines.push(...findings(r));

  lines.push("## Setup", "");
  lines.push(
    `- **Machine**: ${r.machine.cores} cores (${r.machine.cpuModel}), ${r.machine.memoryGiB.toFixed(1)} GiB, Node ${r.machine.node}; load average at the start ${r.machine.loadAverageAtStart.map((v) => v.toFixed(2)).join(", ")}. The machine is shared with other work; each window below says how many cores that work used.`,
    `- **Versions**: ${Object.entries(r.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(", ")}.`,
    "- **What ran where**, all on this one machine: two instances of the built app (`apps/web/dist/server.mjs` on plain node, `NODE_ENV=production`, started as the integration tests start them) sharing Redis and a fresh Postgres database; the fake Ollama (`@plauder/tutor/testing`) in a process of its own; one load process with a WebSocket per person (raw `ws`, the tRPC protocol, JSON parsed per frame); the orchestrator, idle while measuring. Nothing was pinned to a core.",
    `- **Settings**: ${Object.entries(r.settings)
      .map(([name, value]) => `\`${name}\` ${value}`)
      .join(
        "; ",
      )}; \`TUTOR_PROVIDER=ollama\` at the fake. People: ${r.config.people as number} accounts, each with one conversation.`,
    "- **Clocks**: times are `performance.timeOrigin + performance.now()` in each process. (a) and (b) compare durations measured inside one process each (the client's, the fake's), so no clock is compared across processes; (c) and the per-token latency compare the load client's clock with the fake's (both derived from the same system clock at process start; error well under a millisecond).",
    "",
  );

  const ft = r.firstToken;
  if (ft) {
    lines.push("## (a) Time to first token", "");
    lines.push(
      `Attempt ${ft.attempt}: ${ft.added.count} sends one after the other (a 20 ms pause between them), ${r.config.firstTokenPeople as number} people taking turns, each answer ${r.config.firstTokenTokens as number} tokens ${r.config.msPerToken as number} ms apart. Per send: the client's time from sending \`tutor.send\` to the first delta on the conversation's channel, minus the fake's time from the request's arrival to its first token. The difference is what Plauder adds: the send (budget, ownership, a place, the turn written to Postgres, the learner's message published, the working context), the request to the model, and the first piece on its way back (the text so far in Redis, the ephemeral publication, the fan-out).`,
      "",
      "| | p50 | p99 | max | n |",
      "|---|---|---|---|---|",
      `| client: send → first delta | ${spreadCells(ft.client, 2)} |`,
      `| fake: request arrived → first token written | ${spreadCells(ft.provider, 2)} |`,
      `| **added by Plauder** (client − fake, per send) | ${spreadCells(ft.added, 2)} |`,
      `| of which: send → request at the fake | ${spreadCells(ft.beforeProvider, 2)} |`,
      `| of which: first token written → first delta at the client | ${spreadCells(ft.afterProvider, 2)} |`,
      `| send → \`tutor.send\` answered | ${spreadCells(ft.ack, 2)} |`,
    );
    if (r.direct) {
      lines.push(
        `| baseline: the same client straight to the fake (POST /api/chat), its wait | ${spreadCells(r.direct.client, 2)} |`,
        `| baseline: added over the fake's own (HTTP on loopback) | ${spreadCells(r.direct.added, 2)} |`,
      );
    }
    lines.push(
      "",
      ...(r.roundTrips
        ? [
            `What one such send asked of Redis and Postgres (${r.roundTrips.sends} more sends, counted outside the measured windows: Redis commands on this run's keys seen with MONITOR, Postgres transactions and rows of this run's database from \`pg_stat_database\`, both instances' background work included): ${Object.values(
              r.roundTrips.redisPerSend,
            )
              .reduce((sum, n) => sum + n, 0)
              .toFixed(1)} Redis commands (${Object.entries(r.roundTrips.redisPerSend)
              .map(([name, n]) => `${name} ${n.toFixed(1)}`)
              .join(
                ", ",
              )}), ${r.roundTrips.postgresTransactionsPerSend.toFixed(1)} Postgres transactions writing ${r.roundTrips.postgresRowsWrittenPerSend.toFixed(1)} rows. These cover the whole exchange: the send, the ${r.roundTrips.tokens}-token answer and the correction.`,
            "",
          ]
        : []),
      `During the sends: ${loadLine(ft.loadStats)}; instance A used ${ft.serverCpuSeconds.toFixed(1)} CPU-seconds, the fake ${ft.fakeCpuSeconds.toFixed(1)}. CPU over the sends: ${cpuLine(ft.cpu)}.${ft.failed ? ` ${ft.failed} answers did not complete.` : ""}`,
      "",
    );
  }

  const st = r.streams;
  if (st) {
    lines.push("## (b) 200 streams at 30 tokens per second", "");
    lines.push(
      `Attempt ${st.attempt}: ${st.streams} people on instance A each sent one line within ${r.config.spreadMs as number} ms; each answer is ${st.tokens} tokens the fake writes ${r.config.msPerToken as number} ms apart (\`slow:${r.config.msPerToken as number}\`). The window opened ${(st.window.startedAfterMs / 1000).toFixed(1)} s after every send was answered and lasted ${st.window.seconds.toFixed(1)} s; no stream ended inside it. For every delta whose tokens the fake wrote inside the window: the client's gap since the previous delta minus the fake's gap between the last tokens the two deltas carried. (A delta carries more than one token when the server read several in one tick; it is then one gap spanning them on both sides.)`,
      "",
      "| | p50 | p99 | max | n |",
      "|---|---|---|---|---|",
      `| **added inter-token delay** (client gap − fake gap, per delta) | ${spreadCells(st.gaps.added, 2)} |`,
      `| the fake's own gap | ${spreadCells(st.gaps.provider, 2)} |`,
      `| per token: arrival at the client − the fake's write (across processes) | ${spreadCells(st.gaps.latency, 2)} |`,
      "",
      `- **CPU over the window** (cores): ${cpuLine(st.cpu)}. Instance A's main thread was on a core ${pct(st.cpu.serversMainThread[0] ?? 0)} of the window and waited for a free core ${pct(st.cpu.serversRunqueue[0] ?? 0)}; Redis's main thread waited ${pct(st.cpu.redisRunqueue)}.`,
      `- **The fake provider** used ${cores(st.cpu.load[1] ?? 0)} cores writing ${Math.round(st.streams * (1000 / (r.config.msPerToken as number))).toLocaleString("en-US")} tokens per second: on a ${r.machine.cores}-core machine that is CPU the servers did not have.`,
      `- **The load client**: ${loadLine(st.loadStats)}.${st.loadBound ? ` Load-bound: ${st.loadBoundWhy}.` : ""}`,
      `- **Integrity**: ${st.deltas.toLocaleString("en-US")} deltas (${st.merged} carried more than one token); ${st.incomplete} streams incomplete, ${st.misplaced} deltas out of place, ${st.gaps.lost} tokens written in the window never received; statuses ${JSON.stringify(st.statuses)}.`,
      "",
    );
  }

  const m = r.memory;
  if (m) {
    lines.push("## (d) Memory", "");
    lines.push(
      `Instance A, read from \`/api/diagnostics\` (heap after a full collection; the server runs with \`--expose-gc\`) and from \`/proc/<pid>/status\` (RSS, no collection). "Start" is with every connection open and every conversation's channel subscribed, before the first stream; "during" is RSS sampled every 500 ms through (b)'s window (the median) and the heap right after the window with all ${m.streams} answers still streaming.`,
      "",
      "| | heap | RSS | external | connections |",
      "|---|---|---|---|---|",
      `| start (idle) | ${mb(m.start.heapUsed)} | ${mb(m.start.rss)} | ${mb(m.start.external)} | ${m.start.connections} |`,
      ...(m.attempt > 1
        ? [
            `| idle before the kept attempt (${m.attempt}) of (b) | ${mb(m.before.heapUsed)} | ${mb(m.before.rss)} | ${mb(m.before.external)} | ${m.before.connections} |`,
          ]
        : []),
      `| during ${m.streams} streams | ${mb(m.during.heapUsed)} | ${mb(m.during.rss)} | ${mb(m.during.external)} | ${m.during.connections} |`,
      `| per active stream | ${kb(m.heapPerStream)} | ${kb(m.rssPerStream)} | | |`,
      `| after ${m.completed.toLocaleString("en-US")} completed streams | ${mb(m.after.heapUsed)} | ${mb(m.after.rss)} | ${mb(m.after.external)} | ${m.after.connections} |`,
      "",
      `After each wave of completed streams (heap after a full collection, RSS): ${m.series.map((s) => `${s.completed}: ${mb(s.heapUsed)} / ${mb(s.rss)}`).join("; ")}. The waves after (b) are short answers (${r.config.waveTokens as number} tokens, ${r.config.waveMsPerToken as number} ms apart) from the same people in the same conversations.`,
      "",
    );
  }

  const sp = r.stops;
  if (sp) {
    lines.push("## (c) Stop across instances", "");
    lines.push(
      `Attempt ${sp.attempt}: ${sp.stops} stops, ${r.config.stopPairs as number} people side by side, each with a connection on A (where the send went, so the answer runs there) and one on B. After the third delta of an endless answer (\`endless:${r.config.msPerToken as number}\`) the client calls \`tutor.stop\` on B; B publishes the stop on the bus, A aborts the model request. Measured from the Stop call leaving the client to the fake seeing its request closed by the server.`,
      "",
      "| | p50 | p99 | max | n |",
      "|---|---|---|---|---|",
      `| **Stop → the fake's request closed** | ${spreadCells(sp.closed)} |`,
      `| Stop → \`tutor.stop\` answered | ${spreadCells(sp.acked)} |`,
      "",
      `Requests at the fake: ${JSON.stringify(sp.outcomes)}; answers ended ${JSON.stringify(sp.statuses)}. CPU over the stops: ${cpuLine(sp.cpu)}. ${loadLine(sp.loadStats)}.`,
      "",
    );
  }

  const p = r.profile;
  if (p) {
    const busy = p.totalMs - p.idleMs;
    lines.push("## Where the server's CPU goes under (b)'s load", "");
    lines.push(
      `A separate pass after the measurements: a third instance started with \`--cpu-prof\`, ${p.streams} streams at the same pace for about ${(r.config.profileSeconds as number) ?? 0} s (${Math.round(p.tokens).toLocaleString("en-US")} tokens); it used ${cores(p.serverCores)} cores over ${p.seconds.toFixed(1)} s. The profile covers the instance's whole life (start-up and connections included); busy ${(busy / 1000).toFixed(1)} s of ${(p.totalMs / 1000).toFixed(1)} s. Self time by area and the functions with the most self time (\`${p.file}\`):`,
      "",
      "| area | self time | share of busy |",
      "|---|---|---|",
      ...p.byArea.map((a) => `| ${a.area} | ${(a.ms / 1000).toFixed(2)} s | ${pct(a.share)} |`),
      "",
      "| function | area | self time | share of busy |",
      "|---|---|---|---|",
      ...p.topFunctions.map((f) => `| \`${f.name}\` | ${f.area} | ${(f.ms / 1000).toFixed(2)} s | ${pct(f.share)} |`),
      "",
    );
  }

  if (r.failures.length > 0) lines.push("## Failures", "", ...r.failures.map((f) => `- ${f}`), "");
  return `${lines.join("\n")}\n`;
}
