/**
 * Baseline for the protocol comparison (adapter-compare.ts): the same router, credentials and
 * broadcast feed as Plauder's realtime server, served by tRPC's stock `applyWSSHandler`, as a
 * tRPC application would run it. Without a `connection` in the context the broadcast subscription
 * keeps its events flowing through its generator, which is what the stock adapter can carry.
 */
import { createServer } from "node:http";
import { appRouter, type Context } from "@plauder/api";
import { readAccessToken } from "@plauder/auth";
import { getEnv, getInstanceId } from "@plauder/runtime";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import { WebSocketServer } from "ws";

const env = getEnv();
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: env.WS_MAX_PAYLOAD });
applyWSSHandler({
  wss,
  router: appRouter,
  keepAlive: { enabled: true, pingMs: env.WS_HEARTBEAT_MS, pongWaitMs: env.WS_PONG_WAIT_MS },
  async createContext({ info }): Promise<Context> {
    const token = info.connectionParams?.token;
    const credential = token === undefined ? null : await readAccessToken(token);
    return {
      user: credential?.user ?? null,
      credential,
      instanceId: getInstanceId(),
      clientAddress: "127.0.0.1",
      transport: "ws",
      connection: null,
    };
  },
});
const http = createServer((_req, res) => res.writeHead(404).end());
http.on("upgrade", (req, socket, head) => {
  if (!req.url?.startsWith("/api/trpc-ws")) return socket.destroy();
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
});
http.listen(env.PORT, "127.0.0.1", () => process.send?.({ type: "ready" }));

process.on("SIGTERM", () => process.exit(0));
