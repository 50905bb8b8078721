import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { issueAccessToken } from "@plauder/auth";
import { openDatabase, setDatabase } from "@plauder/db";
import { migrateDatabase } from "@plauder/db/migrate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type AppRouter, appRouter } from "../src/index";
import { createRealtimeServer, type RealtimeServer } from "../src/server/index";
import { wsLinkClient } from "./support/ws-server";

const origin = "http://app.test";
let server: Server;
let realtime: RealtimeServer;
let url: string;

beforeAll(async () => {
  process.env.AUTH_SECRET = "realtime-server-test-secret-0123456789abcdef";
  const database = openDatabase({ kind: "pglite", dataDir: "memory://" });
  await migrateDatabase(database);
  setDatabase(database);
  realtime = createRealtimeServer({
    router: appRouter,
    allowedOrigins: [origin],
    maxPayload: 1024,
    maxConnections: 3,
    maxConnectionsPerUser: 10,
    maxConnectionsPerAddress: 100,
    maxUnauthenticatedPerAddress: 100,
    maxBuffered: 1_048_576,
    maxSubscriptions: 100,
    heartbeatMs: 30_000,
    pongWaitMs: 5_000,
    authTimeoutMs: 10_000,
  });
  server = createServer((_req, res) => res.end());
  server.on("upgrade", (req, socket, head) => void realtime.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api/trpc-ws`;
});

afterAll(async () => {
  await realtime.close(0);
  server.close();
});

const typedClient = (token?: string) => wsLinkClient<AppRouter>(url, token);

/** Opens a raw socket and resolves with the handshake outcome: the open socket, or the HTTP status. */
function rawConnect(headers: Record<string, string> = {}): Promise<{ socket?: WebSocket; status?: number }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers, perMessageDeflate: true });
    socket.once("open", () => resolve({ socket }));
    socket.once("unexpected-response", (_req, res) => resolve({ status: res.statusCode }));
    socket.once("error", () => undefined);
  });
}

describe("realtime server", () => {
  it("authenticates a typed client by the token in connectionParams", async () => {
    const user = { id: "0b4e6f53-8a57-4c1f-bd2f-3f8d9f0e1a22", email: "anna@example.com", name: "Anna" };
    const { token } = await issueAccessToken(user);
    const { client, close } = typedClient(token);
    try {
      expect(await client.auth.me.query()).toEqual(user);
      expect((await client.health.query()).db).toBe("up");
    } finally {
      close();
    }
  });

  it("answers UNAUTHORIZED to anonymous and forged callers, but serves health", async () => {
    const { token: genuine } = await issueAccessToken({
      id: "7d2c9a4e-1f3b-4c6d-8e5a-2b9f0c1d3e44",
      email: "mallory@example.com",
      name: "Mallory",
    });
    const [header, payload] = genuine.split(".");
    // The genuine header and claims, signed with a key that is not the server's.
    const signature = createHmac("sha256", "not-the-server-secret-not-the-server-secret")
      .update(`${header}.${payload}`)
      .digest("base64url");
    const forged = `${header}.${payload}.${signature}`;
    for (const token of [undefined, forged]) {
      const { client, close } = typedClient(token);
      try {
        await expect(client.auth.me.query()).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
        expect((await client.health.query()).status).toMatch(/ok|degraded/);
      } finally {
        close();
      }
    }
  });

  it("refuses a foreign Origin with 403 before upgrading", async () => {
    expect((await rawConnect({ origin: "https://evil.example" })).status).toBe(403);
    const allowed = await rawConnect({ origin });
    expect(allowed.socket).toBeDefined();
    allowed.socket?.close();
  });

  it("never negotiates permessage-deflate", async () => {
    const { socket } = await rawConnect();
    expect(socket?.extensions).toBe("");
    socket?.close();
  });

  it("closes a connection that sends a frame over the limit with 1009, and only that one", async () => {
    const big = await rawConnect();
    const bystander = await rawConnect();
    const closed = new Promise<number>((resolve) => big.socket?.once("close", (code) => resolve(code)));
    big.socket?.send("x".repeat(2048));
    expect(await closed).toBe(1009);
    expect(bystander.socket?.readyState).toBe(WebSocket.OPEN);
    bystander.socket?.close();
  });

  it("answers 503 once the instance holds its maximum of connections", async () => {
    const held = await Promise.all([rawConnect(), rawConnect(), rawConnect()]);
    expect(held.every((c) => c.socket)).toBe(true);
    expect((await rawConnect()).status).toBe(503);
    for (const c of held) c.socket?.close();
  });
});
