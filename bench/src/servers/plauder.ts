/**
 * (c) Plauder: the real realtime server (origin and auth checks, limits, the tRPC WebSocket protocol,
 * the broadcast feed) on a plain HTTP server, without Next's page handling, which plays no part in
 * fan-out. Settings come from the environment like the app's.
 */
import { createServer } from "node:http";
import { createRealtimeServer } from "@plauder/api/server";
import { getEnv } from "@plauder/runtime";

const env = getEnv();
const realtime = createRealtimeServer({
  allowedOrigins: [env.APP_URL],
  maxPayload: env.WS_MAX_PAYLOAD,
  maxConnections: env.MAX_CONNECTIONS,
  maxConnectionsPerUser: env.MAX_CONNECTIONS_PER_USER,
  heartbeatMs: env.WS_HEARTBEAT_MS,
  pongWaitMs: env.WS_PONG_WAIT_MS,
  authTimeoutMs: env.WS_AUTH_TIMEOUT_MS,
});
const http = createServer((_req, res) => res.writeHead(404).end());
http.on("upgrade", (req, socket, head) => {
  if (req.url?.startsWith("/api/trpc-ws")) void realtime.handleUpgrade(req, socket, head);
  else socket.destroy();
});
http.listen(env.PORT, "127.0.0.1", () => process.send?.({ type: "ready" }));

process.on("SIGTERM", () => process.exit(0));
