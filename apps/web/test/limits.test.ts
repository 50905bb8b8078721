/**
 * One real instance with tight limits: authentication, origin, connection limits, frame size,
 * validation and the publish rate limit, each answered as docs/contract.md says.
 */
import { randomUUID } from "node:crypto";
import type { AppRouter } from "@plauder/api";
import { issueAccessToken } from "@plauder/auth";
import type { PlauderClient } from "@plauder/client";
import { createTRPCClient, createWSClient, TRPCClientError, wsLink } from "@trpc/client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type Account, connect, newAccount } from "./support/clients";
import { startSingle, type TestSingle } from "./support/cluster";
import type { Instance } from "./support/processes";
import { closed, nextMessage, rawSocket, socketUrl } from "./support/raw-socket";

const authSecret = `${randomUUID()}${randomUUID()}`;
let solo: TestSingle;
let instance: Instance;
let anna: Account;

beforeAll(async () => {
  solo = await startSingle("limits", {
    env: {
      AUTH_SECRET: authSecret,
      MAX_CONNECTIONS: "8",
      MAX_CONNECTIONS_PER_USER: "2",
      WS_MAX_PAYLOAD: "16384",
      PUBLISH_RATE_LIMIT: "3",
      PUBLISH_RATE_WINDOW_SECONDS: "30",
    },
  });
  instance = solo.instance;
  anna = await newAccount(instance.url, "Anna");
  // The test signs its own expired token with the instance's secret.
  process.env.AUTH_SECRET = authSecret;
});

// Each test starts without the previous one's connections (the per-user limit is 2).
afterEach(() => solo?.clients.close());
afterAll(() => solo?.stop());

const typed = (account: Account) => solo.clients.connect(instance.url, account);

/** A tRPC client with whatever token (or none) the test wants to present. */
function withToken(token: string | undefined) {
  const wsClient = createWSClient({
    url: socketUrl(instance.url),
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: token === undefined ? undefined : { token },
    retryDelayMs: () => 60_000,
  });
  return { api: createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] }), close: () => wsClient.close() };
}

function ping(api: ReturnType<typeof withToken>["api"] | PlauderClient["api"]) {
  return new Promise<{ clientTime: number; serverTime: number; instanceId: string }>((resolve, reject) => {
    api.realtime.ping.subscribe({ clientTime: Date.now() }, { onData: resolve, onError: reject });
  });
}

function echo(api: PlauderClient["api"], text: string) {
  return new Promise<{ text: string }>((resolve, reject) => {
    api.realtime.echo.subscribe({ text }, { onData: resolve, onError: reject });
  });
}

describe("procedures", () => {
  it("ping answers with the client's time, the server's time and the instance", async () => {
    const client = await typed(anna);
    const sent = Date.now();
    const pong = await ping(client.api);
    expect(pong.clientTime).toBeLessThanOrEqual(Date.now());
    expect(pong.clientTime).toBeGreaterThanOrEqual(sent);
    expect(pong.serverTime).toBeGreaterThanOrEqual(pong.clientTime - 1000);
    expect(pong.instanceId).toBe("limits");
  });

  it("echo returns 4096 characters and refuses 4097 with BAD_REQUEST", async () => {
    const client = await typed(anna);
    const text = "ä".repeat(4096);
    expect((await echo(client.api, text)).text).toBe(text);
    const error = await echo(client.api, `${text}x`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<AppRouter>).data?.code).toBe("BAD_REQUEST");
    // The connection keeps working after the refusal.
    expect((await echo(client.api, "still here")).text).toBe("still here");
  });
});

