/**
 * The Plauder server: one process, one port. Next.js serves pages and HTTP APIs; the realtime server
 * owns WebSocket upgrades on /api/trpc-ws. `npm run build` bundles it with the workspace packages into
 * dist/server.mjs, which `npm start` runs on plain node; `npm run dev` runs this file under tsx.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import nextEnv from "@next/env";
import { appRouter, closeBus, closeTutor, startRevocationSync } from "@plauder/api";
import { createRealtimeServer, diagnosticsPath, realtimeOptionsFrom, serveDiagnostics } from "@plauder/api/server";
import { getAuthSecret, UnsafeAuthSecretError } from "@plauder/auth";
import { closeDatabase, DatabaseInUseError, getDatabase } from "@plauder/db";
import { migrateDatabase } from "@plauder/db/migrate";
import { clientAddressHeader, clientAddressOf, closeSharedRedis, getEnv, getLogger } from "@plauder/runtime";
import next from "next";
import { baselineHeaders, contentSecurityPolicy, newNonce } from "./src/lib/security-headers";

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

  const realtime = createRealtimeServer({ ...realtimeOptionsFrom(env), router: appRouter });

  const securityHeaders = Object.entries(baselineHeaders(env.APP_URL));
  const server = createServer((req, res) => {
    // Route handlers read the caller's address from here; a client-sent value is overwritten.
    req.headers[clientAddressHeader] = clientAddressOf(req);
    for (const [name, value] of securityHeaders) res.setHeader(name, value);
    // One policy per request with a fresh nonce. Next finds the nonce in the request's policy header
    // and puts it on the scripts it renders; a client-sent policy header is overwritten.
    const policy = contentSecurityPolicy(newNonce(), { dev });
    res.setHeader("Content-Security-Policy", policy);
    req.headers["content-security-policy"] = policy;
    delete req.headers["content-security-policy-report-only"];
    closeWhenBodyUnread(req, res);
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
    // Answers under way are saved first, while their channels can still say so.
    await closeTutor().catch(() => undefined);
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
 * An answer written while the request's body is still arriving (413 for an oversized one) is the
 * connection's last: it must say `Connection: close` so a keep-alive client does not send its next
 * request into a socket that closeAfterUnreadBody is about to end. Node writes the head in writeHead,
 * which write() and end() also go through, so that is the one place to decide.
 */
function closeWhenBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse["writeHead"]>) {
    if (req.complete) return writeHead.apply(this, args);
    this.shouldKeepAlive = false;
    this.setHeader("Connection", "close");
    const written = writeHead.apply(this, args);
    // Writing that head also marks the answer as the connection's last (Node's internal `_last`),
    // and Node then destroys the socket as soon as the answer is flushed: with the body still
    // arriving, that sends a reset which can wipe the answer out at the client before it is read.
    // closeAfterUnreadBody ends the connection instead, after draining the body for a grace period.
    (this as unknown as { _last: boolean })._last = false;
    return written;
  } as ServerResponse["writeHead"];
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
