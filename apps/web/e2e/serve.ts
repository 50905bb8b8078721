/**
 * Starts the production servers for the end-to-end run.
 *
 * `--services --instances 2`: two instances sharing a fresh Postgres database and one Redis key
 * prefix (so runs never collide), on `--port` and `--port + 2`, plus a small control endpoint on
 * `--control` (127.0.0.1 only) that tests use to stop and restart an instance. Without `--services`:
 * one instance on the embedded defaults in a fresh data directory. The database is dropped when
 * Playwright stops this process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createTestPostgres } from "@plauder/db/testing";
import { appDir, serverArgs } from "../test/support/server-command";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "3210" },
    services: { type: "boolean", default: false },
    instances: { type: "string", default: "1" },
    control: { type: "string" },
  },
});
const basePort = Number(values.port);
const ports = Array.from({ length: Number(values.instances) }, (_, i) => basePort + 2 * i);
const origins = ports.map((port) => `http://localhost:${port}`);

const database = values.services ? await createTestPostgres() : null;
const shared: NodeJS.ProcessEnv = {
  ...process.env,
  NODE_ENV: "production",
  DATA_DIR: mkdtempSync(join(tmpdir(), "plauder-e2e-")),
  LOGIN_MAX_ATTEMPTS: "5",
  // Every browser of the run registers from 127.0.0.1; the per-address budget is tested elsewhere.
  REGISTER_RATE_LIMIT: "1000",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
  NEXT_TELEMETRY_DISABLED: "1",
  ALLOWED_ORIGINS: origins.join(","),
  SHUTDOWN_GRACE_MS: "2000",
};
delete shared.DATABASE_URL;
delete shared.REDIS_URL;
delete shared.AUTH_SECRET;
if (database) {
  shared.DATABASE_URL = database.url;
  shared.REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  shared.REDIS_KEY_PREFIX = `plauder-e2e-${randomUUID()}:`;
  shared.AUTH_SECRET = randomUUID() + randomUUID();
}

const children = new Map<number, ChildProcess>();
let stopping = false;

function start(index: number): ChildProcess {
  const port = ports[index] as number;
  const child = spawn(process.execPath, serverArgs(), {
    cwd: appDir,
    env: {
      ...shared,
      PORT: String(port),
      APP_URL: `http://localhost:${port}`,
      INSTANCE_ID: `e2e-${"abcdefgh"[index]}`,
    },
    stdio: "inherit",
  });
  children.set(index, child);
  child.on("exit", (code) => {
    if (children.get(index) === child) children.delete(index);
    // An instance that dies on its own (not stopped by a test) ends the run.
    if (!stopping && !stoppedOnPurpose.has(index)) shutdown(code ?? 1);
  });
  return child;
}

const stoppedOnPurpose = new Set<number>();

async function healthy(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/api/health`).then(
    (response) => response.ok,
    () => false,
  );
}

async function waitHealthy(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await healthy(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`instance on ${port} did not become healthy`);
}

function shutdown(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const child of children.values()) child.kill("SIGTERM");
  const done = async () => {
    await database?.drop().catch((error: Error) => console.error(`could not drop the test database: ${error.message}`));
    process.exit(code);
  };
  if (children.size === 0) void done();
  const wait = setInterval(() => {
    if ([...children.values()].every((c) => c.exitCode !== null || c.signalCode !== null)) {
      clearInterval(wait);
      void done();
    }
  }, 100);
}

process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));

for (let index = 0; index < ports.length; index++) start(index);

if (values.control) {
  // Test-only control: stop or start instance N, and a readiness check covering every instance.
  createServer(async (req, res) => {
    const match = /^\/instances\/(\d+)\/(stop|start)$/.exec(req.url ?? "");
    if (req.url === "/ready") {
      const ready = (await Promise.all(ports.map(healthy))).every(Boolean);
      res.writeHead(ready ? 200 : 503).end();
      return;
    }
    if (!match || req.method !== "POST") {
      res.writeHead(404).end();
      return;
    }
    const index = Number(match[1]);
    const port = ports[index];
    if (port === undefined) {
      res.writeHead(404).end();
      return;
    }
    if (match[2] === "stop") {
      const child = children.get(index);
      stoppedOnPurpose.add(index);
      if (child) {
        await new Promise<void>((resolve) => {
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
        });
      }
    } else {
      stoppedOnPurpose.delete(index);
      if (!children.has(index)) start(index);
      await waitHealthy(port);
    }
    res.writeHead(204).end();
  }).listen(Number(values.control), "127.0.0.1");
}
