/**
 * The Plauder server: one process, one port. Next.js serves pages and HTTP APIs; the realtime server
 * owns WebSocket upgrades on /api/trpc-ws. `npm run build` bundles it with the workspace packages into
 * dist/server.mjs, which `npm start` runs on plain node; `npm run dev` runs this file under tsx.
 */
import { createServer, type IncomingMessage } from "node:http";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import nextEnv from "@next/env";
import { closeBus, startRevocationSync } from "@plauder/api";
import { createRealtimeServer, diagnosticsPath, realtimeOptionsFrom, serveDiagnostics } from "@plauder/api/server";
import { getAuthSecret, UnsafeAuthSecretError } from "@plauder/auth";
import { closeDatabase, DatabaseInUseError, getDatabase } from "@plauder/db";
import { migrateDatabase } from "@plauder/db/migrate";
import { clientAddressHeader, clientAddressOf, closeSharedRedis, getEnv, getLogger } from "@plauder/runtime";
import next from "next";

// Production runs the bundle in dist/ (scripts/build-server.ts); development runs this file.
const here = dirname(fileURLToPath(import.meta.url));
const appDir = basename(here) === "dist" ? dirname(here) : here;
const websocketPath = "/api/trpc-ws";
const unreadBodyGraceMs = 2_000;

async function main(): Promise<void> {
  const dev = process.env.NODE_ENV !== "production";
  // Settings come from the environment, then from .env at the repository root (never committed).
  nextEnv.loadEnvConfig(resolve(appDir, "../.."), dev, { info: () => {}, error: console.error });
  const env = getEnv();
  const log = getLogger();

  getAuthSecret();
  const database = getDatabase();
  await migrateDatabase(database);
  // Revocations are loaded before the first request, so no signed-out session slips through.
  const stopRevocationSync = await startRevocationSync();
  log.info(
    {
      database: database.kind,
      bus: env.REDIS_URL ? "redis" : "in-process",
    },
    env.DATABASE_URL
      ? "database ready"
      : "embedded database ready (PGlite; one instance only, set DATABASE_URL to run more)",
  );

  const app = next({ dev, dir: appDir, hostname: "localhost", port: env.PORT });
  await app.prepare();
  const handleRequest = app.getRequestHandler();
  const handleNextUpgrade = app.getUpgradeHandler();

  const realtime = createRealtimeServer(realtimeOptionsFrom(env));

  const server = createServer((req, res) => {
    // Route handlers read the caller's address from here; a client-sent value is overwritten.
    req.headers[clientAddressHeader] = clientAddressOf(req);
    if (env.DIAGNOSTICS_TOKEN && (req.url ?? "").split("?")[0] === diagnosticsPath) {
      return serveDiagnostics(req, res, env.DIAGNOSTICS_TOKEN);
    }
    res.once("finish", () => closeAfterUnreadBody(req));
    void handleRequest(req, res);
  });

  server.on("upgrade", (req, socket, head) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === websocketPath) {
      realtime.handleUpgrade(req, socket, head).catch((error: Error) => {
        log.error({ err: error.message }, "upgrade failed");
        socket.destroy();
      });
    } else if (dev) {
      // Next's dev server uses WebSockets for hot reload.
      void handleNextUpgrade(req, socket, head);
    } else {
      socket.destroy();
    }
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, graceMs: env.SHUTDOWN_GRACE_MS }, "shutting down");
    server.close();
    await realtime.close(env.SHUTDOWN_GRACE_MS);
    server.closeAllConnections();
    await stopRevocationSync().catch(() => undefined);
    await Promise.allSettled([closeDatabase(), closeSharedRedis(), closeBus()]);
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));

  server.listen(env.PORT, env.HOST, () => {
    log.info({ port: env.PORT, dev }, "listening");
    console.log(`\n  Plauder is running at ${env.APP_URL}\n`);
  });
}

/**
 * A handler that answered before reading the whole body (413 for an oversized one) leaves the rest
 * in flight, and where the next request on this connection would start is unknown. So the
 * connection ends after this answer, while the rest is read and dropped for a short grace period
 * (closing with unread data would reset the answer away); a client still sending then is cut off.
 */
function closeAfterUnreadBody(req: IncomingMessage): void {
  if (req.complete) return;
  const socket = req.socket;
  const cutOff = setTimeout(() => socket.destroy(), unreadBodyGraceMs);
  cutOff.unref();
  socket.once("close", () => clearTimeout(cutOff));
  if (!req.destroyed) req.resume();
  socket.resume();
  socket.end();
}

main().catch((error: unknown) => {
  if (error instanceof DatabaseInUseError || error instanceof UnsafeAuthSecretError) {
    console.error(`\n  ${error.message}\n`);
  } else {
    console.error(error);
  }
  process.exit(1);
});
