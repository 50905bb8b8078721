import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@plauder/runtime/testing";
import { testMetricsToken } from "./metrics";
import { appDir, serverArgs } from "./server-command";

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, alive = () => true) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`${what}: the process exited`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** A Redis server of the test's own, so the test may stop and restart it without touching anyone else's. */
export type TestRedis = { url: string; stop(): Promise<void>; start(): Promise<void> };

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    const current = child;
    await waitUntil(
      "redis",
      () => portOpen(port),
      10_000,
      () => current.exitCode === null,
    );
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (!child) return;
      const current = child;
      child = null;
      current.kill("SIGKILL");
      await exited(current);
    },
    start,
  };
}

export type InstanceOptions = {
  id: string;
  env: Record<string, string | undefined>;
  port?: number;
  /** Extra Node flags, e.g. `--expose-gc` so diagnostics report the heap after a full collection. */
  nodeArgs?: string[];
};

/** One real Plauder server process (the production build, started as `npm start` does). */
export type Instance = {
  id: string;
  port: number;
  url: string;
  /** Everything the process printed, for assertions and for debugging failures. */
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Starts it again on the same port with the same settings. */
  start(): Promise<void>;
  /** Whether the current process is alive: false once it has exited, whether stopped or crashed. */
  running(): boolean;
  /** Exits the test did not ask for (a crash, a kill from outside), over every start of this instance. */
  unexpectedExits(): number;
  /** The process id while it runs (to read its memory from outside, say). */
  pid(): number | undefined;
};

/** Per-address budgets raised out of the way of suites whose clients all share one address. */
export const perAddressBudgetsForOneAddress = {
  REGISTER_RATE_LIMIT: "100000",
  LOGIN_MAX_FAILURES_PER_ADDRESS: "100000",
  MAX_CONNECTIONS_PER_ADDRESS: "100000",
  MAX_UNAUTHENTICATED_PER_ADDRESS: "100000",
} as const;

/**
 * Budgets raised out of the way of suites that publish streams and hold many connections per person,
 * to test delivery under faults rather than the rate limits (which have suites of their own).
 */
export const bulkTrafficBudgets = { PUBLISH_RATE_LIMIT: "100000", MAX_CONNECTIONS_PER_USER: "100" } as const;

export async function startInstance(options: InstanceOptions): Promise<Instance> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let log = "";
  /** Processes the test is stopping on purpose; any other exit is unexpected. */
  const stopping = new WeakSet<ChildProcess>();
  let unexpectedExits = 0;
  const start = async () => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      PORT: String(port),
      HOST: "127.0.0.1",
      APP_URL: `http://localhost:${port}`,
      INSTANCE_ID: options.id,
      LOG_LEVEL: "warn",
      SHUTDOWN_GRACE_MS: "1000",
      METRICS_TOKEN: testMetricsToken,
      // Every test client comes from 127.0.0.1, so per-address budgets would count a whole suite as
      // one visitor; the suites that test those budgets set them back.
      ...perAddressBudgetsForOneAddress,
      ...options.env,
    };
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
    child = spawn(process.execPath, serverArgs(options.nodeArgs), {
      cwd: appDir,
      env,
      stdio: "pipe",
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    const spawned = child;
    spawned.once("exit", () => {
      if (!stopping.has(spawned)) unexpectedExits++;
    });
    const current = child;
    await waitUntil(
      `instance ${options.id}`,
      async () => (await fetch(`${url}/api/health`)).status < 500,
      60_000,
      () => current.exitCode === null && current.signalCode === null,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${log}`);
    });
  };
  await start();
  return {
    id: options.id,
    port,
    url,
    output: () => log,
    async stop(signal = "SIGTERM") {
      if (!child) return null;
      const current = child;
      child = null;
      stopping.add(current);
      current.kill(signal);
      return exited(current);
    },
    start,
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    unexpectedExits: () => unexpectedExits,
    pid: () => child?.pid,
  };
}

/**
 * Starts a server expected to refuse to start, and collects its output until it exits. If it comes
 * up after all, it is killed at once and `code` is "started" (rather than waiting on it forever).
 */
export function runToExit(env: Record<string, string>): Promise<{ code: number | null | "started"; output: string }> {
  const child = spawn(process.execPath, serverArgs(), {
    cwd: appDir,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      ...env,
    },
    stdio: "pipe",
  });
  let output = "";
  let started = false;
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (!started && output.includes("Plauder is running at")) {
      started = true;
      child.kill("SIGKILL");
    }
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code: started ? "started" : code, output })));
}

export const tempDataDir = () => mkdtempSync(join(tmpdir(), "plauder-it-"));
export const uniquePrefix = () => `plauder-it-${randomUUID()}:`;

/** The Redis the tests share, unless a test starts one of its own. */
export const testRedisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * The settings every test instance needs: its database, Redis with a key prefix of its own, and a
 * fresh AUTH_SECRET. Instances started with the same object share all of them, as a cluster does.
 */
export function instanceEnv(databaseUrl: string, redisUrl = testRedisUrl): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: uniquePrefix(),
    AUTH_SECRET: `${randomUUID()}${randomUUID()}`,
  };
}
