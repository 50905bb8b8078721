import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Redis } from "ioredis";
import { createRedis } from "./redis";
import { freePort } from "./testing";

const execFileAsync = promisify(execFile);

/** One master of a test cluster: its port, an admin connection, and its process to kill and start again. */
export type ClusterNode = {
  port: number;
  admin: Redis;
  /** SIGKILLs the process (no goodbye to its clients, as a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (it rejoins with its nodes.conf). */
  start(): Promise<void>;
};

export type TestRedisCluster = {
  nodes: ClusterNode[];
  /** `host:port` of every master, as `REDIS_CLUSTER_NODES` takes them. */
  addresses: string[];
  /** The master owning a key's (or shard channel's) slot, asked of the cluster itself. */
  owner(key: string): Promise<ClusterNode>;
  stop(): Promise<void>;
};

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${what}: not after ${timeoutMs} ms`);
}

function requireRedis7(): void {
  for (const name of ["redis-server", "redis-cli"]) {
    const result = spawnSync(name, ["--version"], { encoding: "utf8" });
    if (result.error || result.status !== 0) {
      throw new Error(
        `${name} is not on PATH (${result.error?.message ?? result.stderr}); a real Redis Cluster needs redis-server and redis-cli 7 or newer`,
      );
    }
    const major = Number(/(?:v=|cli )(\d+)\./.exec(result.stdout)?.[1]);
    if (!(major >= 7)) throw new Error(`sharded pub/sub needs Redis 7 or newer; ${name} says: ${result.stdout.trim()}`);
  }
}

/**
 * A real Redis Cluster of `masters` nodes without replicas, from `redis-server` in a temporary
 * directory on free ports (for tests: `@plauder/runtime/testing/redis-cluster`). Fails with what to
 * install when Redis 7 is missing.
 */
export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  requireRedis7();
  const dir = mkdtempSync(join(tmpdir(), "plauder-redis-cluster-"));
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < masters; i++) {
    const [port, busPort] = [await freePort(), await freePort()];
    const nodeDir = join(dir, String(port));
    mkdirSync(nodeDir);
    const admin = createRedis(`redis://127.0.0.1:${port}`, "test-admin", { maxRetriesPerRequest: 1 });
    let child: ChildProcess | null = null;
    nodes.push({
      port,
      admin,
      async start() {
        const started = spawn(
          "redis-server",
          // --cluster-port: the bus port would otherwise be port + 10 000, which nobody checked was free.
          ["--port", String(port), "--cluster-port", String(busPort), "--bind", "127.0.0.1"]
            .concat(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])
            .concat(["--cluster-node-timeout", "3000", "--dir", nodeDir, "--save", "", "--appendonly", "no"]),
          { cwd: nodeDir, stdio: "ignore" },
        );
        child = started;
        await eventually(
          `redis-server on ${port}`,
          async () => {
            if (started.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${started.exitCode}`);
            return (await admin.ping().catch(() => "")) === "PONG";
          },
          5_000,
        );
      },
      async kill() {
        const current = child;
        child = null;
        if (!current || current.exitCode !== null || current.signalCode !== null) return;
        const exited = new Promise((resolve) => current.once("exit", resolve));
        current.kill("SIGKILL");
        await exited;
      },
    });
  }
  const stop = async () => {
    for (const node of nodes) node.admin.disconnect();
    await Promise.all(nodes.map((node) => node.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((node) => node.start()));
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await execFileAsync(
      "redis-cli",
      ["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"],
      {
        timeout: 20_000,
      },
    );
    await eventually(
      "cluster_state:ok on every node",
      async () =>
        (await Promise.all(nodes.map(async (node) => String(await node.admin.cluster("INFO"))))).every((info) =>
          info.includes("cluster_state:ok"),
        ),
      15_000,
    );
    return {
      nodes,
      addresses,
      async owner(key) {
        const slot = Number(await (nodes[0] as ClusterNode).admin.cluster("KEYSLOT", key));
        const slots = await (nodes[0] as ClusterNode).admin.cluster("SLOTS");
        const port = slots.find(([start, end]) => slot >= start && slot <= end)?.[2]?.[1];
        const node = nodes.find((candidate) => candidate.port === Number(port));
        if (!node) throw new Error(`no master owns ${key}`);
        return node;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
