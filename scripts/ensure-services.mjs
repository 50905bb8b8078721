#!/usr/bin/env node
// Makes sure the Redis and Postgres the tests use are running on this machine, starting the local
// Debian services when they are installed but stopped, and that the tutor's embedded engine is
// installed. Fails with a reason when one cannot be had.
import { execSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { connect } from "node:net";

const redisUrl = new URL(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
const postgresUrl = new URL(process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test");

function reachable(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    socket.setTimeout(1_000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function waitFor(name, host, port, seconds = 30) {
  for (let i = 0; i < seconds * 4; i++) {
    if (await reachable(host, port)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${name} did not come up on ${host}:${port}`);
}

function run(command) {
  execSync(command, { stdio: "inherit" });
}

async function ensureRedis() {
  const { hostname, port = "6379" } = redisUrl;
  if (await reachable(hostname, port || 6379)) return;
  if (!existsSync("/usr/bin/redis-server")) {
    throw new Error(
      `Redis is not reachable at ${hostname}:${port} and redis-server is not installed (apt-get install redis-server).`,
    );
  }
  console.log("starting Redis");
  run(`redis-server --daemonize yes --bind 127.0.0.1 --port ${port || 6379} --save "" --appendonly no`);
  await waitFor("Redis", hostname, port || 6379);
}

async function ensurePostgres() {
  const { hostname, port = "5432" } = postgresUrl;
  if (await reachable(hostname, port || 5432)) return;
  if (!existsSync("/etc/postgresql")) {
    throw new Error(
      `Postgres is not reachable at ${hostname}:${port} and no local cluster is installed (apt-get install postgresql).`,
    );
  }
  console.log("starting Postgres");
  for (const version of readdirSync("/etc/postgresql")) {
    run(`pg_ctlcluster --skip-systemctl-redirect ${version} main start || true`);
  }
  await waitFor("Postgres", hostname, port || 5432);
}

/**
 * The embedded tutor engine (node-llama-cpp) is not part of `npm ci`: it brings some 700 MB of
 * prebuilt binaries. Its tests need it, so `npm test` installs it once (see docs/tutor.md).
 */
function ensureTutorEngine() {
  if (existsSync("node_modules/node-llama-cpp/package.json")) return;
  console.log("installing the embedded tutor engine for its tests (npm run tutor:install-engine)");
  run("npm run tutor:install-engine");
}

try {
  ensureTutorEngine();
  await Promise.all([ensureRedis(), ensurePostgres()]);
} catch (error) {
  console.error(`\n  ${error.message}\n`);
  process.exit(1);
}
