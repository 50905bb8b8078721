/**
 * Starts one production server for the end-to-end run. With `--services` it gets a fresh Postgres
 * database and its own Redis key prefix (so runs never collide); without, the embedded defaults in a
 * fresh data directory. The database is dropped when Playwright stops the server.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createTestPostgres } from "@plauder/db/testing";

const { values } = parseArgs({
  options: { port: { type: "string" }, services: { type: "boolean", default: false } },
});
const appDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const port = values.port ?? "3210";

const database = values.services ? await createTestPostgres() : null;
const env: NodeJS.ProcessEnv = {
  ...process.env,
  NODE_ENV: "production",
  PORT: port,
  APP_URL: `http://localhost:${port}`,
  DATA_DIR: mkdtempSync(join(tmpdir(), "plauder-e2e-")),
  LOGIN_MAX_ATTEMPTS: "5",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
  NEXT_TELEMETRY_DISABLED: "1",
};
delete env.DATABASE_URL;
delete env.REDIS_URL;
delete env.AUTH_SECRET;
if (database) {
  env.DATABASE_URL = database.url;
  env.REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  env.REDIS_KEY_PREFIX = `plauder-e2e-${randomUUID()}:`;
  env.AUTH_SECRET = randomUUID() + randomUUID();
}

const server = spawn(process.execPath, ["--import", "tsx", "server.ts"], { cwd: appDir, env, stdio: "inherit" });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.kill("SIGTERM");
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
server.on("exit", async (code) => {
  await database?.drop().catch((error: Error) => console.error(`could not drop the test database: ${error.message}`));
  process.exit(stopping ? 0 : (code ?? 1));
});
