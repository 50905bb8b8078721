import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { freePort } from "@plauder/runtime/testing";
import { Redis } from "ioredis";

/** The Redis a run uses, and whether the run started it (and pinned it to a core). */
export type BenchRedis = {
  url: string;
  /** The CPU this Redis is pinned to, or null when it is not (a Redis the run did not start). */
  pinnedCpu: number | null;
  /** Whether this run started the Redis (otherwise it is shared with whatever else uses it). */
  own: boolean;
  /** The redis-server process, when the run started it. */
  pid: number | null;
  version: string;
  stop(): Promise<void>;
};

const onPath = (command: string) => spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;

async function versionOf(url: string): Promise<string> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on("error", () => {});
  try {
    await client.connect();
    const info = await client.info("server");
    return /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
  } finally {
    client.disconnect();
  }
}

/**
 * A Redis of the run's own, pinned with taskset to `cpu`, when redis-server is installed; otherwise
 * (or when BENCH_REDIS_URL names one) the shared Redis, which is then neither started nor pinned here.
 */
export async function startBenchRedis(cpu: number | null): Promise<BenchRedis> {
  const external = process.env.BENCH_REDIS_URL;
  if (external || !onPath("redis-server")) {
    const url = external ?? process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
    return { url, pinnedCpu: null, own: false, pid: null, version: await versionOf(url), stop: async () => {} };
  }
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmpdir()];
  const pin = cpu !== null && existsSync("/usr/bin/taskset");
  // taskset execs redis-server, so the child's pid is Redis's own.
  const child = pin
    ? spawn("taskset", ["-c", String(cpu), "redis-server", ...args], { stdio: "ignore" })
    : spawn("redis-server", args, { stdio: "ignore" });
  const kill = () => child.kill("SIGKILL");
  process.on("exit", kill);
  const url = `redis://127.0.0.1:${port}`;
  let version = "";
  for (let attempt = 0; ; attempt++) {
    try {
      version = await versionOf(url);
      break;
    } catch (error) {
      if (attempt >= 50 || child.exitCode !== null) throw new Error(`redis-server did not start: ${error}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    pinnedCpu: pin ? cpu : null,
    own: true,
    pid: child.pid ?? null,
    version,
    stop: () =>
      new Promise<void>((resolve) => {
        process.off("exit", kill);
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
