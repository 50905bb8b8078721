/**
 * (c) Plauder: the real realtime server (origin and auth checks, limits, the tRPC WebSocket protocol,
 * the broadcast feed) on a plain HTTP server, without Next's page handling, which plays no part in
 * fan-out. Settings come from the environment like the app's.
 */
import { createServer } from "node:http";
import { createRealtimeServer, realtimeOptionsFrom } from "@plauder/api/server";
import { getEnv } from "@plauder/runtime";

const env = getEnv();
// The same options, from the same settings, as the app's server.
const realtime = createRealtimeServer(realtimeOptionsFrom(env));
const http = createServer((_req, res) => res.writeHead(404).end());
http.on("upgrade", (req, socket, head) => {
  if (req.url?.startsWith("/api/trpc-ws")) void realtime.handleUpgrade(req, socket, head);
  else socket.destroy();
});
http.listen(env.PORT, "127.0.0.1", () => process.send?.({ type: "ready" }));

process.on("SIGTERM", () => process.exit(0));
