import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { cpuSeconds } from "../processes";

/**
 * Who used the machine's cores during a measured window: the servers, the load processes, Redis
 * and Postgres (found by process name in /proc), and the machine as a whole. Everything shares the
 * same cores, so a figure is only the servers' if the load processes were not at their limit.
 */
export type CpuWindow = {
  seconds: number;
  /** Cores used (1.0 = one core fully busy) by each group over the window. */
  servers: number[];
  load: number[];
  redis: number;
  postgres: number;
  /** Share of all cores busy (0..1). */
  machineBusy: number;
  /**
   * Share of the window each server's main thread spent runnable but waiting for a core (from
   * /proc/<pid>/schedstat): time lost to a busy machine, as opposed to waiting for I/O.
   */
  serversRunqueue: number[];
  /** Share of the window each server's main thread was on a core (the event loop; GC helpers excluded). */
  serversMainThread: number[];
  /** The same for Redis's main thread, and summed over Postgres's processes (in cores). */
  redisRunqueue: number;
  postgresRunqueue: number;
};

function commOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

function pidsNamed(pattern: RegExp): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry) && pattern.test(commOf(entry)))
    .map(Number);
}

function safeCpu(pid: number): number | null {
  try {
    return cpuSeconds(pid);
  } catch {
    return null;
  }
}

/** Nanoseconds a process's main thread has run and waited on a run queue so far. */
function schedstat(pid: number): { run: number; wait: number } | null {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, "utf8").trim().split(/\s+/).map(Number);
    return { run: run ?? 0, wait: wait ?? 0 };
  } catch {
    return null;
  }
}

function groupWait(pids: number[]): Map<number, number> {
  const map = new Map<number, number>();
  for (const pid of pids) {
    const value = schedstat(pid);
    if (value) map.set(pid, value.wait);
  }
  return map;
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((sum, v) => sum + v, 0);
  return { busy: total - idle, total };
}

function groupCpu(pids: number[]): Map<number, number> {
  const map = new Map<number, number>();
  for (const pid of pids) {
    const value = safeCpu(pid);
    if (value !== null) map.set(pid, value);
  }
  return map;
}

/** Starts a window; call the returned function at its end. */
export function cpuWindow(servers: number[], load: number[]): () => CpuWindow {
  const started = performance.now();
  const ticks = machineTicks();
  const server0 = servers.map((pid) => safeCpu(pid) ?? 0);
  const load0 = load.map((pid) => safeCpu(pid) ?? 0);
  const redisPids = pidsNamed(/^redis-server$/);
  const pgPids = pidsNamed(/^postgres$/);
  const redis0 = groupCpu(redisPids);
  const pg0 = groupCpu(pgPids);
  const serverWait0 = servers.map((pid) => schedstat(pid)?.wait ?? 0);
  const serverRun0 = servers.map((pid) => schedstat(pid)?.run ?? 0);
  const redisWait0 = groupWait(redisPids);
  const pgWait0 = groupWait(pgPids);
  return () => {
    const seconds = (performance.now() - started) / 1000;
    const ticksAfter = machineTicks();
    const waited = (before: Map<number, number>, now: Map<number, number>) => {
      let sum = 0;
      for (const [pid, value] of now) sum += value - (before.get(pid) ?? 0);
      return sum / 1e9 / seconds;
    };
    const used = (before: Map<number, number>, now: Map<number, number>) => {
      let sum = 0;
      // Processes that started during the window (Postgres backends) count from zero.
      for (const [pid, value] of now) sum += value - (before.get(pid) ?? 0);
      return sum / seconds;
    };
    return {
      seconds,
      servers: servers.map((pid, i) => ((safeCpu(pid) ?? 0) - (server0[i] ?? 0)) / seconds),
      load: load.map((pid, i) => ((safeCpu(pid) ?? 0) - (load0[i] ?? 0)) / seconds),
      redis: used(redis0, groupCpu(pidsNamed(/^redis-server$/))),
      postgres: used(pg0, groupCpu(pidsNamed(/^postgres$/))),
      machineBusy: (ticksAfter.busy - ticks.busy) / Math.max(1, ticksAfter.total - ticks.total),
      serversRunqueue: servers.map((pid, i) => ((schedstat(pid)?.wait ?? 0) - (serverWait0[i] ?? 0)) / 1e9 / seconds),
      serversMainThread: servers.map((pid, i) => ((schedstat(pid)?.run ?? 0) - (serverRun0[i] ?? 0)) / 1e9 / seconds),
      redisRunqueue: waited(redisWait0, groupWait(pidsNamed(/^redis-server$/))),
      postgresRunqueue: waited(pgWait0, groupWait(pidsNamed(/^postgres$/))),
    };
  };
}

export const coreCount = cpus().length;

/**
 * Whether the load, not the servers, capped a figure: a load process at (nearly) a full core, or
 * all cores busy while the load processes held at least half a core between them.
 */
export function loadBound(cpu: CpuWindow): { bound: boolean; why: string | null } {
  const busiest = Math.max(0, ...cpu.load);
  if (busiest >= 0.9) return { bound: true, why: `a load process used ${(busiest * 100).toFixed(0)} % of a core` };
  const loadTotal = cpu.load.reduce((sum, v) => sum + v, 0);
  if (cpu.machineBusy >= 0.95 && loadTotal >= 0.5) {
    return {
      bound: true,
      why: `all cores busy (${(cpu.machineBusy * 100).toFixed(0)} %) and the load processes took ${loadTotal.toFixed(2)} cores`,
    };
  }
  return { bound: false, why: null };
}

/** Cores used by everything outside the benchmark's own processes, Redis and Postgres during a window. */
export function otherCores(cpu: CpuWindow): number {
  const own = [...cpu.servers, ...cpu.load].reduce((sum, v) => sum + v, 0) + cpu.redis + cpu.postgres;
  return Math.max(0, cpu.machineBusy * coreCount - own);
}

/** Cores of other work above which a window counts as disturbed. */
export const disturbedAbove = 0.25;

/**
 * Waits (at most `maxWaitMs`) until the machine has been nearly idle for a second, so a window does
 * not start in the middle of someone else's build. The benchmark's own processes are idle between
 * windows. Returns how long it waited and the last busy share seen.
 */
export async function waitForQuiet(maxWaitMs: number, maxBusy = 0.15): Promise<{ waitedMs: number; busy: number }> {
  const started = performance.now();
  let quietSamples = 0;
  let busy = 1;
  while (performance.now() - started < maxWaitMs) {
    const before = machineTicks();
    await new Promise((r) => setTimeout(r, 500));
    const after = machineTicks();
    busy = (after.busy - before.busy) / Math.max(1, after.total - before.total);
    quietSamples = busy <= maxBusy ? quietSamples + 1 : 0;
    if (quietSamples >= 2) break;
  }
  return { waitedMs: performance.now() - started, busy };
}
