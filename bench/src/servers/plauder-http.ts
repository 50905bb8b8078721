/**
 * What both Plauder servers of the benchmarks run: the app's realtime server (origin and auth checks,
 * limits, the tRPC WebSocket protocol, the app's router) with the same options, from the same
 * settings, as the app's server, on a plain HTTP server without Next's page handling, which plays no
 * part in fan-out. It tells the orchestrator over IPC once it listens.
 */
import { createServer } from "node:http";
import { appRouter } from "@plauder/api";
import { createRealtimeServer, realtimeOptionsFrom } from "@plauder/api/server";
import type { Env } from "@plauder/runtime";

export function servePlauder(env: Env): void {
  const realtime = createRealtimeServer({ ...realtimeOptionsFrom(env), router: appRouter });
  const http = createServer((_req, res) => res.writeHead(404).end());
  http.on("upgrade", (req, socket, head) => {
    if (req.url?.startsWith("/api/trpc-ws")) void realtime.handleUpgrade(req, socket, head);
    else socket.destroy();
  });
  http.listen(env.PORT, "127.0.0.1", () => process.send?.({ type: "ready" }));
  process.on("SIGTERM", () => process.exit(0));
}