describe("authentication", () => {
  it("answers UNAUTHORIZED to anonymous, forged and expired tokens", async () => {
    const { token: expired } = await issueAccessToken(
      { id: anna.id, email: anna.email, name: anna.name },
      Date.now() - 3_600_000,
    );
    const forged = `${anna.token.slice(0, -4)}AAAA`;
    for (const token of [undefined, forged, expired, "not-a-token"]) {
      const client = withToken(token);
      try {
        const error = await ping(client.api).catch((e: unknown) => e);
        expect((error as TRPCClientError<AppRouter>).data?.code, String(token)).toBe("UNAUTHORIZED");
        // health stays open to everyone
        expect((await client.api.health.query()).instanceId).toBe("limits");
      } finally {
        client.close();
      }
    }
  });

  it("closes a connection with 4001 when the token it was opened with expires", async () => {
    // Issued 898 s ago with the 900 s lifetime: two seconds left.
    const { token } = await issueAccessToken({ id: anna.id, email: anna.email, name: anna.name }, Date.now() - 898_000);
    const { socket } = await rawSocket(instance.url, { connectionParams: true });
    if (!socket) throw new Error("handshake failed");
    const code = closed(socket);
    socket.send(JSON.stringify({ method: "connectionParams", data: { token } }));
    socket.send(JSON.stringify({ id: 1, method: "query", params: { path: "auth.me" } }));
    const me = await nextMessage(socket, (m) => m.id === 1);
    expect((me.result as { data: { id: string } }).data.id).toBe(anna.id);
    const started = Date.now();
    expect(await code).toBe(4001);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("refuses a foreign Origin with 403 before the upgrade", async () => {
    const refused = await rawSocket(instance.url, { origin: "https://evil.example" });
    expect(refused.status).toBe(403);
    const own = await rawSocket(instance.url, { origin: `http://localhost:${instance.port}` });
    expect(own.socket).toBeDefined();
    own.socket?.close();
  });

  it("never takes a token from the query string", async () => {
    const url = `${socketUrl(instance.url)}?token=${anna.token}`;
    const socket = new WebSocket(url);
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send(JSON.stringify({ id: 1, method: "query", params: { path: "auth.me" } }));
    const answer = await nextMessage(socket);
    expect((answer.error as { data: { code: string } }).data.code).toBe("UNAUTHORIZED");
    socket.close();
  });
});

describe("limits", () => {
  it("refuses a user's connection beyond MAX_CONNECTIONS_PER_USER with close 4029", async () => {
    const bert = await newAccount(instance.url, "Bert");
    const held = [await connect(instance.url, bert), await connect(instance.url, bert)];
    await Promise.all(held.map((c) => ping(c.api)));
    const { socket } = await rawSocket(instance.url, { connectionParams: true });
    if (!socket) throw new Error("handshake failed");
    const code = closed(socket);
    const answer = nextMessage(socket);
    socket.send(JSON.stringify({ method: "connectionParams", data: { token: bert.token } }));
    expect(((await answer).error as { data: { code: string } }).data.code).toBe("TOO_MANY_REQUESTS");
    expect(await code).toBe(4029);
    // The two admitted connections keep working.
    await Promise.all(held.map((c) => ping(c.api)));
    await Promise.all(held.map((c) => c.close()));
  });

  it("gives back the per-user place of a token connection that hangs up while its token is read", async () => {
    const clara = await newAccount(instance.url, "Clara");
    // Each sends its token and goes at once, racing the server's reading of the token.
    for (let i = 0; i < 20; i++) {
      const { socket } = await rawSocket(instance.url, { connectionParams: true });
      if (!socket) throw new Error("handshake failed");
      const gone = closed(socket);
      socket.send(JSON.stringify({ method: "connectionParams", data: { token: clara.token } }));
      socket.terminate();
      await gone;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Had any of them kept a place, the limit of 2 would refuse one of these.
    const held = [await connect(instance.url, clara), await connect(instance.url, clara)];
    const pongs = await Promise.all(held.map((c) => ping(c.api)));
    expect(pongs).toHaveLength(2);
    await Promise.all(held.map((c) => c.close()));
  });

  it("closes a connection that sends an oversize frame with 1009, and only that one", async () => {
    const bystander = await typed(anna);
    const { socket } = await rawSocket(instance.url);
    if (!socket) throw new Error("handshake failed");
    const code = closed(socket);
    socket.send("x".repeat(20_000));
    expect(await code).toBe(1009);
    expect((await ping(bystander.api)).instanceId).toBe("limits");
  });

  it("answers 503 at the upgrade once the instance holds MAX_CONNECTIONS", async () => {
    const sockets: WebSocket[] = [];
    let refusal: number | undefined;
    for (let i = 0; i < 12 && refusal === undefined; i++) {
      const handshake = await rawSocket(instance.url);
      if (handshake.socket) sockets.push(handshake.socket);
      else refusal = handshake.status;
    }
    expect(refusal).toBe(503);
    for (const socket of sockets) socket.close();
    await Promise.all(sockets.map(closed));
    await new Promise((r) => setTimeout(r, 200));
    // Room again once connections close.
    const again = await rawSocket(instance.url);
    expect(again.socket).toBeDefined();
    again.socket?.close();
  });

  it("rate limits publishing with TOO_MANY_REQUESTS and retryAfter", async () => {
    const carla = await newAccount(instance.url, "Carla");
    const client = await typed(carla);
    for (let i = 0; i < 3; i++) await client.api.realtime.publish.mutate({ text: `allowed ${i}` });
    const error = await client.api.realtime.publish.mutate({ text: "one too many" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    const data = (error as TRPCClientError<AppRouter>).data as { code: string; retryAfter?: number };
    expect(data.code).toBe("TOO_MANY_REQUESTS");
    expect(data.retryAfter).toBeGreaterThan(0);
    expect(data.retryAfter).toBeLessThanOrEqual(30);
    // Someone else is not affected.
    await (await typed(anna)).api.realtime.publish.mutate({ text: "anna is fine" });
  });
});
